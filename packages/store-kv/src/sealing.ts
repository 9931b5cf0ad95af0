/**
 * Optional at-rest encryption. With an app key, every value is sealed with AES-256-GCM under a key
 * derived by HKDF, the AAD binding it to its table and row key (a value copied to another row does not
 * open), and every row key except the format marker is replaced by an HMAC, so the database shows
 * neither addresses nor pre-key ids — only table names, row counts, value sizes and write times.
 * Without a key the codec is the identity and row keys are readable.
 */
import {
  assertBytes,
  type CryptoProvider,
  concatBytes,
  copyBytes,
  DecodeError,
  resolveProvider,
  toHex,
  utf8,
} from '@e2ee-kit/core';
import type { Table } from './backend.js';

/** Format of a sealed value: this byte, a 12-byte nonce, then ciphertext ‖ 16-byte tag. */
const SEALED_V1 = 0x01;
const NONCE_LENGTH = 12;
const TAG_LENGTH = 16;
/** How much longer a sealed value is than its plaintext (format byte, nonce, tag). */
export const SEALED_OVERHEAD = 1 + NONCE_LENGTH + TAG_LENGTH;
const INSPECT = Symbol.for('nodejs.util.inspect.custom');

export interface RowCodec {
  readonly sealed: boolean;
  /** Bytes a stored value has beyond its plaintext. */
  readonly overhead: number;
  /** The row key the database sees for a logical key. */
  rowKey(table: Table, key: string): Promise<string>;
  seal(table: Table, rowKey: string, value: Uint8Array): Promise<Uint8Array>;
  open(table: Table, rowKey: string, stored: Uint8Array): Promise<Uint8Array>;
}

export const plainCodec: RowCodec = Object.freeze({
  sealed: false,
  overhead: 0,
  rowKey: async (_table: Table, key: string) => key,
  seal: async (_t: Table, _k: string, value: Uint8Array) => copyBytes(value),
  // A copy too: the caller's value must not be the bytes a transaction keeps for its compare-and-set.
  open: async (_t: Table, _k: string, stored: Uint8Array) => copyBytes(stored),
});

function aad(table: Table, rowKey: string): Uint8Array {
  return utf8(`e2ee-kit store v1\u0000${table}\u0000${rowKey}`);
}

class SealingCodec implements RowCodec {
  readonly sealed = true;
  readonly overhead = SEALED_OVERHEAD;
  readonly #provider: CryptoProvider;
  readonly #valueKey: Uint8Array;
  readonly #rowKeyKey: Uint8Array;

  constructor(provider: CryptoProvider, valueKey: Uint8Array, rowKeyKey: Uint8Array) {
    this.#provider = provider;
    this.#valueKey = valueKey;
    this.#rowKeyKey = rowKeyKey;
  }

  async rowKey(table: Table, key: string): Promise<string> {
    return toHex(await this.#provider.hmacSha256(this.#rowKeyKey, utf8(`${table}\u0000${key}`)));
  }

  async seal(table: Table, rowKey: string, value: Uint8Array): Promise<Uint8Array> {
    const nonce = this.#provider.randomBytes(NONCE_LENGTH);
    const ct = await this.#provider.aes256GcmEncrypt(this.#valueKey, nonce, value, aad(table, rowKey));
    return concatBytes(Uint8Array.of(SEALED_V1), nonce, ct);
  }

  async open(table: Table, rowKey: string, stored: Uint8Array): Promise<Uint8Array> {
    if (stored.length < 1 + NONCE_LENGTH + TAG_LENGTH || stored[0] !== SEALED_V1)
      throw new DecodeError(`sealed ${table} value is malformed`);
    const nonce = stored.slice(1, 1 + NONCE_LENGTH);
    const ct = stored.slice(1 + NONCE_LENGTH);
    // A wrong key, a tampered value or a value moved to another row: VerificationError from the provider.
    const out = await this.#provider.aes256GcmDecrypt(this.#valueKey, nonce, ct, aad(table, rowKey));
    // A provider may answer with a view of shared memory (a Buffer from Node's pool, whose `.buffer`
    // shows its neighbours): the caller gets its own copy, and the plaintext left there is wiped.
    const value = copyBytes(out);
    out.fill(0);
    return value;
  }

  toString(): string {
    return 'SealingCodec(aes-256-gcm)';
  }
  [INSPECT](): string {
    return this.toString();
  }
  toJSON(): string {
    return this.toString();
  }
}

/** Derives the value and row-key keys from the app's 32-byte key (which is not kept). */
export async function sealingCodec(appKey: Uint8Array, provider?: CryptoProvider): Promise<RowCodec> {
  assertBytes(appKey, 'encryptionKey', 32);
  const p = resolveProvider(provider);
  // A real copy (a Buffer's slice() is a view): wiping it must never zero the caller's key.
  const copy = copyBytes(appKey);
  const valueKey = await p.hkdfSha256(copy, undefined, utf8('e2ee-kit store v1 values'), 32);
  const rowKeyKey = await p.hkdfSha256(copy, undefined, utf8('e2ee-kit store v1 row keys'), 32);
  copy.fill(0);
  return new SealingCodec(p, valueKey, rowKeyKey);
}
