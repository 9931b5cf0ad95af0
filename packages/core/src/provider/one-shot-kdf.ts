/**
 * Synchronous HMAC-SHA256 and HKDF-SHA256 on a one-shot SHA-256, for the node provider's optional
 * `hmacSha256Sync` / `hkdfSha256Sync` (ratchet chain walks: up to 50,000 one-block HMACs/HKDFs for one
 * message) and its short async HMAC/HKDF. No `node:` import here: node.ts passes `crypto.hash` in.
 *
 * `createHmac` costs ~2 µs per call on the benchmark machine, almost all of it object setup; the
 * compression itself is native and takes a few dozen nanoseconds. One-shot `crypto.hash` (Node ≥ 20.12)
 * with a `'binary'` string result costs ~0.3 µs for a two-block input. So short inputs are MACed as
 * RFC 2104 composes HMAC, `H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ m))`, from two one-shot SHA-256 calls over a
 * reused scratch buffer, and HKDF is RFC 5869 composed from that HMAC. Nothing here is a new primitive
 * (SHA-256 is OpenSSL's); the Wycheproof HMAC/HKDF files run through these functions.
 *
 * Anything else — no `crypto.hash`, keys longer than a block, long inputs — goes to one `createHmac`
 * (HMAC) or noble's reused instances (HKDF), same bytes. The scratch is wiped before each function
 * returns; the digests pass through JavaScript strings, which cannot be wiped (as `createHmac`'s
 * Buffers are not wiped either).
 */
/** A one-shot SHA-256 returning a `'binary'` (latin1) string: Node's `crypto.hash`. */
export type OneShotSha256 = (alg: 'sha256', data: Uint8Array, enc: 'binary') => string;

export interface OneShotKdfDeps {
  /** `undefined` where the runtime lacks it: every call then takes the fallbacks. */
  hash: OneShotSha256 | undefined;
  /** HMAC-SHA256 for what the one-shot path does not take (a native object in node). */
  hmacFallback(key: Uint8Array, data: Uint8Array): Uint8Array;
  /** HKDF-SHA256 for what the one-shot path does not take; validates like `hkdfSha256`. */
  hkdfFallback(ikm: Uint8Array, salt: Uint8Array | undefined, info: Uint8Array, length: number): Uint8Array;
  assertBytes(value: unknown, name: string): void;
}

const BLOCK = 64;
/**
 * Messages up to this length take the one-shot path: every ratchet chain step (≤ 64 bytes) and the MAC
 * of a message of up to ~800 bytes of plaintext (both identity keys ‖ the serialized message). One-shot
 * calls over a 330-byte MAC input take ~0.7 µs against ~2 µs for a `createHmac` object (measured on the
 * benchmark machine); the scratch below is 1 KiB.
 */
export const SHORT_MESSAGE = 1024 - BLOCK;

/** `K ⊕ ipad ‖ message` and `K ⊕ opad ‖ inner digest`, reused by every call and wiped after it. */
const inner = new Uint8Array(BLOCK + SHORT_MESSAGE);
const outer = new Uint8Array(BLOCK + 32);
const prk = new Uint8Array(32);

function intoBytes(s: string, out: Uint8Array, at: number, n: number): void {
  for (let i = 0; i < n; i++) out[at + i] = s.charCodeAt(i);
}

/** Writes the pads of `key` (≤ 64 bytes, checked by callers; absent: all-zero) into `inner` and `outer`. */
function setKey(key: Uint8Array | undefined): void {
  inner.fill(0x36, 0, BLOCK);
  outer.fill(0x5c, 0, BLOCK);
  if (key === undefined) return;
  for (let i = 0; i < key.length; i++) {
    const k = key[i] as number;
    inner[i] = k ^ 0x36;
    outer[i] = k ^ 0x5c;
  }
}

/** `inner.subarray(0, end)` for each length, made once: a view per hash call showed up as GC time. */
const innerViews: Uint8Array[] = [];
const innerView = (end: number): Uint8Array => {
  let v = innerViews[end];
  if (v === undefined) innerViews[end] = v = inner.subarray(0, end);
  return v;
};

/** HMAC over `inner[64 .. end)` with the pads in place; writes `n` ≤ 32 bytes of the tag to `out[at..]`. */
function finish(hash: OneShotSha256, end: number, out: Uint8Array, at: number, n: number): void {
  intoBytes(hash('sha256', innerView(end), 'binary'), outer, BLOCK, 32);
  intoBytes(hash('sha256', outer, 'binary'), out, at, n);
}

function wipe(end: number): void {
  inner.fill(0, 0, end);
  outer.fill(0);
}

/**
 * `hmacSha256Sync` / `hkdfSha256Sync` on `deps.hash`. The module's scratch buffers are shared by every
 * pair made here; the functions never call out while using them, so that is safe in one thread.
 */
export function oneShotKdf(deps: OneShotKdfDeps): {
  hmacSha256Sync(key: Uint8Array, data: Uint8Array): Uint8Array;
  hkdfSha256Sync(ikm: Uint8Array, salt: Uint8Array | undefined, info: Uint8Array, length: number): Uint8Array;
} {
  const { hash: oneShot, hmacFallback, hkdfFallback, assertBytes } = deps;
  return { hmacSha256Sync, hkdfSha256Sync };

  function hmacSha256Sync(key: Uint8Array, data: Uint8Array): Uint8Array {
    assertBytes(key, 'key');
    assertBytes(data, 'data');
    // Long inputs: one native object beats both the one-shot composition and noble.
    if (oneShot === undefined || key.length > BLOCK || data.length > SHORT_MESSAGE)
      return hmacFallback(key, data);
    setKey(key);
    inner.set(data, BLOCK);
    const out = new Uint8Array(32);
    finish(oneShot, BLOCK + data.length, out, 0, 32);
    wipe(BLOCK + data.length);
    return out;
  }

  function hkdfSha256Sync(
    ikm: Uint8Array,
    salt: Uint8Array | undefined,
    info: Uint8Array,
    length: number,
  ): Uint8Array {
    if (
      oneShot === undefined ||
      (salt !== undefined && salt.length > BLOCK) ||
      ikm.length > SHORT_MESSAGE ||
      32 + info.length + 1 > SHORT_MESSAGE ||
      !(Number.isSafeInteger(length) && length > 0 && length <= 255 * 32)
    )
      return hkdfFallback(ikm, salt, info, length);
    assertBytes(ikm, 'ikm');
    if (salt !== undefined) assertBytes(salt, 'salt');
    assertBytes(info, 'info');
    // Extract: PRK = HMAC(salt, IKM); an absent salt is 32 zero bytes, i.e. all-zero pads.
    setKey(salt);
    inner.set(ikm, BLOCK);
    finish(oneShot, BLOCK + ikm.length, prk, 0, 32);
    inner.fill(0, BLOCK, BLOCK + ikm.length);
    // Expand: T(n) = HMAC(PRK, T(n−1) ‖ info ‖ n); T(n−1) is read back from the okm written so far.
    setKey(prk);
    const okm = new Uint8Array(length);
    let end = BLOCK;
    for (let n = 1, at = 0; at < length; n++, at += 32) {
      end = BLOCK;
      if (n > 1) {
        // T(n−1) is a full block (at ≥ 32 means the previous block was written whole).
        inner.set(okm.subarray(at - 32, at), BLOCK);
        end += 32;
      }
      inner.set(info, end);
      end += info.length;
      inner[end++] = n;
      finish(oneShot, end, okm, at, Math.min(32, length - at));
    }
    prk.fill(0);
    wipe(Math.max(end, BLOCK + ikm.length));
    return okm;
  }
}
