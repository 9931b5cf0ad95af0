/** The smaller stores over a `Scope`: sender keys and key holders, backup attempts, resend cache, app rows. */

import type { AttemptStore } from '@e2ee-kit/backup-kdf';
import {
  type Address,
  addressToString,
  copyBytes,
  DecodeError,
  fromUtf8,
  StoreError,
  utf8,
  validateAddress,
} from '@e2ee-kit/core';
import type { ResendStore, ResendStoreChange, ResendStoreEntry } from '@e2ee-kit/ratchet';
import type { KeyHolderRecord, SenderKeyRecord, SenderKeyStore } from '@e2ee-kit/sender-keys';
import { sameRow } from './backend.js';
import type { SenderKeyCodecs } from './codecs.js';
import type { KvTransaction } from './kv-store.js';
import type { Scope } from './transaction.js';

function checkKey(key: unknown, name = 'key'): asserts key is string {
  if (typeof key !== 'string') throw new TypeError(`${name} must be a string`);
}

function groupKey(sender: Address, distributionId: string): string {
  validateAddress(sender);
  checkKey(distributionId, 'distributionId');
  return `${addressToString(sender)}\u0000${distributionId}`;
}

export class SenderKeyView implements SenderKeyStore {
  readonly #scope: Scope;
  readonly #codecs: SenderKeyCodecs;

  constructor(scope: Scope, codecs: SenderKeyCodecs) {
    this.#scope = scope;
    this.#codecs = codecs;
  }
  /** A transaction over every view (joins the running one when this view came from a tx). */
  transaction<T>(fn: (tx: KvTransaction) => Promise<T>): Promise<T> {
    return this.#scope.transaction(fn);
  }

  loadSenderKey(sender: Address, distributionId: string): Promise<SenderKeyRecord | undefined> {
    const key = groupKey(sender, distributionId);
    return this.#scope.run(async (buf) => {
      const b = await buf.get('sender_key', key);
      return b === undefined ? undefined : this.#codecs.SenderKeyRecord.deserialize(b);
    });
  }
  storeSenderKey(sender: Address, distributionId: string, record: SenderKeyRecord): Promise<void> {
    const key = groupKey(sender, distributionId);
    const bytes = record.serialize();
    return this.#scope.run(async (buf) => buf.put('sender_key', key, bytes));
  }
  loadKeyHolders(sender: Address, distributionId: string): Promise<KeyHolderRecord | undefined> {
    const key = groupKey(sender, distributionId);
    return this.#scope.run(async (buf) => {
      const b = await buf.get('key_holders', key);
      return b === undefined ? undefined : this.#codecs.KeyHolderRecord.deserialize(b);
    });
  }
  storeKeyHolders(sender: Address, distributionId: string, record: KeyHolderRecord): Promise<void> {
    const key = groupKey(sender, distributionId);
    const bytes = record.serialize();
    return this.#scope.run(async (buf) => buf.put('key_holders', key, bytes));
  }
}

/** Backup-kdf's `AttemptStore` (attempt counters and lockouts, keyed by scope). */
export class AttemptView implements AttemptStore {
  readonly #scope: Scope;
  constructor(scope: Scope) {
    this.#scope = scope;
  }
  /** A transaction over every view (joins the running one when this view came from a tx). */
  transaction<T>(fn: (tx: KvTransaction) => Promise<T>): Promise<T> {
    return this.#scope.transaction(fn);
  }

  get(key: string): Promise<Uint8Array | undefined> {
    checkKey(key);
    return this.#scope.run((buf) => buf.get('attempt', key));
  }
  set(key: string, value: Uint8Array): Promise<void> {
    checkKey(key);
    return this.#scope.run(async (buf) => buf.put('attempt', key, value));
  }
  /**
   * Writes `value` only if the row still holds `expected` (`undefined`: no row), checked again by the
   * database at commit, so tabs and processes sharing the store never lose each other's failures.
   * Inside a caller's transaction the check at commit fails that transaction instead.
   */
  async compareAndSet(key: string, expected: Uint8Array | undefined, value: Uint8Array): Promise<boolean> {
    checkKey(key);
    if (!(value instanceof Uint8Array)) throw new TypeError('value must be a Uint8Array');
    if (expected !== undefined && !(expected instanceof Uint8Array))
      throw new TypeError('expected must be a Uint8Array or undefined');
    // Copied now: both are used after the read's await, when a caller may have reused its buffers.
    const want = expected === undefined ? null : copyBytes(expected);
    const next = copyBytes(value);
    try {
      return await this.#scope.run(async (buf) => {
        if (!sameRow(await buf.get('attempt', key), want)) return false;
        buf.put('attempt', key, next);
        return true;
      });
    } catch (err) {
      // The commit's own check refused it: another context wrote the row after this read.
      if (err instanceof StoreError && !sameRow(await this.get(key), want)) return false;
      throw err;
    }
  }
}

/** The app's own rows, committed with the protocol state when written through a transaction. */
export class AppView {
  readonly #scope: Scope;
  constructor(scope: Scope) {
    this.#scope = scope;
  }
  /** A transaction over every view (joins the running one when this view came from a tx). */
  transaction<T>(fn: (tx: KvTransaction) => Promise<T>): Promise<T> {
    return this.#scope.transaction(fn);
  }

  get(key: string): Promise<Uint8Array | undefined> {
    checkKey(key);
    return this.#scope.run((buf) => buf.get('app', key));
  }
  put(key: string, value: Uint8Array): Promise<void> {
    checkKey(key);
    return this.#scope.run(async (buf) => buf.put('app', key, value));
  }
  delete(key: string): Promise<void> {
    checkKey(key);
    return this.#scope.run(async (buf) => buf.delete('app', key));
  }
}

/*
 * A resend row's value carries its own id and save time, so `list` works when row keys are HMACs:
 * [u16 id length][id utf-8][f64 savedAt big-endian][record].
 */
const MAX_ID_BYTES = 1024;

function encodeResend(id: string, savedAt: number, record: Uint8Array): Uint8Array {
  const idBytes = utf8(id);
  if (idBytes.length > MAX_ID_BYTES) throw new RangeError('resend id too long');
  if (!Number.isFinite(savedAt)) throw new RangeError('savedAt must be a finite number');
  const out = new Uint8Array(2 + idBytes.length + 8 + record.length);
  const view = new DataView(out.buffer);
  view.setUint16(0, idBytes.length);
  out.set(idBytes, 2);
  view.setFloat64(2 + idBytes.length, savedAt);
  out.set(record, 10 + idBytes.length);
  return out;
}

function decodeResend(bytes: Uint8Array): { id: string; savedAt: number; record: Uint8Array } {
  if (bytes.length < 10) throw new DecodeError('resend row is malformed');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getUint16(0);
  if (n > MAX_ID_BYTES || bytes.length < 10 + n) throw new DecodeError('resend row is malformed');
  let id: string;
  try {
    id = fromUtf8(bytes.subarray(2, 2 + n));
  } catch (cause) {
    throw new DecodeError('resend row is malformed', { cause });
  }
  const savedAt = view.getFloat64(2 + n);
  if (!Number.isFinite(savedAt)) throw new DecodeError('resend row is malformed');
  return { id, savedAt, record: copyBytes(bytes, 10 + n) };
}

const resendKeyOf = (bytes: Uint8Array) => decodeResend(bytes).id;

/** Ratchet's `ResendStore` (the sealed retry-receipt cache rows). */
export class ResendView implements ResendStore {
  readonly #scope: Scope;
  constructor(scope: Scope) {
    this.#scope = scope;
  }
  /** A transaction over every view (joins the running one when this view came from a tx). */
  transaction<T>(fn: (tx: KvTransaction) => Promise<T>): Promise<T> {
    return this.#scope.transaction(fn);
  }

  get(id: string): Promise<Uint8Array | undefined> {
    checkKey(id, 'id');
    return this.#scope.run(async (buf) => {
      const b = await buf.get('resend', id);
      if (b === undefined) return undefined;
      // A row copied under another id (plain rows are not bound to their key): not that id's record.
      const row = decodeResend(b);
      if (row.id !== id) throw new DecodeError('stored resend row holds the record of another id');
      return row.record;
    });
  }
  list(): Promise<readonly ResendStoreEntry[]> {
    return this.#scope.run(async (buf) =>
      (await buf.values('resend', resendKeyOf)).map((b) => {
        const { id, savedAt } = decodeResend(b);
        return { id, savedAt };
      }),
    );
  }
  apply(change: ResendStoreChange): Promise<void> {
    if (change === null || typeof change !== 'object' || !Array.isArray(change.remove))
      throw new TypeError('change must be { put?, remove: string[] }');
    const remove = change.remove.slice();
    for (const id of remove) checkKey(id, 'id');
    const put = change.put && {
      id: change.put.id,
      value: encodeResend(change.put.id, change.put.savedAt, change.put.record),
    };
    if (put) checkKey(put.id, 'id');
    return this.#scope.run(async (buf) => {
      for (const id of remove) buf.delete('resend', id);
      if (put) buf.put('resend', put.id, put.value);
    });
  }
}
