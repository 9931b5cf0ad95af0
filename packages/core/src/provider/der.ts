/**
 * Fixed DER prefixes that wrap a raw 32-byte key into PKCS#8 / SPKI, for APIs that import only those.
 * The constants are marked pure so a bundle that never wraps an SPKI key drops them.
 */
import { concatBytes, constantTimeEqual, copyBytes, fromHex } from '../bytes.js';

const PKCS8_X25519 = /* @__PURE__ */ fromHex('302e020100300506032b656e04220420');
const PKCS8_ED25519 = /* @__PURE__ */ fromHex('302e020100300506032b657004220420');
const SPKI_X25519 = /* @__PURE__ */ fromHex('302a300506032b656e032100');
const SPKI_ED25519 = /* @__PURE__ */ fromHex('302a300506032b6570032100');

export const pkcs8X25519 = (raw: Uint8Array): Uint8Array => concatBytes(PKCS8_X25519, raw);
export const pkcs8Ed25519 = (raw: Uint8Array): Uint8Array => concatBytes(PKCS8_ED25519, raw);
export const spkiX25519 = (raw: Uint8Array): Uint8Array => concatBytes(SPKI_X25519, raw);
export const spkiEd25519 = (raw: Uint8Array): Uint8Array => concatBytes(SPKI_ED25519, raw);

/**
 * The raw 32-byte scalar of an X25519 PKCS#8 key in the fixed form above (a fresh copy). Anything else
 * (attributes, an embedded public key, another algorithm) is refused with a `RangeError`.
 */
export function x25519FromPkcs8(der: Uint8Array): Uint8Array {
  if (
    der.length !== PKCS8_X25519.length + 32 ||
    !constantTimeEqual(der.subarray(0, PKCS8_X25519.length), PKCS8_X25519)
  )
    throw new RangeError('unexpected X25519 PKCS#8 encoding');
  return copyBytes(der, PKCS8_X25519.length);
}
