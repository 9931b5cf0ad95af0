/**
 * Signal ServiceIds: an ACI is a UUID (`xxxxxxxx-xxxx-…`, lowercase when written), a PNI is `PNI:` + UUID.
 * The fixed-width binary form is a kind byte (0 ACI, 1 PNI) followed by the 16 UUID bytes.
 * Parsing accepts only the 36-character hyphenated form, in any case, as libsignal does.
 */
import { DecodeError } from '@e2ee-kit/core';

export const SERVICE_ID_FIXED_WIDTH_LENGTH = 17;
const PNI_PREFIX = 'PNI:';
const HEX_CODES = '0123456789abcdef';

/** 16 UUID bytes from a hyphenated UUID string, or undefined. */
export function parseUuid(text: string): Uint8Array | undefined {
  if (typeof text !== 'string' || text.length !== 36) return undefined;
  const out = new Uint8Array(16);
  let o = 0;
  for (let i = 0; i < 36; ) {
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (text.charCodeAt(i) !== 0x2d) return undefined;
      i++;
      continue;
    }
    const hi = hexValue(text.charCodeAt(i));
    const lo = hexValue(text.charCodeAt(i + 1));
    if (hi < 0 || lo < 0) return undefined;
    out[o++] = (hi << 4) | lo;
    i += 2;
  }
  return out;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Lowercase hyphenated UUID string of 16 bytes (read from `offset`). */
export function formatUuid(bytes: Uint8Array, offset = 0): string {
  // Character codes, then one flat string: 20 concatenations would leave a tree of string pieces per
  // id (≈ 0.5 KB each until flattened), which a message listing 233,000 recipients multiplies.
  const codes: number[] = [];
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) codes.push(0x2d);
    const b = bytes[offset + i] as number;
    codes.push(HEX_CODES.charCodeAt(b >> 4), HEX_CODES.charCodeAt(b & 15));
  }
  return String.fromCharCode(...codes);
}

/** The 17-byte fixed-width form of a ServiceId string; `RangeError` if it is not one. */
export function serviceIdToFixedWidth(serviceId: string): Uint8Array {
  if (typeof serviceId !== 'string') throw new TypeError('serviceId must be a string');
  const isPni = serviceId.startsWith(PNI_PREFIX);
  const uuid = parseUuid(isPni ? serviceId.slice(PNI_PREFIX.length) : serviceId);
  if (uuid === undefined) throw new RangeError('serviceId must be a UUID (ACI) or PNI: followed by a UUID');
  const out = new Uint8Array(SERVICE_ID_FIXED_WIDTH_LENGTH);
  out[0] = isPni ? 1 : 0;
  out.set(uuid, 1);
  return out;
}

/** The canonical string of a fixed-width ServiceId at `offset`; `DecodeError` for an unknown kind. */
export function serviceIdFromFixedWidth(bytes: Uint8Array, offset: number): string {
  const kind = bytes[offset];
  if (kind === 0) return formatUuid(bytes, offset + 1);
  if (kind === 1) return PNI_PREFIX + formatUuid(bytes, offset + 1);
  throw new DecodeError('unknown ServiceId kind');
}

/** The canonical string (lowercase) of a ServiceId string; `RangeError` if it is not one. */
export function normalizeServiceId(serviceId: string): string {
  return serviceIdFromFixedWidth(serviceIdToFixedWidth(serviceId), 0);
}
