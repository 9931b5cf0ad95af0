/**
 * HMAC-SHA256 and HKDF-SHA256 for short inputs, driving noble's SHA-256 compression block by block.
 *
 * A ratchet chain walk is one short HMAC or HKDF per step, and a forged message may ask for 25,000
 * message-chain and 25,000 SPQR-chain steps before its MAC can be checked (≈ 250,000 compressions).
 * Through noble's hash objects (`update` / `digestInto`, even on reused instances, see sha2-reuse.ts)
 * each compression carries about as much bookkeeping again: a `DataView` per digest, buffer copies,
 * padding logic, `get()` arrays, clone/destroy. Here the whole message (key pad, data, SHA-256 padding
 * and length) is laid out once in a scratch buffer, key pads and the outer hash's block are built as
 * words, and each 64-byte block goes straight to noble's compression (`process`), the state passed as
 * eight numbers.
 *
 * Nothing here is a new primitive: the compression is @noble/hashes' own; SHA-256 padding is FIPS
 * 180-4 §5.1.1, HMAC is RFC 2104 (`H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ m))`, only keys of at most one block
 * take this path) and HKDF is RFC 5869. The RFC 4231 / RFC 5869 vectors, the Wycheproof HMAC/HKDF
 * files and a differential test against @noble/hashes over every length this path takes run through
 * these functions.
 *
 * Synchronous and never calling out while the scratch is in use, so sharing it is safe in
 * JavaScript's single thread. Key-dependent state (message buffer, words, midstates, noble's message
 * schedule and registers) is wiped before each function returns.
 */
import { _SHA256 } from '@noble/hashes/sha2.js';

/** The members of noble's SHA-256 class used here (public in JavaScript, `protected` in its types). */
interface Sha256Engine {
  A: number;
  B: number;
  C: number;
  D: number;
  E: number;
  F: number;
  G: number;
  H: number;
  process(view: DataView, offset: number): void;
  roundClean(): void;
}

const BLOCK = 64;
/** Blocks of message scratch: a ratchet message's MAC input (identities and the message) fits. */
const MAX_BLOCKS = 16;
/** Longest message (data, or T(n−1) ‖ info ‖ n) taken here: with padding it fits in the scratch. */
export const SHORT_INPUT = MAX_BLOCKS * BLOCK - 9;

// FIPS 180-4 §5.3.3: the initial hash value.
const IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

interface Scratch {
  engine: Sha256Engine;
  /** The message being hashed, padded; its blocks are compressed in place. */
  msg: Uint8Array;
  /** `msg[0 .. dirty)` may hold message bytes: what `wipe` clears. */
  dirty: number;
  view: DataView;
  /** One block built from words (`w`): key pads and the outer hash. */
  blk: Uint8Array;
  blkView: DataView;
  /** Backs w, kw, ki, ko and st. */
  secret: Int32Array;
  /** A block as 16 big-endian words. */
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
  const blk = new Uint8Array(BLOCK);
  // Everything key-dependent in one array, so that one `fill` wipes it.
  const secret = new Int32Array(16 + 16 + 3 * 8);
  const s: Scratch = {
    engine: new _SHA256() as unknown as Sha256Engine,
    msg,
    dirty: 0,
    view: new DataView(msg.buffer),
    blk,
    blkView: new DataView(blk.buffer),
    secret,
    w: secret.subarray(0, 16),
    kw: secret.subarray(16, 32),
    ki: secret.subarray(32, 40),
    ko: secret.subarray(40, 48),
    st: secret.subarray(48, 56),
    zi: new Int32Array(8),
    zo: new Int32Array(8),
    iv: Int32Array.from(IV),
  };
  keyPads(s, s.zi, s.zo); // kw is all zero: the absent salt
  scratch = s;
  return s;
}

/** `st ← compress(st, block at view[o .. o + 64))`, on noble's compression. */
function run(s: Scratch, st: Int32Array, view: DataView, o: number): void {
  const e = s.engine;
  e.A = st[0] as number;
  e.B = st[1] as number;
  e.C = st[2] as number;
  e.D = st[3] as number;
  e.E = st[4] as number;
  e.F = st[5] as number;
  e.G = st[6] as number;
  e.H = st[7] as number;
  e.process(view, o);
  st[0] = e.A;
  st[1] = e.B;
  st[2] = e.C;
  st[3] = e.D;
  st[4] = e.E;
  st[5] = e.F;
  st[6] = e.G;
  st[7] = e.H;
}

/** `st ← compress(st, msg[o .. o + 64))`. */
function compress(s: Scratch, st: Int32Array, o: number): void {
  run(s, st, s.view, o);
}

/** `st ← compress(st, W₀ … W₁₅)` with the block's words in `w`. */
function compressW(s: Scratch, st: Int32Array): void {
  const v = s.blkView;
  const w = s.w;
  for (let j = 0; j < 16; j++) v.setInt32(4 * j, w[j] as number);
  run(s, st, v, 0);
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
  s.blk.fill(0);
  const e = s.engine;
  e.A = e.B = e.C = e.D = e.E = e.F = e.G = e.H = 0;
  e.roundClean();
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
