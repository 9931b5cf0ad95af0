/**
 * Synchronous HMAC-SHA256 and HKDF-SHA256 for the node provider's optional `hmacSha256Sync` /
 * `hkdfSha256Sync` (ratchet chain walks: up to 50,000 one-block HMACs/HKDFs for one message).
 *
 * `createHmac` costs ~2 µs per call on the benchmark machine, almost all of it object setup; the
 * compression itself is native and takes a few dozen nanoseconds. One-shot `crypto.hash` (Node ≥ 20.12)
 * with a `'binary'` string result costs ~0.3 µs for a two-block input. So short inputs are MACed as
 * RFC 2104 composes HMAC, `H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ m))`, from two one-shot SHA-256 calls over a
 * reused scratch buffer, and HKDF is RFC 5869 composed from that HMAC. Nothing here is a new primitive
 * (SHA-256 is OpenSSL's); the Wycheproof HMAC/HKDF files run through these functions.
 *
 * Anything else — no `crypto.hash`, keys longer than a block, long inputs — goes to noble's reused
 * instances (same bytes). The scratch is wiped before each function returns; the digests pass through
 * JavaScript strings, which cannot be wiped (as `createHmac`'s Buffers are not wiped either).
 */
import * as nc from 'node:crypto';
import { assertBytes, nobleProvider } from '@e2ee-kit/core';

// Noble's reused-instance functions (same bytes, same checks) for what the one-shot path does not take.
const nobleHmac = nobleProvider.hmacSha256Sync as NonNullable<typeof nobleProvider.hmacSha256Sync>;
const nobleHkdf = nobleProvider.hkdfSha256Sync as NonNullable<typeof nobleProvider.hkdfSha256Sync>;

const BLOCK = 64;
/** Messages up to this length take the one-shot path (every ratchet chain step is ≤ 64 bytes). */
const SHORT_MESSAGE = 192;

const oneShot = (nc as { hash?: (alg: string, data: Uint8Array, enc: 'binary') => string }).hash;
const scratch = new Uint8Array(BLOCK + SHORT_MESSAGE);
const digest = new Uint8Array(32);

function intoBytes(s: string, out: Uint8Array, at: number): void {
  for (let i = 0; i < 32; i++) out[at + i] = s.charCodeAt(i);
}

/** HMAC(key, m₀ ‖ m₁ ‖ …) into `digest`; caller checked key ≤ 64 bytes and Σ|mᵢ| ≤ SHORT_MESSAGE. */
function hmacInto(hash: NonNullable<typeof oneShot>, key: Uint8Array, parts: readonly Uint8Array[]): void {
  const s = scratch;
  s.fill(0x36, 0, BLOCK);
  for (let i = 0; i < key.length; i++) s[i] = (key[i] as number) ^ 0x36;
  let at = BLOCK;
  for (const p of parts) {
    s.set(p, at);
    at += p.length;
  }
  const inner = hash('sha256', s.subarray(0, at), 'binary');
  s.fill(0x5c, 0, BLOCK);
  for (let i = 0; i < key.length; i++) s[i] = (key[i] as number) ^ 0x5c;
  intoBytes(inner, s, BLOCK);
  intoBytes(hash('sha256', s.subarray(0, BLOCK + 32), 'binary'), digest, 0);
  s.fill(0, 0, Math.max(at, BLOCK + 32));
}

export function nodeHmacSha256Sync(key: Uint8Array, data: Uint8Array): Uint8Array {
  if (oneShot === undefined || key.length > BLOCK || data.length > SHORT_MESSAGE) return nobleHmac(key, data);
  assertBytes(key, 'key');
  assertBytes(data, 'data');
  hmacInto(oneShot, key, [data]);
  const out = digest.slice();
  digest.fill(0);
  return out;
}

const ZERO_SALT = new Uint8Array(32);

export function nodeHkdfSha256Sync(
  ikm: Uint8Array,
  salt: Uint8Array | undefined,
  info: Uint8Array,
  length: number,
): Uint8Array {
  const s = salt ?? ZERO_SALT;
  if (
    oneShot === undefined ||
    s.length > BLOCK ||
    ikm.length > SHORT_MESSAGE ||
    32 + info.length + 1 > SHORT_MESSAGE ||
    !(Number.isSafeInteger(length) && length > 0 && length <= 255 * 32)
  )
    return nobleHkdf(ikm, salt, info, length);
  assertBytes(ikm, 'ikm');
  if (salt !== undefined) assertBytes(salt, 'salt');
  assertBytes(info, 'info');
  hmacInto(oneShot, s, [ikm]);
  const prk = digest.slice();
  const okm = new Uint8Array(length);
  const t = new Uint8Array(32);
  const ctr = new Uint8Array(1);
  for (let n = 1, at = 0; at < length; n++, at += 32) {
    ctr[0] = n;
    hmacInto(oneShot, prk, n === 1 ? [info, ctr] : [t, info, ctr]);
    t.set(digest);
    okm.set(at + 32 <= length ? t : t.subarray(0, length - at), at);
  }
  prk.fill(0);
  t.fill(0);
  digest.fill(0);
  return okm;
}
