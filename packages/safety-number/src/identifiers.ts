/** Stable identifiers as Signal feeds them to the hash. libsignal itself accepts any bytes. */
import { utf8 } from '@e2ee-kit/core';

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const E164 = /^\+[1-9][0-9]{1,14}$/;

/**
 * Version 2 identifier: the 16 raw bytes of an ACI UUID in string order
 * (`"60954b63-247d-…"` → `60 95 4b 63 24 7d …`), as Signal-Desktop's `uuidToBytes(aci)`.
 */
export function aciIdentifier(uuid: string): Uint8Array {
  if (typeof uuid !== 'string') throw new TypeError('uuid must be a string');
  if (!UUID.test(uuid)) throw new RangeError('uuid must look like xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx');
  const hex = uuid.replace(/-/g, '');
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Version 1 identifier: the E.164 phone number as UTF-8 (`"+14152222222"`, 12 bytes). */
export function e164Identifier(phoneNumber: string): Uint8Array {
  if (typeof phoneNumber !== 'string') throw new TypeError('phone number must be a string');
  if (!E164.test(phoneNumber)) throw new RangeError('phone number must be E.164: "+" then 2 to 15 digits');
  return utf8(phoneNumber);
}
