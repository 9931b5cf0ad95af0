/** Distribution ids are UUIDs: canonical lowercase strings in the API, 16 bytes (RFC 4122 order) on the wire. */
import { assertBytes, type CryptoProvider, resolveProvider } from '@e2ee-kit/core';

const HYPHENATED = /^[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}$/i;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** The 8-4-4-4-12 part of one of libsignal's four forms, or undefined. */
function hyphenatedPart(id: string): string | undefined {
  // The longest form is `urn:uuid:` + 36: longer strings are refused before any scan.
  if (id.length > 45) return undefined;
  if (/^[0-9a-f]{32}$/i.test(id)) return id.replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-');
  const inner =
    id[0] === '{' && id.endsWith('}')
      ? id.slice(1, -1)
      : id.startsWith('urn:uuid:') // lower case only, as libsignal
        ? id.slice(9)
        : id;
  return HYPHENATED.test(inner) ? inner : undefined;
}

/**
 * Validates a distribution id and returns its canonical (lowercase, hyphenated) form, the one the
 * store, the lock and every returned message use. It takes what libsignal-client's `uuid.parse`
 * takes (the Rust `uuid` crate's forms): hyphenated, `{hyphenated}`, `urn:uuid:hyphenated` or 32
 * hex digits, in either case; so an id an app already hands to libsignal works here and names the
 * same group. Any 16 bytes are a valid distribution id on the wire, so no version or variant is
 * required.
 */
export function normalizeDistributionId(id: unknown): string {
  if (typeof id !== 'string') throw new TypeError('distributionId must be a UUID string');
  const part = hyphenatedPart(id);
  if (part === undefined) throw new RangeError('distributionId must be a UUID');
  return part.toLowerCase();
}

export function distributionIdToBytes(id: string): Uint8Array {
  const hex = normalizeDistributionId(id).replace(/-/g, '');
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function distributionIdFromBytes(bytes: Uint8Array): string {
  assertBytes(bytes, 'distribution id', 16);
  let s = '';
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) s += '-';
    s += HEX[bytes[i] as number];
  }
  return s;
}

/** A fresh random (version 4) distribution id: one per group or send target, chosen by the sender. */
export function generateDistributionId(options: { provider?: CryptoProvider } = {}): string {
  const b = resolveProvider(options.provider).randomBytes(16);
  b[6] = ((b[6] as number) & 0x0f) | 0x40;
  b[8] = ((b[8] as number) & 0x3f) | 0x80;
  return distributionIdFromBytes(b);
}
