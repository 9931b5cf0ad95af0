/**
 * A bounded, encrypted-at-rest cache of recently sent plaintexts, so a sender can answer a retry
 * receipt (`DecryptionErrorMessage`) by re-encrypting the original message over a fresh session —
 * Signal's "message send log". Entries are keyed by recipient address + the message's timestamp (the
 * pair a receipt names), sealed with AES-256-GCM under a key derived from the app's 32-byte key, and
 * bounded by count and age.
 *
 * What the store sees: opaque ids (an HMAC of address and timestamp, so it cannot tell who was
 * written to or when a message was sent), the time each entry was saved, and sealed records whose
 * AAD binds them to their id and save time (a record moved to another id, or given another save
 * time, does not open). Store writes are atomic per call (`ResendStore.apply`), so a failed `put`
 * leaves the store as it was.
 */
import {
  type Address,
  assertBytes,
  brandClass,
  type CryptoProvider,
  DecodeError,
  resolveProvider,
  SecretBytes,
  StoreError,
  toHex,
  utf8,
  validateAddress,
} from '@e2ee-kit/core';
import { stateBrand } from './own-state.js';

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/** An entry as the store lists it. */
export interface ResendStoreEntry {
  readonly id: string;
  /** When the cache saved it (ms since the epoch, the cache's clock). */
  readonly savedAt: number;
}

/** One atomic change: optionally write one record, and remove some ids (absent ids are ignored). */
export interface ResendStoreChange {
  readonly put?: { readonly id: string; readonly savedAt: number; readonly record: Uint8Array };
  readonly remove: readonly string[];
}

/**
 * Where the resend cache keeps its sealed records (a table with columns id, savedAt, record).
 * Contract: `get` returns the bytes last written for `id` (or `undefined`), `list` every stored id
 * with its `savedAt`, and `apply` performs the whole change or none of it, throwing on failure.
 * Keep copies: the cache never reuses the arrays it passes in.
 */
export interface ResendStore {
  get(id: string): Promise<Uint8Array | undefined>;
  list(): Promise<readonly ResendStoreEntry[]>;
  apply(change: ResendStoreChange): Promise<void>;
}

export interface ResendCacheOptions {
  /** The app's 32-byte key for this cache (keep it in the platform keystore, apart from the store). */
  readonly key: Uint8Array;
  readonly store: ResendStore;
  readonly provider?: CryptoProvider;
  /** Clock (ms since the epoch). Default `Date.now`. */
  readonly now?: () => number;
  /** Most entries kept; the oldest go first. Default 1,000. */
  readonly maxEntries?: number;
  /** Entries older than this (or saved more than this ahead of the clock) are neither returned nor kept. Default 24 hours. */
  readonly maxAgeMs?: number;
  /** Largest plaintext accepted by `put` (a `RangeError` above). Default 256 KiB. */
  readonly maxPlaintextLength?: number;
}

/** What `get` returns: a fresh copy of the plaintext sent, with its timestamp and save time. */
export interface CachedMessage {
  readonly plaintext: Uint8Array;
  readonly timestamp: number;
  readonly savedAt: number;
}

export const RESEND_CACHE_DEFAULTS = {
  maxEntries: 1_000,
  maxAgeMs: 24 * 60 * 60 * 1000,
  maxPlaintextLength: 256 * 1024,
} as const;

/** Record layout v1: tag ‖ version ‖ savedAt (u64 BE) ‖ nonce (12) ‖ AES-256-GCM(plaintext) ‖ tag (16). */
const RECORD_TAG = 0x07;
const RECORD_VERSION = 1;
const HEADER_LENGTH = 2 + 8;
const NONCE_LENGTH = 12;
const GCM_TAG_LENGTH = 16;
const KDF_INFO = utf8('e2ee-kit resend cache v1');

export class ResendCache {
  readonly #encKey: Uint8Array;
  readonly #idKey: Uint8Array;
  readonly #store: ResendStore;
  readonly #provider: CryptoProvider;
  readonly #now: () => number;
  readonly #maxEntries: number;
  readonly #maxAgeMs: number;
  readonly #maxPlaintext: number;

  private constructor(keys: Uint8Array, options: ResendCacheOptions, provider: CryptoProvider) {
    // Copies (`slice` is a view of a provider's Buffer, which the wipe below would zero), kept as
    // SecretBytes so they print as `[secret 32 bytes]` wherever they are reached.
    this.#encKey = SecretBytes.copyOf(keys, 0, 32);
    this.#idKey = SecretBytes.copyOf(keys, 32, 64);
    keys.fill(0);
    this.#store = options.store;
    this.#provider = provider;
    this.#now = options.now ?? Date.now;
    this.#maxEntries = positiveInteger(options.maxEntries, RESEND_CACHE_DEFAULTS.maxEntries, 'maxEntries');
    this.#maxAgeMs = positiveInteger(options.maxAgeMs, RESEND_CACHE_DEFAULTS.maxAgeMs, 'maxAgeMs');
    this.#maxPlaintext = positiveInteger(
      options.maxPlaintextLength,
      RESEND_CACHE_DEFAULTS.maxPlaintextLength,
      'maxPlaintextLength',
    );
  }

  /** Derives the cache's encryption and id keys from `options.key` (HKDF-SHA256); keeps no view of it. */
  static async create(options: ResendCacheOptions): Promise<ResendCache> {
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
    assertBytes(options.key, 'resend cache key', 32);
    const store = options.store;
    if (store === null || typeof store !== 'object') throw new TypeError('store must be a ResendStore');
    for (const m of ['get', 'list', 'apply'] as const)
      if (typeof store[m] !== 'function') throw new TypeError(`store.${m} must be a function`);
    if (options.now !== undefined && typeof options.now !== 'function')
      throw new TypeError('now must be a function');
    const provider = resolveProvider(options.provider);
    const keys = await provider.hkdfSha256(new Uint8Array(options.key), undefined, KDF_INFO, 64);
    return new ResendCache(keys, options, provider);
  }

  /** Keeps `plaintext` (as sent to `recipient` with `timestamp`), replacing an entry with the same key. */
  async put(recipient: Address, timestamp: number, plaintext: Uint8Array): Promise<void> {
    const material = idMaterial(recipient, timestamp);
    assertBytes(plaintext, 'plaintext');
    if (plaintext.length > this.#maxPlaintext)
      throw new RangeError('plaintext is too large for the resend cache');
    const now = this.#clock();
    const id = await this.#id(material);
    const listed = await this.#call('list', () => this.#store.list());
    const keep: ResendStoreEntry[] = [];
    const remove: string[] = [];
    for (const e of listed) {
      if (e.id === id || this.#expired(e.savedAt, now)) remove.push(e.id);
      else keep.push(e);
    }
    // Save times strictly increase, so "oldest first" is the order of the puts even within one
    // millisecond (or after the clock was set back). Only live entries count: one saved while the
    // clock ran far ahead would otherwise lend every later entry its far-future save time.
    let savedAt = now;
    for (const e of keep) if (e.savedAt >= savedAt) savedAt = e.savedAt + 1;
    if (keep.length >= this.#maxEntries) {
      const oldestFirst = [...keep].sort((a, b) => a.savedAt - b.savedAt);
      for (const e of oldestFirst.slice(0, keep.length - this.#maxEntries + 1)) remove.push(e.id);
    }

    const header = new Uint8Array(HEADER_LENGTH);
    header[0] = RECORD_TAG;
    header[1] = RECORD_VERSION;
    writeU64(header, 2, savedAt);
    const nonce = this.#provider.randomBytes(NONCE_LENGTH);
    const sealed = await this.#provider.aes256GcmEncrypt(
      this.#encKey,
      nonce,
      plaintext,
      aad(header, material),
    );
    const record = new Uint8Array(HEADER_LENGTH + NONCE_LENGTH + sealed.length);
    record.set(header, 0);
    record.set(nonce, HEADER_LENGTH);
    record.set(sealed, HEADER_LENGTH + NONCE_LENGTH);
    await this.#call('apply', () => this.#store.apply({ put: { id, savedAt, record }, remove }));
  }

  /**
   * The plaintext sent to `recipient` with `timestamp`, or `undefined` if none is kept (or it is older
   * than `maxAgeMs`). A record that does not open under this cache's key is a `VerificationError`
   * (`AEAD_TAG_MISMATCH`), a malformed one a `DecodeError`: treat either as "nothing kept".
   */
  async get(recipient: Address, timestamp: number): Promise<CachedMessage | undefined> {
    const material = idMaterial(recipient, timestamp);
    const now = this.#clock();
    const id = await this.#id(material);
    const record = await this.#call('get', () => this.#store.get(id));
    if (record === undefined) return undefined;
    assertBytes(record, 'stored resend record');
    if (record.length < HEADER_LENGTH + NONCE_LENGTH + GCM_TAG_LENGTH)
      throw new DecodeError('resend record is truncated');
    if (record[0] !== RECORD_TAG) throw new DecodeError('not a resend record');
    if (record[1] !== RECORD_VERSION) throw new DecodeError('unsupported resend record format version');
    const header = record.slice(0, HEADER_LENGTH);
    const savedAt = readU64(header, 2);
    if (this.#expired(savedAt, now)) return undefined;
    const nonce = record.slice(HEADER_LENGTH, HEADER_LENGTH + NONCE_LENGTH);
    const sealed = record.slice(HEADER_LENGTH + NONCE_LENGTH);
    const plaintext = await this.#provider.aes256GcmDecrypt(
      this.#encKey,
      nonce,
      sealed,
      aad(header, material),
    );
    return { plaintext, timestamp, savedAt };
  }

  /** Forgets one entry (e.g. once every device of the recipient confirmed delivery). */
  async remove(recipient: Address, timestamp: number): Promise<void> {
    const id = await this.#id(idMaterial(recipient, timestamp));
    await this.#call('apply', () => this.#store.apply({ remove: [id] }));
  }

  /** Removes every expired entry (one atomic store change); returns how many went. */
  async prune(): Promise<number> {
    const now = this.#clock();
    const listed = await this.#call('list', () => this.#store.list());
    const remove = listed.filter((e) => this.#expired(e.savedAt, now)).map((e) => e.id);
    if (remove.length > 0) await this.#call('apply', () => this.#store.apply({ remove }));
    return remove.length;
  }

  toString(): string {
    return '[ResendCache]';
  }
  [INSPECT](): string {
    return this.toString();
  }

  /**
   * Older than `maxAgeMs`, or saved more than `maxAgeMs` ahead of the clock: the clock was set back
   * (or ran ahead), so its age cannot be known, and keeping it until the clock catches up could keep
   * a plaintext for years.
   */
  #expired(savedAt: number, now: number): boolean {
    return now - savedAt > this.#maxAgeMs || savedAt - now > this.#maxAgeMs;
  }

  #clock(): number {
    const now = this.#now();
    if (!Number.isSafeInteger(now) || now < 0)
      throw new RangeError('clock must return a non-negative integer');
    return now;
  }

  async #id(material: Uint8Array): Promise<string> {
    return toHex(await this.#provider.hmacSha256(this.#idKey, material));
  }

  async #call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw new StoreError(`resend store call ${what} failed`, { cause: err });
    }
  }
}

/** Every copy's caches carry it: another copy's is refused by name, never used (own-state.ts). */
export const RESEND_CACHE = stateBrand('ResendCache');
brandClass(ResendCache, RESEND_CACHE);

/** `len(name) u32 BE ‖ name (UTF-8) ‖ deviceId u8 ‖ timestamp u64 BE`: unambiguous for any name. */
function idMaterial(recipient: Address, timestamp: number): Uint8Array {
  validateAddress(recipient);
  if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp))
    throw new TypeError('timestamp must be a safe integer (ms since the epoch)');
  if (timestamp < 0) throw new RangeError('timestamp must not be negative');
  const name = utf8(recipient.name);
  const out = new Uint8Array(4 + name.length + 1 + 8);
  new DataView(out.buffer).setUint32(0, name.length);
  out.set(name, 4);
  out[4 + name.length] = recipient.deviceId;
  writeU64(out, 5 + name.length, timestamp);
  return out;
}

function aad(header: Uint8Array, material: Uint8Array): Uint8Array {
  const out = new Uint8Array(header.length + material.length);
  out.set(header, 0);
  out.set(material, header.length);
  return out;
}

function writeU64(out: Uint8Array, at: number, value: number): void {
  new DataView(out.buffer, out.byteOffset).setBigUint64(at, BigInt(value));
}

function readU64(bytes: Uint8Array, at: number): number {
  const v = new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new DecodeError('resend record save time is out of range');
  return Number(v);
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1)
    throw new RangeError(`${name} must be a positive integer`);
  return value;
}
