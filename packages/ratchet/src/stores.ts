/**
 * Storage interfaces. All are async and keyed by `Address` (sessions) or by pre-key id. Implement them
 * over any database: the records are opaque objects with `serialize()` / `static deserialize()`, so a
 * store only ever has to keep bytes. `@e2ee-kit/ratchet/testing` has an in-memory implementation and a
 * conformance suite to run against yours.
 *
 * Contract (what `SessionCipher` relies on):
 * - `get*` returns what the last successful `save*` stored for that key (a fresh object is fine), or
 *   `null` if nothing is stored; it never returns a record for another key.
 * - A `save*` / `remove*` either takes effect or throws. A throw is reported as `StoreError` (with
 *   your error as `cause`) and the operation's earlier writes are rolled back by the library.
 * - Methods may be called concurrently for different addresses; calls for one address are serialized
 *   by the library (a per-address mutex), so stores need no locking of their own for sessions.
 */
import type { Address, IdentityKeyStore, PublicKey } from '@e2ee-kit/core';
import type { KyberPreKeyRecord } from './records/kyber-prekey-record.js';
import type { PreKeyRecord } from './records/prekey-record.js';
import type { PreKeyStateRecord } from './records/prekey-state-record.js';
import type { SessionRecord } from './records/session-record.js';
import type { SignedPreKeyRecord } from './records/signed-prekey-record.js';

export interface SessionStore {
  getSession(address: Address): Promise<SessionRecord | null>;
  saveSession(address: Address, record: SessionRecord): Promise<void>;
  /** Deletes the record (used to roll back the creation of a first session; apps may call it to reset). */
  removeSession(address: Address): Promise<void>;
}

export interface PreKeyStore {
  getPreKey(id: number): Promise<PreKeyRecord | null>;
  savePreKey(id: number, record: PreKeyRecord): Promise<void>;
  removePreKey(id: number): Promise<void>;
}

export interface SignedPreKeyStore {
  getSignedPreKey(id: number): Promise<SignedPreKeyRecord | null>;
  saveSignedPreKey(id: number, record: SignedPreKeyRecord): Promise<void>;
  removeSignedPreKey(id: number): Promise<void>;
}

export interface KyberPreKeyStore {
  getKyberPreKey(id: number): Promise<KyberPreKeyRecord | null>;
  saveKyberPreKey(id: number, record: KyberPreKeyRecord): Promise<void>;
  removeKyberPreKey(id: number): Promise<void>;
  /**
   * Called after a PreKey message using Kyber pre-key `kyberPreKeyId` was decrypted. Delete a one-time
   * Kyber pre-key here; for a last-resort key (`record.lastResort`) keep it and, if you want replay
   * detection, remember `(kyberPreKeyId, signedPreKeyId, baseKey)` and throw when the same triple
   * comes again. It is the last write of a decrypt, so throwing here rolls the whole decrypt back.
   * Forget a key's triples when `removeKyberPreKey` or `removeSignedPreKey` removes a key they name:
   * they can never match again, and anyone can add one per PreKey message on the last-resort key.
   * Keep at most `MAX_LAST_RESORT_USES` triples per last-resort key: refuse a new triple beyond that
   * with `E2eeError` code `LAST_RESORT_KYBER_PREKEY_EXHAUSTED` (forgetting old ones would let their
   * messages be replayed; the app rotates the key instead).
   */
  markKyberPreKeyUsed(kyberPreKeyId: number, signedPreKeyId: number, baseKey: PublicKey): Promise<void>;
}

/** Where `PreKeyManager` (and `createPreKeyBundle`) keeps the next ids and the rotation schedule. */
export interface PreKeyStateStore {
  getPreKeyState(): Promise<PreKeyStateRecord | null>;
  savePreKeyState(record: PreKeyStateRecord): Promise<void>;
}

/**
 * Everything `SessionCipher` needs. `removeIdentity` is optional: when present, a failed decrypt of a
 * first-contact PreKey message also removes the identity it saved (otherwise that key stays stored).
 */
export interface ProtocolStore
  extends IdentityKeyStore,
    SessionStore,
    PreKeyStore,
    SignedPreKeyStore,
    KyberPreKeyStore,
    PreKeyStateStore {
  removeIdentity?(address: Address): Promise<void>;
  /**
   * Optional, the atomic-delivery capability: runs `fn` with a transaction whose `protocol` is this
   * store's view of it (reads see the transaction's own writes) and commits every write made through
   * the transaction — the library's and the app's — at once when `fn` resolves, none when it throws.
   * With it, `SessionCipher.decrypt` (and `PreKeyManager`) write only inside one transaction; without
   * it they write one call at a time and undo on failure (best effort). `@e2ee-kit/store-sqlite`,
   * `store-indexeddb` and `store-kv` implement it.
   */
  transaction?<T>(fn: (tx: ProtocolTransaction) => Promise<T>): Promise<T>;
}

/** What a transactional store's `transaction` hands its callback: at least the protocol view. */
export interface ProtocolTransaction {
  readonly protocol: ProtocolStore;
}

/**
 * The transaction object a store hands the app's `deliver` callback (for `KvStore`s: `KvTransaction`,
 * with `tx.app`); for a store without `transaction`, `{ protocol: store }`.
 */
export type TransactionOf<S> = S extends {
  transaction(fn: (tx: infer Tx) => Promise<unknown>): Promise<unknown>;
}
  ? Tx
  : { readonly protocol: S };

/** The store's `transaction` method, checked, or undefined when it has none. */
export function transactionOf(
  store: ProtocolStore,
): (<T>(fn: (tx: ProtocolTransaction) => Promise<T>) => Promise<T>) | undefined {
  const t = store.transaction;
  if (t === undefined) return undefined;
  if (typeof t !== 'function') throw new TypeError('store.transaction must be a function');
  return <T>(fn: (tx: ProtocolTransaction) => Promise<T>): Promise<T> =>
    t.call<ProtocolStore, [(tx: ProtocolTransaction) => Promise<T>], Promise<T>>(store, (tx) => {
      if (tx === null || typeof tx !== 'object') throw new TypeError('transaction gave no tx object');
      assertProtocolStore(tx.protocol);
      return fn(tx);
    });
}

const REQUIRED_METHODS = [
  'getIdentityKeyPair',
  'getLocalRegistrationId',
  'saveIdentity',
  'isTrustedIdentity',
  'getIdentity',
  'getSession',
  'saveSession',
  'removeSession',
  'getPreKey',
  'savePreKey',
  'removePreKey',
  'getSignedPreKey',
  'saveSignedPreKey',
  'removeSignedPreKey',
  'getKyberPreKey',
  'saveKyberPreKey',
  'removeKyberPreKey',
  'markKyberPreKeyUsed',
  'getPreKeyState',
  'savePreKeyState',
] as const;

/** Throws `TypeError` naming the first missing method. */
export function assertProtocolStore(store: unknown): asserts store is ProtocolStore {
  if (store === null || typeof store !== 'object')
    throw new TypeError('store must be a ProtocolStore object');
  for (const m of REQUIRED_METHODS) {
    if (typeof (store as Record<string, unknown>)[m] !== 'function') {
      throw new TypeError(`store is missing method ${m}()`);
    }
  }
}
