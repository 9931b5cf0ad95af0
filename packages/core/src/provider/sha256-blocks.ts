/**
 * HMAC-SHA256 and HKDF-SHA256 for short inputs, on a SHA-256 compression of their own.
 *
 * A ratchet chain walk is one short HMAC or HKDF per step, and a forged message may ask for 25,000
 * message-chain and 25,000 SPQR-chain steps before its MAC can be checked (≈ 250,000 compressions).
 * Through noble's hash objects (`update` / `digestInto`, even on reused instances, see sha2-reuse.ts)
 * each compression carries about as much bookkeeping again (a `DataView` per digest, buffer copies,
 * padding logic, `get()` arrays, clone/destroy), and noble's compression itself (`DataView` reads,
 * one round per loop turn) measured 0.40 µs per block on the benchmark machine against 0.27 µs for
 * the one below (eight rounds per loop turn with rotating register names, no register shuffle). Here
 * the whole message (key pad, data, SHA-256 padding and length) is laid out once in a scratch buffer
 * and compressed block by block.
 *
 * SHA-256 is FIPS 180-4 (§5.1.1 padding, §6.2.2 compression, written from the standard); HMAC is
 * RFC 2104 (`H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ m))`, only keys of at most one block take this path) and
 * HKDF is RFC 5869. The NIST example vectors, the Wycheproof HMAC/HKDF files and a differential test
 * against @noble/hashes over every length this path takes run through these functions.
 *
 * Synchronous and never calling out while the scratch is in use, so sharing it is safe in
 * JavaScript's single thread. Key-dependent state (message buffer, schedule, midstates) is wiped
 * before each function returns.
 */

const BLOCK = 64;
/** Blocks of message scratch: a ratchet message's MAC input (identities and the message) fits. */
const MAX_BLOCKS = 16;
/** Longest message (data, or T(n−1) ‖ info ‖ n) taken here: with padding it fits in the scratch. */
export const SHORT_INPUT = MAX_BLOCKS * BLOCK - 9;

// FIPS 180-4 §5.3.3 (initial hash value) and §4.2.2 (round constants).
const IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
// biome-ignore format: the table
const K_VALUES = [
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

interface Scratch {
  /** The message being hashed, padded; its blocks are compressed in place. */
  msg: Uint8Array;
  /** `msg[0 .. dirty)` may hold message bytes: what `wipe` clears. */
  dirty: number;
  view: DataView;
  /** Backs w, kw, ki, ko and st. */
  secret: Int32Array;
  /** Round constants and the message schedule W₀ … W₆₃. */
  k: Int32Array;
  w: Int32Array;
  /** The HMAC key as 16 big-endian words (zero-padded). */
  kw: Int32Array;
  /** Midstates: HMAC inner/outer after the key's pads; zero-salt inner/outer (public constants). */
  ki: Int32Array;
  ko: Int32Array;
  zi: Int32Array;
  zo: Int32Array;
  /** Running state of the hash being computed. */
  st: Int32Array;
  iv: Int32Array;
}

let scratch: Scratch | undefined;

/** Built on first use: nothing is allocated at module load. */
function getScratch(): Scratch {
  if (scratch) return scratch;
  const msg = new Uint8Array(MAX_BLOCKS * BLOCK);
  // Everything key-dependent in one array, so that one `fill` wipes it.
  const secret = new Int32Array(64 + 16 + 3 * 8);
  const s: Scratch = {
    msg,
    dirty: 0,
    view: new DataView(msg.buffer),
    secret,
    k: Int32Array.from(K_VALUES),
    w: secret.subarray(0, 64),
    kw: secret.subarray(64, 80),
    ki: secret.subarray(80, 88),
    ko: secret.subarray(88, 96),
    st: secret.subarray(96, 104),
    zi: new Int32Array(8),
    zo: new Int32Array(8),
    iv: Int32Array.from(IV),
  };
  keyPads(s, s.zi, s.zo); // kw is all zero: the absent salt
  scratch = s;
  return s;
}

/** `st ← compress(st, msg[o .. o + 64))`. */
function compress(s: Scratch, st: Int32Array, o: number): void {
  const m = s.msg;
  const w = s.w;
  for (let i = 0; i < 16; i++, o += 4)
    w[i] =
      ((m[o] as number) << 24) |
      ((m[o + 1] as number) << 16) |
      ((m[o + 2] as number) << 8) |
      (m[o + 3] as number);
  compressW(s, st);
}

/** `st ← compress(st, W₀ … W₁₅)` with the block's words already in `w` (FIPS 180-4 §6.2.2). */
function compressW(s: Scratch, st: Int32Array): void {
  const w = s.w;
  const k = s.k;
  for (let i = 16; i < 64; i++) {
    const x = w[i - 15] as number;
    const y = w[i - 2] as number;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[i] = (s1 + (w[i - 7] as number) + s0 + (w[i - 16] as number)) | 0;
  }
  let a = st[0] as number;
  let b = st[1] as number;
  let c = st[2] as number;
  let d = st[3] as number;
  let e = st[4] as number;
  let f = st[5] as number;
  let g = st[6] as number;
  let h = st[7] as number;
  // Eight rounds per turn: instead of shifting a…h down each round, the names rotate. Each round is
  // T1 = h + Σ1(e) + Ch(e,f,g) + K + W; d += T1; h = T1 + Σ0(a) + Maj(a,b,c), then the next round
  // reads (h,a,b,c,d,e,f,g) as its (a,b,c,d,e,f,g,h).
  for (let i = 0; i < 64; i += 8) {
    let t = (h + S1(e) + (g ^ (e & (f ^ g))) + (k[i] as number) + (w[i] as number)) | 0;
    d = (d + t) | 0;
    h = (t + S0(a) + ((a & b) | (c & (a | b)))) | 0;
    t = (g + S1(d) + (f ^ (d & (e ^ f))) + (k[i + 1] as number) + (w[i + 1] as number)) | 0;
    c = (c + t) | 0;
    g = (t + S0(h) + ((h & a) | (b & (h | a)))) | 0;
    t = (f + S1(c) + (e ^ (c & (d ^ e))) + (k[i + 2] as number) + (w[i + 2] as number)) | 0;
    b = (b + t) | 0;
    f = (t + S0(g) + ((g & h) | (a & (g | h)))) | 0;
    t = (e + S1(b) + (d ^ (b & (c ^ d))) + (k[i + 3] as number) + (w[i + 3] as number)) | 0;
    a = (a + t) | 0;
    e = (t + S0(f) + ((f & g) | (h & (f | g)))) | 0;
    t = (d + S1(a) + (c ^ (a & (b ^ c))) + (k[i + 4] as number) + (w[i + 4] as number)) | 0;
    h = (h + t) | 0;
    d = (t + S0(e) + ((e & f) | (g & (e | f)))) | 0;
    t = (c + S1(h) + (b ^ (h & (a ^ b))) + (k[i + 5] as number) + (w[i + 5] as number)) | 0;
    g = (g + t) | 0;
    c = (t + S0(d) + ((d & e) | (f & (d | e)))) | 0;
    t = (b + S1(g) + (a ^ (g & (h ^ a))) + (k[i + 6] as number) + (w[i + 6] as number)) | 0;
    f = (f + t) | 0;
    b = (t + S0(c) + ((c & d) | (e & (c | d)))) | 0;
    t = (a + S1(f) + (h ^ (f & (g ^ h))) + (k[i + 7] as number) + (w[i + 7] as number)) | 0;
    e = (e + t) | 0;
    a = (t + S0(b) + ((b & c) | (d & (b | c)))) | 0;
  }
  st[0] = ((st[0] as number) + a) | 0;
  st[1] = ((st[1] as number) + b) | 0;
  st[2] = ((st[2] as number) + c) | 0;
  st[3] = ((st[3] as number) + d) | 0;
  st[4] = ((st[4] as number) + e) | 0;
  st[5] = ((st[5] as number) + f) | 0;
  st[6] = ((st[6] as number) + g) | 0;
  st[7] = ((st[7] as number) + h) | 0;
}

/** Σ0 and Σ1 of FIPS 180-4 §4.1.2 (small enough for V8 to inline). */
function S0(x: number): number {
  return ((x >>> 2) | (x << 30)) ^ ((x >>> 13) | (x << 19)) ^ ((x >>> 22) | (x << 10));
}
function S1(x: number): number {
  return ((x >>> 6) | (x << 26)) ^ ((x >>> 11) | (x << 21)) ^ ((x >>> 25) | (x << 7));
}

/**
 * `i`/`o` ← the midstates after `K ⊕ ipad` / `K ⊕ opad`, the key (≤ 64 bytes, zero-padded to a block)
 * given as 16 big-endian words in `kw`.
 */
function keyPads(s: Scratch, i: Int32Array, o: Int32Array): void {
  const w = s.w;
  const kw = s.kw;
  for (let j = 0; j < 16; j++) w[j] = (kw[j] as number) ^ 0x36363636;
  copy8(i, s.iv);
  compressW(s, i);
  for (let j = 0; j < 16; j++) w[j] = (kw[j] as number) ^ 0x5c5c5c5c;
  copy8(o, s.iv);
  compressW(s, o);
}

/** `kw` ← `key` (≤ 64 bytes) as big-endian words, zero-padded to a block. */
function keyWords(s: Scratch, key: Uint8Array): void {
  const kw = s.kw;
  kw.fill(0);
  const n = key.length;
  const whole = n & ~3;
  let j = 0;
  for (; j < whole; j += 4)
    kw[j >> 2] =
      ((key[j] as number) << 24) |
      ((key[j + 1] as number) << 16) |
      ((key[j + 2] as number) << 8) |
      (key[j + 3] as number);
  for (; j < n; j++) kw[j >> 2] = (kw[j >> 2] as number) | ((key[j] as number) << (24 - 8 * (j & 3)));
}

/**
 * Pads the `len` message bytes already in `msg` (after one block of key pad, hence the `+ 64` in the
 * bit length) and compresses them into `st`, which starts as `from`.
 */
function finishFrom(s: Scratch, from: Int32Array, len: number): void {
  const m = s.msg;
  const st = s.st;
  copy8(st, from);
  m[len] = 0x80;
  const end = Math.ceil((len + 9) / BLOCK) * BLOCK;
  m.fill(0, len + 1, end - 4);
  s.view.setUint32(end - 4, (len + BLOCK) * 8);
  if (end > s.dirty) s.dirty = end;
  for (let at = 0; at < end; at += BLOCK) compress(s, st, at);
}

/**
 * `HMAC(key, msg[0 .. len))` given the key's midstates; the 32-byte tag is left as words in `st`. The
 * outer hash is one block, `inner digest ‖ 0x80 ‖ 0… ‖ bit length 768`, built as words.
 */
function hmacWords(s: Scratch, ki: Int32Array, ko: Int32Array, len: number): void {
  finishFrom(s, ki, len);
  const w = s.w;
  const st = s.st;
  for (let j = 0; j < 8; j++) w[j] = st[j] as number;
  w[8] = 0x80000000 | 0;
  for (let j = 9; j < 15; j++) w[j] = 0;
  w[15] = (BLOCK + 32) * 8;
  copy8(st, ko);
  compressW(s, st);
}

/** Writes the first `n` ≤ 32 bytes of `st` (big-endian words) to `out[at ..]`. */
function wordsOut(st: Int32Array, out: Uint8Array, at: number, n: number): void {
  const whole = n & ~3;
  let j = 0;
  for (; j < whole; j += 4, at += 4) {
    const x = st[j >> 2] as number;
    out[at] = x >>> 24;
    out[at + 1] = x >>> 16;
    out[at + 2] = x >>> 8;
    out[at + 3] = x;
  }
  for (; j < n; j++, at++) out[at] = (st[j >> 2] as number) >>> (24 - 8 * (j & 3));
}

function wipe(s: Scratch): void {
  s.msg.fill(0, 0, s.dirty);
  s.dirty = 0;
  s.secret.fill(0);
}

/** `to ← from` for two 8-word states (a loop: cheaper than `TypedArray#set` at this size). */
function copy8(to: Int32Array, from: Int32Array): void {
  for (let j = 0; j < 8; j++) to[j] = from[j] as number;
}

/** True if `hmacShort` takes these lengths (key of at most a block, short data). */
export function hmacIsShort(keyLength: number, dataLength: number): boolean {
  return keyLength <= BLOCK && dataLength <= SHORT_INPUT;
}

/** HMAC-SHA256 for `hmacIsShort` inputs; callers validate the arguments. */
export function hmacShort(key: Uint8Array, data: Uint8Array): Uint8Array {
  const s = getScratch();
  keyWords(s, key);
  keyPads(s, s.ki, s.ko);
  s.msg.set(data, 0);
  hmacWords(s, s.ki, s.ko, data.length);
  const out = new Uint8Array(32);
  wordsOut(s.st, out, 0, 32);
  wipe(s);
  return out;
}

/** True if `hkdfShort` takes these lengths. */
export function hkdfIsShort(ikmLength: number, saltLength: number, infoLength: number): boolean {
  return saltLength <= BLOCK && ikmLength <= SHORT_INPUT && 32 + infoLength + 1 <= SHORT_INPUT;
}

/** HKDF-SHA256 for `hkdfIsShort` inputs, `0 < length ≤ 255 · 32`; an absent salt is 32 zero bytes. */
export function hkdfShort(
  ikm: Uint8Array,
  salt: Uint8Array | undefined,
  info: Uint8Array,
  length: number,
): Uint8Array {
  const s = getScratch();
  const m = s.msg;
  // Extract: PRK = HMAC(salt, IKM), from the zero salt's precomputed midstates when there is none.
  let ki = s.zi;
  let ko = s.zo;
  if (salt !== undefined) {
    keyWords(s, salt);
    keyPads(s, s.ki, s.ko);
    ki = s.ki;
    ko = s.ko;
  }
  m.set(ikm, 0);
  hmacWords(s, ki, ko, ikm.length);
  // The PRK (32 bytes) keys the expansion: its words, zero-padded.
  s.kw.set(s.st);
  s.kw.fill(0, 8);
  keyPads(s, s.ki, s.ko);
  const v = s.view;
  // Expand: T(n) = HMAC(PRK, T(n−1) ‖ info ‖ n); T(n−1) is the previous tag, still in `st`.
  const okm = new Uint8Array(length);
  for (let n = 1, at = 0; at < length; n++, at += 32) {
    let len = 0;
    if (n > 1) {
      for (let j = 0; j < 8; j++) v.setInt32(4 * j, s.st[j] as number);
      len = 32;
    }
    m.set(info, len);
    len += info.length;
    m[len++] = n;
    hmacWords(s, s.ki, s.ko, len);
    wordsOut(s.st, okm, at, Math.min(32, length - at));
  }
  wipe(s);
  return okm;
}
