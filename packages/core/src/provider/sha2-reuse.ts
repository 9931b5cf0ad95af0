/**
 * SHA-256 / SHA-512, HMAC and HKDF over @noble/hashes without a fresh hash object per call.
 *
 * The protocols hash many short inputs: a ratchet message costs about 20 HMAC-SHA256 calls of one or
 * two blocks, a safety number 10,400 one-block SHA-512 calls. For inputs that short, @noble/hashes'
 * one-shot functions spend more time constructing hash objects (state, block buffer, `DataView`,
 * the HMAC key schedule) than compressing. Here each hash function keeps a few long-lived instances
 * and resets them by cloning a pristine instance into them (`_cloneInto`, the same mechanism noble's
 * own HMAC and HKDF use), so a call allocates only its output.
 *
 * Nothing here is a new primitive: the compression function is noble's; HMAC is RFC 2104
 * (`H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ m))`, keys longer than a block hashed first) and HKDF is RFC 5869,
 * composed from those instances exactly as `@noble/hashes/hmac` and `/hkdf` compose them. The
 * Wycheproof HMAC and HKDF files and a differential test against noble's one-shot functions check it.
 *
 * The functions are synchronous and never call out while a scratch instance is in use, so sharing the
 * instances is safe in JavaScript's single thread. Key-dependent state (pads, HMAC midstates, PRK,
 * T(n)) is wiped before each function returns, as noble's own HMAC/HKDF do.
 */
import { _SHA256, _SHA512 } from '@noble/hashes/sha2.js';

/** The part of a noble SHA-2 instance used here (all public in @noble/hashes 1.x and 2.x). */
interface Sha2Instance {
  update(data: Uint8Array): Sha2Instance;
  digestInto(out: Uint8Array): void;
  destroy(): void;
  _cloneInto(to?: Sha2Instance): Sha2Instance;
}

/**
 * Plain hashing on one reused instance: what a hash-only bundle (safety numbers) needs, without the
 * HMAC/HKDF state below.
 */
class ReusableHash {
  readonly #iv: Sha2Instance;
  readonly #a: Sha2Instance;
  /** See `ReusableSha2`'s `#out`: a long-lived digest target, returned as a `slice()`. */
  readonly #out: Uint8Array;

  constructor(create: () => Sha2Instance, outputLen: number) {
    this.#iv = create();
    this.#a = create();
    this.#out = new Uint8Array(outputLen);
  }

  /** `H(p₀ ‖ p₁ ‖ …)`. Callers validate the parts. */
  hash(parts: readonly Uint8Array[]): Uint8Array {
    const h = this.#iv._cloneInto(this.#a);
    for (let i = 0; i < parts.length; i++) h.update(parts[i] as Uint8Array);
    const out = this.#out;
    h.digestInto(out);
    h.destroy();
    const result = out.slice();
    out.fill(0);
    return result;
  }
}

class ReusableSha2 {
  readonly #iv: Sha2Instance;
  readonly #blockLen: number;
  readonly #outputLen: number;
  /**
   * Scratch instances (`_cloneInto(x)` resets `x` in place and returns it): a and b for HMAC's inner
   * and outer hash, kI and kO for HKDF's keyed PRK midstates.
   */
  readonly #a: Sha2Instance;
  readonly #b: Sha2Instance;
  readonly #kI: Sha2Instance;
  readonly #kO: Sha2Instance;
  readonly #pad: Uint8Array;
  readonly #t: Uint8Array;
  /**
   * Digests land here and are returned as a `slice()`: `digestInto` builds a `DataView` over its target,
   * and a fresh small `Uint8Array`'s backing buffer is created lazily, on that first `.buffer` access —
   * which costs as much as a SHA-512 compression. A long-lived scratch has its buffer already.
   */
  readonly #out: Uint8Array;
  readonly #prk: Uint8Array;
  /** HMAC midstates of HKDF's default salt (`outputLen` zero bytes): public constants, computed once. */
  readonly #zeroI: Sha2Instance;
  readonly #zeroO: Sha2Instance;
  readonly #ctr = new Uint8Array(1);

  constructor(create: () => Sha2Instance, blockLen: number, outputLen: number) {
    this.#iv = create();
    this.#a = create();
    this.#b = create();
    this.#kI = create();
    this.#kO = create();
    this.#blockLen = blockLen;
    this.#outputLen = outputLen;
    this.#pad = new Uint8Array(blockLen);
    this.#t = new Uint8Array(outputLen);
    this.#out = new Uint8Array(outputLen);
    this.#prk = new Uint8Array(outputLen);
    this.#zeroI = create();
    this.#zeroO = create();
    this.#keyed(new Uint8Array(outputLen), this.#zeroI, this.#zeroO);
  }

  /** Sets `i`/`o` to the midstates after `K ⊕ ipad` / `K ⊕ opad` (RFC 2104). */
  #keyed(key: Uint8Array, i: Sha2Instance, o: Sha2Instance): void {
    const pad = this.#pad;
    pad.fill(0);
    if (key.length > this.#blockLen) {
      this.#iv._cloneInto(i).update(key).digestInto(pad);
    } else pad.set(key);
    for (let j = 0; j < pad.length; j++) pad[j] = (pad[j] as number) ^ 0x36;
    this.#iv._cloneInto(i).update(pad);
    for (let j = 0; j < pad.length; j++) pad[j] = (pad[j] as number) ^ (0x36 ^ 0x5c);
    this.#iv._cloneInto(o).update(pad);
    pad.fill(0);
  }

  /** HMAC(key, data) into `out` (≥ outputLen bytes); no key: the zero salt's midstates. Uses a/b; leaves them wiped. */
  #hmacInto(key: Uint8Array | undefined, data: Uint8Array, out: Uint8Array): void {
    const i = this.#a;
    const o = this.#b;
    if (key === undefined) {
      this.#zeroI._cloneInto(i);
      this.#zeroO._cloneInto(o);
    } else this.#keyed(key, i, o);
    const t = this.#t;
    i.update(data).digestInto(t);
    o.update(t).digestInto(out);
    i.destroy();
    o.destroy();
    t.fill(0);
  }

  hmac(key: Uint8Array, data: Uint8Array): Uint8Array {
    const out = this.#out;
    this.#hmacInto(key, data, out);
    const result = out.slice();
    out.fill(0);
    return result;
  }

  /** RFC 5869 HKDF; an absent salt is `outputLen` zero bytes. `0 < length ≤ 255 · outputLen`, checked by callers. */
  hkdf(ikm: Uint8Array, salt: Uint8Array | undefined, info: Uint8Array, length: number): Uint8Array {
    const olen = this.#outputLen;
    const prk = this.#prk;
    this.#hmacInto(salt, ikm, prk);
    const kI = this.#kI;
    const kO = this.#kO;
    this.#keyed(prk, kI, kO);
    prk.fill(0);
    const blocks = Math.ceil(length / olen);
    const okm = new Uint8Array(length);
    const t = this.#t;
    const ctr = this.#ctr;
    for (let n = 1; n <= blocks; n++) {
      ctr[0] = n;
      const w = kI._cloneInto(this.#a);
      if (n > 1) w.update(t);
      w.update(info).update(ctr).digestInto(t);
      kO._cloneInto(w).update(t).digestInto(t);
      const at = (n - 1) * olen;
      okm.set(at + olen <= length ? t : t.subarray(0, length - at), at);
    }
    this.#a.destroy();
    kI.destroy();
    kO.destroy();
    t.fill(0);
    ctr[0] = 0;
    return okm;
  }
}

// The hash classes themselves (what `sha256.create()` / `sha512.create()` construct): going through
// `sha256` / `sha512` would also bundle noble's `createHasher` option checking, unused here.
const create256 = (): Sha2Instance => new _SHA256() as unknown as Sha2Instance;
const create512 = (): Sha2Instance => new _SHA512() as unknown as Sha2Instance;

/**
 * Module-wide reusable SHA-256 and SHA-512 (see the file comment): plain hashes, and HMAC/HKDF. Pure,
 * so a bundle keeps only the ones it uses.
 */
export const sha256Hasher = /* @__PURE__ */ new ReusableHash(create256, 32);
export const sha512Hasher = /* @__PURE__ */ new ReusableHash(create512, 64);
export const reusableSha256 = /* @__PURE__ */ new ReusableSha2(create256, 64, 32);
export const reusableSha512 = /* @__PURE__ */ new ReusableSha2(create512, 128, 64);
