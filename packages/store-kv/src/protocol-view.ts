/** `ProtocolStore` (identity and trust, sessions, every pre-key kind, pre-key state) over a `Scope`. */
import {
  type Address,
  addressToString,
  DecodeError,
  type Direction,
  E2eeError,
  type IdentityBackend,
  type IdentityChange,
  type IdentityChangeEvent,
  type IdentityKeyPair,
  KeyValueIdentityKeyStore,
  type KeyValueIdentityKeyStoreOptions,
  type LockManager,
  type PublicKey,
  type SaveIdentityOptions,
  StoreError,
  type TrustPolicy,
  toHex,
  validateAddress,
} from '@e2ee-kit/core';
import type {
  KyberPreKeyRecord,
  PreKeyRecord,
  PreKeyStateRecord,
  ProtocolStore,
  SessionRecord,
  SignedPreKeyRecord,
} from '@e2ee-kit/ratchet';
import type { Table } from './backend.js';
import type { RatchetCodecs } from './codecs.js';
import type { KvTransaction } from './kv-store.js';
import type { Scope, TxBuffer } from './transaction.js';

export interface IdentityOptions {
  readonly identityKeyPair: IdentityKeyPair;
  readonly registrationId: number;
  readonly policy?: TrustPolicy;
}

function checkId(id: unknown): asserts id is number {
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 0xffffffff)
    throw new RangeError('pre-key id must be an integer in 0..2^32-1');
}

/** A pre-key record (each names its own id). */
type IdRecord = { readonly id: number; serialize(): Uint8Array };

/**
 * A pre-key record read under another id was copied there (an edited database, a bad migration):
 * used as the key it is not, a one-time Kyber key under a last-resort key's id would consume that
 * row, and a PreKey message would be answered with another key's secret. Refused, not returned.
 */
function ownId<R extends { readonly id: number }>(table: Table, id: number, record: R): R {
  if (record.id !== id) throw new DecodeError(`stored ${table} row holds the record of another id`);
  return record;
}

const asciiBytes = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
/** Longest `kyber_used` key: two u32 ids, two colons and a hex public key (33 bytes), with room. */
const MAX_USED_KEY = 128;
/** A longer value (an edited row) names no triple: spread into fromCharCode it overflowed the stack. */
const asciiString = (b: Uint8Array): string => (b.length > MAX_USED_KEY ? '' : String.fromCharCode(...b));

/** ratchet's `MAX_LAST_RESORT_USES` (the store imports no feature package at run time; a test compares). */
const MAX_LAST_RESORT_USES = 10_000;
/**
 * The row counting a last-resort key's triples: `n:<kyberId>`, its value `n:<kyberId>:<count>` (the
 * `n` names no triple to `forgetUsedTriples`). It caches a count of rows: when it is missing (a key's
 * first use, rows from releases without it, a partial restore) or malformed (an edited file), the
 * rows are counted again — reading it as 0 let each edit add another MAX_LAST_RESORT_USES rows.
 */
const countKey = (kyber: number) => `n:${kyber}`;
async function usedCount(buf: TxBuffer, kyber: number): Promise<number> {
  const v = await buf.get('kyber_used', countKey(kyber));
  const parts = v === undefined ? [] : asciiString(v).split(':');
  const n = Number(parts[2]);
  if (parts.length === 3 && parts[1] === String(kyber) && Number.isSafeInteger(n) && n > 0) return n;
  return countUsedTriples(buf, kyber);
}
/** Rows naming `kyber` (bounded: the table holds at most MAX_LAST_RESORT_USES rows per key). */
async function countUsedTriples(buf: TxBuffer, kyber: number): Promise<number> {
  let n = 0;
  for (const value of await buf.values('kyber_used', usedKeyOf)) {
    const [k, signed] = asciiString(value).split(':', 2);
    if (k === String(kyber) && signed !== undefined && Number.isInteger(Number(signed))) n++;
  }
  return n;
}
/** The row key a `kyber_used` value names: a triple is its own key, a count `n:<kyberId>:<n>` names `n:<kyberId>`. */
function usedKeyOf(value: Uint8Array): string {
  const s = asciiString(value);
  return s.startsWith('n:') ? s.slice(0, s.lastIndexOf(':')) : s;
}
function putUsedCount(buf: TxBuffer, kyber: number, n: number): void {
  if (n === 0) buf.delete('kyber_used', countKey(kyber));
  else buf.put('kyber_used', countKey(kyber), asciiBytes(`${countKey(kyber)}:${n}`));
}

/**
 * Deletes the `kyber_used` rows (`kyberId:signedId:baseKey`, the key also stored as the value) whose
 * ids `match`, and counts again the last-resort keys that lost rows. Rows written before values
 * carried the key are empty and stay: nothing names them.
 */
async function forgetUsedTriples(buf: TxBuffer, match: (kyber: number, signed: number) => boolean) {
  const kept = new Map<number, number>();
  const touched = new Set<number>();
  for (const value of await buf.values('kyber_used', usedKeyOf)) {
    const key = asciiString(value);
    const [kyber, signed] = key.split(':', 2).map(Number);
    if (!Number.isInteger(kyber) || !Number.isInteger(signed)) continue;
    if (match(kyber as number, signed as number)) {
      buf.delete('kyber_used', key);
      touched.add(kyber as number);
    } else kept.set(kyber as number, (kept.get(kyber as number) ?? 0) + 1);
  }
  for (const kyber of touched) {
    // Read first: the recount is then compare-and-set too, not overwriting a racing context's mark.
    await usedCount(buf, kyber);
    putUsedCount(buf, kyber, kept.get(kyber) ?? 0);
  }
}

function identityOver(buf: TxBuffer, options: IdentityOptions): KeyValueIdentityKeyStore {
  const backend: IdentityBackend = {
    get: (key) => buf.get('identity', key),
    set: async (key, value) => buf.put('identity', key, value),
    delete: async (key) => buf.delete('identity', key),
  };
  const o: KeyValueIdentityKeyStoreOptions = {
    identityKeyPair: options.identityKeyPair,
    registrationId: options.registrationId,
    backend,
  };
  if (options.policy !== undefined) o.policy = options.policy;
  // No `onIdentityChange` here: it would fire inside the transaction, also for a change that then
  // rolls back. The view records replacements on its scope, which reports them after the commit.
  return new KeyValueIdentityKeyStore(o);
}

/** A full `ProtocolStore`; `transaction` runs several calls as one commit (joins an outer one). */
export class ProtocolView implements ProtocolStore {
  readonly #scope: Scope;
  readonly #codecs: RatchetCodecs;
  readonly #identity: IdentityOptions;
  /** Shared by every view of one store: identity read-modify-writes per address never interleave. */
  readonly #locks: LockManager;

  constructor(scope: Scope, codecs: RatchetCodecs, identity: IdentityOptions, locks: LockManager) {
    this.#scope = scope;
    this.#codecs = codecs;
    this.#identity = identity;
    this.#locks = locks;
  }

  /**
   * Runs `fn` with a transaction (all views) whose writes commit together when `fn` resolves, none
   * if it throws. On a view taken from a transaction, joins that transaction.
   */
  transaction<T>(fn: (tx: KvTransaction) => Promise<T>): Promise<T> {
    return this.#scope.transaction(fn);
  }

  #run<T>(fn: (buf: TxBuffer) => Promise<T>): Promise<T> {
    return this.#scope.run(fn);
  }

  #read<R>(table: Table, key: string, codec: { deserialize(b: Uint8Array): R }): Promise<R | null> {
    return this.#run(async (buf) => {
      const b = await buf.get(table, key);
      return b === undefined ? null : codec.deserialize(b);
    });
  }

  #write(table: Table, key: string, record: { serialize(): Uint8Array }, id?: number): Promise<void> {
    if (typeof record?.serialize !== 'function') throw new TypeError('record must have serialize()');
    // Written under another id, the row is one every later read refuses (`ownId`): refused now.
    if (id !== undefined && (record as Partial<IdRecord>).id !== id)
      throw new RangeError(`${table} record has another id than the one it is saved under`);
    const bytes = record.serialize();
    return this.#run(async (buf) => buf.put(table, key, bytes));
  }

  #readPreKey<R extends { readonly id: number }>(
    table: Table,
    id: number,
    codec: { deserialize(b: Uint8Array): R },
  ): Promise<R | null> {
    return this.#run(async (buf) => {
      const b = await buf.get(table, String(id));
      return b === undefined ? null : ownId(table, id, codec.deserialize(b));
    });
  }

  #remove(table: Table, key: string): Promise<void> {
    return this.#run(async (buf) => buf.delete(table, key));
  }

  #identityOp<T>(
    address: Address,
    fn: (identity: KeyValueIdentityKeyStore, buf: TxBuffer) => Promise<T>,
  ): Promise<T> {
    validateAddress(address);
    return this.#locks.run(`identity:${addressToString(address)}`, () =>
      this.#run((buf) => fn(identityOver(buf, this.#identity), buf)),
    );
  }

  // Identity and trust: core's KeyValueIdentityKeyStore over this scope's rows.
  async getIdentityKeyPair(): Promise<IdentityKeyPair> {
    return this.#identity.identityKeyPair;
  }
  async getLocalRegistrationId(): Promise<number> {
    return this.#identity.registrationId;
  }
  saveIdentity(
    address: Address,
    identityKey: PublicKey,
    options?: SaveIdentityOptions,
  ): Promise<IdentityChange> {
    return this.#identityOp(address, async (id, buf) => {
      const change = await id.saveIdentity(address, identityKey);
      // Recorded while the identity lock is held: the order of reports is the order of the saves.
      // On the buffer that holds the save, not the scope: on a top-level view the scope reports at
      // once, and the app heard of a key whose commit then failed (never stored).
      if (change.kind === 'replaced' && options?.deferNotification !== true)
        buf.identityChanged(Object.freeze({ address, previous: change.previous, current: change.current }));
      return change;
    });
  }
  /**
   * Reports a replacement saved with `deferNotification`: the ciphers call it once their own work is
   * done. `onIdentityChange` hears of it when the transaction of this view has committed — now, for a
   * top-level view or a finished transaction; inside a running one, at its commit (never if it fails).
   */
  notifyIdentityChange(event: IdentityChangeEvent): void {
    this.#scope.identityChanged(event);
  }
  isTrustedIdentity(address: Address, identityKey: PublicKey, direction: Direction): Promise<boolean> {
    return this.#identityOp(address, (id) => id.isTrustedIdentity(address, identityKey, direction));
  }
  getIdentity(address: Address): Promise<PublicKey | null> {
    return this.#identityOp(address, (id) => id.getIdentity(address));
  }
  removeIdentity(address: Address): Promise<void> {
    return this.#identityOp(address, (id) => id.removeIdentity(address));
  }
  /** Under the `blockOnChange` policy: the user verified `identityKey` for `address`. */
  approve(address: Address, identityKey: PublicKey): Promise<void> {
    return this.#identityOp(address, (id) => id.approve(address, identityKey));
  }

  // Sessions
  getSession(address: Address): Promise<SessionRecord | null> {
    validateAddress(address);
    return this.#read('session', addressToString(address), this.#codecs.SessionRecord);
  }
  saveSession(address: Address, record: SessionRecord): Promise<void> {
    validateAddress(address);
    return this.#write('session', addressToString(address), record);
  }
  removeSession(address: Address): Promise<void> {
    validateAddress(address);
    return this.#remove('session', addressToString(address));
  }

  // One-time pre-keys
  getPreKey(id: number): Promise<PreKeyRecord | null> {
    checkId(id);
    return this.#readPreKey('prekey', id, this.#codecs.PreKeyRecord);
  }
  savePreKey(id: number, record: PreKeyRecord): Promise<void> {
    checkId(id);
    return this.#write('prekey', String(id), record, id);
  }
  /** Consumes the key once: when two processes race to remove it, only one commit succeeds. */
  removePreKey(id: number): Promise<void> {
    checkId(id);
    return this.#run(async (buf) => {
      if ((await buf.get('prekey', String(id))) !== undefined) buf.consume('prekey', String(id));
    });
  }

  // Signed pre-keys
  getSignedPreKey(id: number): Promise<SignedPreKeyRecord | null> {
    checkId(id);
    return this.#readPreKey('signed_prekey', id, this.#codecs.SignedPreKeyRecord);
  }
  saveSignedPreKey(id: number, record: SignedPreKeyRecord): Promise<void> {
    checkId(id);
    return this.#write('signed_prekey', String(id), record, id);
  }
  /** Also forgets the last-resort triples naming this signed pre-key: they can never match again. */
  removeSignedPreKey(id: number): Promise<void> {
    checkId(id);
    return this.#run(async (buf) => {
      buf.delete('signed_prekey', String(id));
      await forgetUsedTriples(buf, (_kyber, signed) => signed === id);
    });
  }

  // Kyber pre-keys
  getKyberPreKey(id: number): Promise<KyberPreKeyRecord | null> {
    checkId(id);
    return this.#readPreKey('kyber_prekey', id, this.#codecs.KyberPreKeyRecord);
  }
  saveKyberPreKey(id: number, record: KyberPreKeyRecord): Promise<void> {
    checkId(id);
    return this.#write('kyber_prekey', String(id), record, id);
  }
  /** Also forgets the last-resort triples naming this Kyber pre-key: they can never match again. */
  removeKyberPreKey(id: number): Promise<void> {
    checkId(id);
    return this.#run(async (buf) => {
      buf.delete('kyber_prekey', String(id));
      await forgetUsedTriples(buf, (kyber) => kyber === id);
      putUsedCount(buf, id, 0);
    });
  }
  /**
   * A one-time key is deleted. A last-resort key stays, and the (Kyber id, signed id, base key) triple
   * is remembered: the same triple again throws, which rolls that decrypt back (replay detection).
   */
  markKyberPreKeyUsed(kyberPreKeyId: number, signedPreKeyId: number, baseKey: PublicKey): Promise<void> {
    checkId(kyberPreKeyId);
    checkId(signedPreKeyId);
    const base = toHex(baseKey.serialize());
    return this.#run(async (buf) => {
      const b = await buf.get('kyber_prekey', String(kyberPreKeyId));
      if (b === undefined) return;
      // Consume-once / create-only: checked again at commit, where a racing process may have won.
      if (!ownId('kyber_prekey', kyberPreKeyId, this.#codecs.KyberPreKeyRecord.deserialize(b)).lastResort) {
        buf.consume('kyber_prekey', String(kyberPreKeyId));
        return;
      }
      const key = `${kyberPreKeyId}:${signedPreKeyId}:${base}`;
      if ((await buf.get('kyber_used', key)) !== undefined)
        throw new StoreError('last-resort Kyber pre-key reused with the same base key');
      // Bounded (anyone with the public bundle adds a row per message): refuse, never forget a row.
      const uses = await usedCount(buf, kyberPreKeyId);
      if (uses >= MAX_LAST_RESORT_USES)
        throw new E2eeError(
          'LAST_RESORT_KYBER_PREKEY_EXHAUSTED',
          `last-resort Kyber pre-key ${kyberPreKeyId} has ${uses} uses: rotate it`,
        );
      // The value is the row's own key: pruning lists rows whose stored keys may be HMACs (sealed).
      buf.create('kyber_used', key, asciiBytes(key));
      putUsedCount(buf, kyberPreKeyId, uses + 1);
    });
  }

  // Pre-key manager state
  getPreKeyState(): Promise<PreKeyStateRecord | null> {
    return this.#read('prekey_state', 'state', this.#codecs.PreKeyStateRecord);
  }
  savePreKeyState(record: PreKeyStateRecord): Promise<void> {
    return this.#write('prekey_state', 'state', record);
  }
}
