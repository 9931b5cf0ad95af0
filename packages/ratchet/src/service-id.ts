/**
 * libsignal's ServiceId string form (hyphenated UUID for an ACI, `PNI:` + UUID for a PNI) and its
 * 17-byte fixed-width binary, as used by the `addresses` field (spec §4.3) and self-session detection.
 */
import type { Address } from '@e2ee-kit/core';

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** 17 bytes (`0x00` ACI / `0x01` PNI ‖ 16 UUID bytes), or `undefined` if `name` is not a ServiceId. */
export function serviceIdBinary(name: string): Uint8Array | undefined {
  let kind = 0;
  let uuid = name;
  if (name.startsWith('PNI:')) {
    kind = 1;
    uuid = name.slice(4);
  }
  if (uuid.length !== 36 || !UUID.test(uuid)) return undefined;
  const hex = uuid.replace(/-/g, '');
  const out = new Uint8Array(17);
  out[0] = kind;
  for (let i = 0; i < 16; i++) out[i + 1] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** `SID(sender) ‖ device ‖ SID(recipient) ‖ device` (36 bytes), or `undefined` unless both are ServiceIds. */
export function encodeAddresses(sender: Address, recipient: Address): Uint8Array | undefined {
  const s = serviceIdBinary(sender.name);
  const r = serviceIdBinary(recipient.name);
  if (!s || !r) return undefined;
  const out = new Uint8Array(36);
  out.set(s, 0);
  out[17] = sender.deviceId;
  out.set(r, 18);
  out[35] = recipient.deviceId;
  return out;
}

/** libsignal's `is_same_account` minus the identity comparison: both names are the same ServiceId. */
export function sameServiceId(a: Address, b: Address): boolean {
  const x = serviceIdBinary(a.name);
  const y = serviceIdBinary(b.name);
  if (!x || !y) return false;
  for (let i = 0; i < 17; i++) if (x[i] !== y[i]) return false;
  return true;
}
