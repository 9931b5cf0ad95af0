/**
 * AES-256-CBC with PKCS#7 padding (SP 800-38A §6.2, RFC 5652 §6.3) on noble's AES block function.
 *
 * A ratchet message encrypts and decrypts about 200 bytes. Through `cbc(key, iv)` (@noble/ciphers'
 * wrapped cipher) the 13 block encryptions cost about as much again in per-call bookkeeping: the
 * wrapper's argument checks and cipher object, `Uint32Array` views, copies of misaligned inputs (a
 * ciphertext inside a received message always is), a padding scratch block, `clean` lists. Here the
 * key is expanded once by noble (`expandKeyLE` / `expandKeyDecLE`), each block goes straight to
 * noble's `encrypt` / `decrypt`, words are read from and written to the caller's offsets directly
 * (little-endian byte lanes, as noble's block function expects on every platform), and the output is
 * allocated once at its final length.
 *
 * Nothing here is a new primitive: the AES rounds and key schedule are @noble/ciphers' own (its
 * `unsafe` exports, the same functions its `cbc` calls); CBC chaining and PKCS#7 padding are the
 * standard modes around them, checked the same way as noble's `cbc` (the padding check has a fixed
 * shape, 16 tail bytes whatever the padding length). The Wycheproof AES-CBC-PKCS5 file and a
 * differential test against `cbc` over lengths 0–80 run through these functions. Callers validate
 * the arguments (32-byte key, 16-byte IV, whole blocks to decrypt).
 */
import { unsafe } from '@noble/ciphers/aes.js';

/** Little-endian word at `b[o .. o + 4)` (the IV: 16 bytes, not worth a `DataView`). */
function le32(b: Uint8Array, o: number): number {
  return (
    (b[o] as number) |
    ((b[o + 1] as number) << 8) |
    ((b[o + 2] as number) << 16) |
    ((b[o + 3] as number) << 24)
  );
}

/** Word `j` (0–3) of the last, padded plaintext block: the `tail` bytes from `at`, then the pad byte. */
function padWord(pt: Uint8Array, at: number, tail: number, pad: number, j: number): number {
  let w = 0;
  for (let i = 3; i >= 0; i--) {
    const k = 4 * j + i;
    w = (w << 8) | (k < tail ? (pt[at + k] as number) : pad);
  }
  return w;
}

/** `AES-256-CBC-Encrypt(key, iv, PKCS7(plaintext))`. */
export function cbcEncrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const n = plaintext.length;
  const full = n & ~15;
  const out = new Uint8Array(full + 16);
  const ov = new DataView(out.buffer);
  const pv = new DataView(plaintext.buffer, plaintext.byteOffset, n);
  const xk = unsafe.expandKeyLE(key);
  let s0 = le32(iv, 0);
  let s1 = le32(iv, 4);
  let s2 = le32(iv, 8);
  let s3 = le32(iv, 12);
  for (let o = 0; o < full; o += 16) {
    ({ s0, s1, s2, s3 } = unsafe.encrypt(
      xk,
      s0 ^ pv.getInt32(o, true),
      s1 ^ pv.getInt32(o + 4, true),
      s2 ^ pv.getInt32(o + 8, true),
      s3 ^ pv.getInt32(o + 12, true),
    ));
    ov.setInt32(o, s0, true);
    ov.setInt32(o + 4, s1, true);
    ov.setInt32(o + 8, s2, true);
    ov.setInt32(o + 12, s3, true);
  }
  const tail = n - full;
  const pad = 16 - tail;
  ({ s0, s1, s2, s3 } = unsafe.encrypt(
    xk,
    s0 ^ padWord(plaintext, full, tail, pad, 0),
    s1 ^ padWord(plaintext, full, tail, pad, 1),
    s2 ^ padWord(plaintext, full, tail, pad, 2),
    s3 ^ padWord(plaintext, full, tail, pad, 3),
  ));
  ov.setInt32(full, s0, true);
  ov.setInt32(full + 4, s1, true);
  ov.setInt32(full + 8, s2, true);
  ov.setInt32(full + 12, s3, true);
  xk.fill(0);
  return out;
}

/**
 * `AES-256-CBC-Decrypt(key, iv, ciphertext)` without its PKCS#7 padding; `undefined` if the padding
 * is invalid (nothing of the decryption is kept then). `ciphertext` is a non-empty whole number of
 * blocks.
 */
export function cbcDecrypt(key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array): Uint8Array | undefined {
  const n = ciphertext.length;
  const out = new Uint8Array(n);
  const ov = new DataView(out.buffer);
  const cv = new DataView(ciphertext.buffer, ciphertext.byteOffset, n);
  const xk = unsafe.expandKeyDecLE(key);
  let p0 = le32(iv, 0);
  let p1 = le32(iv, 4);
  let p2 = le32(iv, 8);
  let p3 = le32(iv, 12);
  for (let o = 0; o < n; o += 16) {
    const c0 = cv.getInt32(o, true);
    const c1 = cv.getInt32(o + 4, true);
    const c2 = cv.getInt32(o + 8, true);
    const c3 = cv.getInt32(o + 12, true);
    const { s0, s1, s2, s3 } = unsafe.decrypt(xk, c0, c1, c2, c3);
    ov.setInt32(o, s0 ^ p0, true);
    ov.setInt32(o + 4, s1 ^ p1, true);
    ov.setInt32(o + 8, s2 ^ p2, true);
    ov.setInt32(o + 12, s3 ^ p3, true);
    p0 = c0;
    p1 = c1;
    p2 = c2;
    p3 = c3;
  }
  xk.fill(0);
  // PKCS#7: 1 ≤ pad ≤ 16 and the last `pad` bytes all equal it; a fixed-shape check, as noble's.
  const pad = out[n - 1] as number;
  let valid = (((pad - 1) >>> 31) ^ 1) & (((16 - pad) >>> 31) ^ 1);
  for (let i = 0; i < 16; i++) {
    const checked = (i - pad) >>> 31;
    const eq = ((out[n - 1 - i] as number) ^ pad) === 0 ? 1 : 0;
    valid &= eq | (checked ^ 1);
  }
  if (!valid) {
    out.fill(0);
    return undefined;
  }
  return out.subarray(0, n - pad);
}
