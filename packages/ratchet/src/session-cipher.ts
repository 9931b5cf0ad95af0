/**
 * `SessionCipher`: the one class an app uses per peer device. Initiates (PQXDH by default, X3DH on
 * request), encrypts and decrypts; every call for one address runs under that address's mutex; a
 * decrypt persists the new state before it returns the plaintext, and a failure leaves the store as
 * it was.
 */
import {
  type Address,
  addressToString,
  type CryptoProvider,
  constantTimeEqual,
  copyBytes,
  E2eeError,
  type LockManager,
  PublicKey,
  redact,
  validateAddress,
} from '@e2ee-kit/core';
import type { PreKeyBundle } from './bundle.js';
import { CiphertextMessageType } from './constants.js';
import type { ProtocolContext } from './context.js';
import { decryptMessage } from './decrypt.js';
import { resolveRatchetProvider } from './default-provider.js';
import { type DeliverScope, runDeliver, runGuarded } from './deliver-guard.js';
import { encryptMessage, hasUsableSession } from './encrypt.js';
import { initiateSession } from './handshake.js';
import { locksFor, PREKEY_STATE_LOCK } from './locks.js';
import { SessionRecord } from './records/session-record.js';
import {
  assertProtocolStore,
  type ProtocolStore,
  type ProtocolTransaction,
  type TransactionOf,
  transactionOf,
} from './stores.js';
import { runAfterCommit, storeCall } from './writes.js';

export type WireMessageType = 'prekey' | 'whisper';

/** What `encrypt` returns and `decrypt` takes: the type travels beside the bytes (e.g. in an envelope). */
export interface EncryptedMessage {
  readonly type: WireMessageType;
  readonly body: Uint8Array;
}

/**
 * How a decrypt changed the stored identity key of the sender: `none` (unchanged), `new` (first
 * contact) or `replaced` (the sender's identity key changed: show "security code changed").
 */
export type MessageIdentityChange =
  | { readonly kind: 'none' }
  | { readonly kind: 'new' }
  | { readonly kind: 'replaced'; readonly previous: PublicKey };

export interface DecryptedMessage {
  readonly plaintext: Uint8Array;
  /** 3 (X3DH) or 4 (PQXDH). */
  readonly sessionVersion: number;
  /** True when this PreKey message created a new session (it replaced any earlier one). */
  readonly newSession: boolean;
  /** What this decrypt did to the stored identity key (reported only once the decrypt committed). */
  readonly identityChange: MessageIdentityChange;
}

export interface SessionCipherOptions {
  provider?: CryptoProvider;
  /**
   * Our own address. When both names are Signal ServiceIds (a UUID, or `PNI:` + UUID) PreKey messages
   * carry libsignal's `addresses` field and incoming ones are checked against it.
   */
  localAddress?: Address;
  /** Accept incoming version-3 (X3DH, no post-quantum part) PreKey messages. Default false. */
  acceptX3dh?: boolean;
  /** Clock in ms since 1970 (default `Date.now`). */
  now?: () => number;
  /**
   * The locks taken per address (and, for PreKey messages, the store-wide pre-key lock). Default: an
   * in-process lock per store object. Pass a `WebLocksManager` when tabs or workers share one
   * IndexedDB, or a database lock when processes share one database — the same to every
   * `SessionCipher` and `PreKeyManager` of that storage.
   */
  lockManager?: LockManager;
}

export interface DecryptOptions<Tx> {
  /**
   * Atomic delivery: called with the decrypted message before the decrypt commits. When the store
   * has `transaction`, every write of the decrypt (session, pre-key removal, identity, Kyber mark)
   * and everything the callback writes through `tx` (`tx.app.put(…)`) commit in one transaction, so
   * a crash keeps both or neither; if the callback throws nothing is written and its error comes
   * through unchanged. Without `transaction`, `tx` is `{ protocol: store }`, the callback runs after
   * the decrypt's writes and a throw undoes them — best effort: the undo writes can fail too, and a
   * Kyber pre-key marked used stays so.
   *
   * It runs under this decrypt's locks: a `SessionCipher` call for the same address (or any PreKey
   * decrypt or `PreKeyManager` call, inside a PreKey message's callback) made from it would wait for
   * the decrypt, which waits for it. Made directly, or after an await inside `scope.run(() => …)`, it
   * fails at once with `REENTRANT_CALL`. Made after an await without `scope.run` it cannot be told
   * from another task's call, which must just wait however slow this callback is: it waits too, for
   * ever. Reply once `decrypt` has resolved.
   */
  deliver?: (message: DecryptedMessage, tx: Tx, scope: DeliverScope) => Promise<void> | void;
}

export interface ArchiveOptions {
  /**
   * Archive only if this is the current session's sender ratchet key (what a retry receipt names):
   * checked under the same lock as the archive, so a receipt for an older session cannot archive a
   * newer one that a concurrent call just started.
   */
  ifRatchetKey?: PublicKey;
}

export interface InitiateOptions {
  /**
   * `'pqxdh'` (default): message version 4, needs the bundle's Kyber pre-key.
   * `'x3dh'`: legacy version 3 for peers of that era (libsignal ≤ 0.72.1); no post-quantum protection.
   */
  protocol?: 'pqxdh' | 'x3dh';
}

/** libsignal's numeric `CiphertextMessageType` for a wire type (2 = whisper, 3 = prekey). */
export function messageTypeToNumber(type: WireMessageType): CiphertextMessageType {
  if (type === 'prekey') return CiphertextMessageType.PreKey;
  if (type === 'whisper') return CiphertextMessageType.Whisper;
  throw new TypeError("type must be 'prekey' or 'whisper'");
}

/** The wire type for libsignal's numeric `CiphertextMessageType` (2 or 3). */
export function messageTypeFromNumber(type: number): WireMessageType {
  if (type === CiphertextMessageType.PreKey) return 'prekey';
  if (type === CiphertextMessageType.Whisper) return 'whisper';
  throw new RangeError('message type must be 2 (whisper) or 3 (prekey)');
}

export class SessionCipher<S extends ProtocolStore = ProtocolStore> {
  readonly remoteAddress: Address;
  readonly #ctx: ProtocolContext;
  readonly #lockKey: string;
  readonly #locks: LockManager;

  constructor(store: S, remoteAddress: Address, options: SessionCipherOptions = {}) {
    assertProtocolStore(store);
    validateAddress(remoteAddress);
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
    if (options.localAddress !== undefined) validateAddress(options.localAddress);
    const now = options.now ?? Date.now;
    if (typeof now !== 'function') throw new TypeError('now must be a function');
    this.remoteAddress = Object.freeze({ name: remoteAddress.name, deviceId: remoteAddress.deviceId });
    this.#lockKey = addressToString(remoteAddress);
    this.#locks = locksFor(store, options.lockManager);
    this.#ctx = {
      store,
      remote: this.remoteAddress,
      local: options.localAddress,
      provider: resolveRatchetProvider(options.provider),
      acceptX3dh: options.acceptX3dh === true,
      now,
      ratchetKeyCache: undefined,
    };
  }

  /**
   * Starts a new session from the peer's bundle (verifying its signatures and trusting its identity
   * through the identity store). Any existing session is archived. The next `encrypt` returns a
   * PreKey message, and so does every one until the peer answers. With a store that has
   * `transaction`, the new session and the peer's identity commit together (or neither does).
   */
  initiate(bundle: PreKeyBundle, options: InitiateOptions = {}): Promise<void> {
    const protocol = options?.protocol ?? 'pqxdh';
    if (protocol !== 'pqxdh' && protocol !== 'x3dh')
      throw new TypeError("protocol must be 'pqxdh' or 'x3dh'");
    // Both writes (session, identity) in one transaction, as for encrypt: undo writes fail when the
    // store does, which would leave a new session stored by an initiate that rejected.
    return this.#locked(() =>
      this.#atomic((ctx, deferred) => initiateSession(ctx, bundle, protocol, deferred)),
    );
  }

  /** Encrypts for the current session (`SessionNotFoundError` if there is none or it went stale). */
  encrypt(plaintext: Uint8Array): Promise<EncryptedMessage> {
    if (!(plaintext instanceof Uint8Array)) throw new TypeError('plaintext must be a Uint8Array');
    // Copied before the first await: the caller may reuse or transfer its buffer once this returns.
    const bytes = copyBytes(plaintext);
    // Read and write in one transaction: a store that compares on write (the e2ee-kit stores) then
    // refuses a second tab or process sending from the same chain state, which would reuse a key.
    return this.#locked(() => this.#atomic((ctx, deferred) => encryptMessage(ctx, bytes, deferred)));
  }

  /**
   * Decrypts a message from the peer, picking the session state it belongs to (a PreKey message may
   * create a session). The new state is stored before this resolves; with `options.deliver` the app's
   * own writes commit together with it (see `DecryptOptions`). An identity replacement is reported
   * (`onIdentityChange`) only after the commit.
   */
  decrypt(
    message: EncryptedMessage,
    options: DecryptOptions<TransactionOf<S>> = {},
  ): Promise<DecryptedMessage> {
    if (message === null || typeof message !== 'object')
      throw new TypeError('message must be { type, body }');
    const { type, body: given } = message;
    if (type !== 'prekey' && type !== 'whisper')
      throw new TypeError("message.type must be 'prekey' or 'whisper'");
    if (!(given instanceof Uint8Array)) throw new TypeError('message.body must be a Uint8Array');
    // Copied before the first await (the address lock): a reused socket buffer is not this message.
    const body = copyBytes(given);
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
    const { deliver } = options;
    if (deliver !== undefined && typeof deliver !== 'function')
      throw new TypeError('options.deliver must be a function');
    const deliverTo =
      deliver &&
      ((tx: TransactionOf<S>) => (m: DecryptedMessage) =>
        runDeliver(this.#locks, this.#lockKey, type === 'prekey', (scope) => deliver(m, tx, scope)));
    const preKeyLock = <T>(fn: () => Promise<T>) => runGuarded(this.#locks, PREKEY_STATE_LOCK, fn);
    return this.#locked(
      () =>
        this.#atomic(
          (ctx, deferred, tx) =>
            decryptMessage(ctx, type, body, {
              // In a transaction the pre-key lock is already held around the whole of it (below).
              preKeyLock: deferred ? (fn) => fn() : preKeyLock,
              deferred,
              deliver: deliverTo?.(tx as TransactionOf<S>),
            }),
          // A PreKey message may consume a one-time pre-key that a copy from another address also
          // names: the pre-key lock is held until the commit, so the later decrypt reads the key
          // already gone. Guarded too: the address lock may be free while a running PreKey deliver
          // holds this one.
          type === 'prekey' ? preKeyLock : undefined,
        ),
      type === 'prekey',
    );
  }

  /**
   * Archives the current session state under this address's lock, in one store write (inside one
   * transaction when the store has `transaction`): it stays readable for late messages, and the next
   * `encrypt` needs a new `initiate`. Resolves `true` if a state was archived, `false` if there was
   * no current state (or `ifRatchetKey` named another one); then nothing is written.
   */
  archive(options: ArchiveOptions = {}): Promise<boolean> {
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
    // A key of either copy of core (an app that loads two copies): `PublicKey.from`.
    const ifRatchetKey =
      options.ifRatchetKey === undefined ? undefined : PublicKey.from(options.ifRatchetKey, 'ifRatchetKey');
    return this.#locked(() =>
      this.#atomic(async ({ store }) => {
        const record = await storeCall('getSession', () => store.getSession(this.remoteAddress));
        const current = record?.currentState;
        if (!record || !current) return false;
        if (ifRatchetKey !== undefined) {
          const key = current.senderChain?.ratchetKey;
          if (key === undefined || !constantTimeEqual(key, ifRatchetKey.serialize())) return false;
        }
        // A copy: a record the store returned is never changed in place.
        const archived = SessionRecord.deserialize(record.serialize());
        archived.archiveCurrentState();
        await storeCall('saveSession', () => store.saveSession(this.remoteAddress, archived));
        return true;
      }),
    );
  }

  /**
   * Removes the stored session record only if it cannot be read (loading it fails with a
   * `DecodeError`, e.g. a corrupted or truncated record), under this address's lock. Its sessions are
   * lost either way — nothing can decrypt with them — and removing them lets a PreKey message start a
   * new session. Resolves `true` if a record was removed; a readable record (or none) is left alone.
   */
  discardUnreadableSession(): Promise<boolean> {
    return this.#locked(() =>
      this.#atomic(async ({ store }) => {
        try {
          await storeCall('getSession', () => store.getSession(this.remoteAddress));
          return false;
        } catch (err) {
          if (!isUnreadableRecordError(err)) throw err;
        }
        await storeCall('removeSession', () => store.removeSession(this.remoteAddress));
        return true;
      }),
    );
  }

  /** True if there is a current session that can send (see `SessionRecord.hasCurrentState`). */
  hasSession(): Promise<boolean> {
    return this.#locked(() => hasUsableSession(this.#ctx));
  }

  /** `preKey`: the call may take the pre-key lock too (a PreKey decrypt). */
  #locked<T>(fn: () => Promise<T>, preKey = false): Promise<T> {
    return runGuarded(this.#locks, this.#lockKey, fn, preKey ? [PREKEY_STATE_LOCK] : []);
  }

  /**
   * Runs `fn` in one store transaction when the store has `transaction` (its after-commit effects,
   * queued in `deferred`, run once the transaction committed; `around` wraps the transaction), else
   * directly on the store, with `deferred` undefined and `tx` the store itself.
   */
  async #atomic<T>(
    fn: (ctx: ProtocolContext, deferred: (() => void)[] | undefined, tx: ProtocolTransaction) => Promise<T>,
    around: (run: () => Promise<T>) => Promise<T> = (run) => run(),
  ): Promise<T> {
    const transaction = transactionOf(this.#ctx.store);
    if (transaction === undefined) return fn(this.#ctx, undefined, { protocol: this.#ctx.store });
    const deferred: (() => void)[] = [];
    const out = await around(() =>
      transaction(async (tx) => {
        deferred.length = 0; // a store may run this again after discarding an attempt: only the last counts
        const ctx: ProtocolContext = { ...this.#ctx, store: tx.protocol };
        try {
          return await fn(ctx, deferred, tx);
        } finally {
          this.#ctx.ratchetKeyCache = ctx.ratchetKeyCache;
        }
      }),
    );
    runAfterCommit(deferred);
    return out;
  }
}

/**
 * True for what loading an unreadable record raises: a `DecodeError` from the record's decoder, as is
 * or wrapped by the store (a `StoreError` whose cause is one).
 */
export function isUnreadableRecordError(err: unknown): boolean {
  if (!E2eeError.is(err)) return false;
  if (err.name === 'DecodeError') return true;
  const cause = (err as { cause?: unknown }).cause;
  return E2eeError.is(err, 'STORE') && E2eeError.is(cause) && cause.name === 'DecodeError';
}
redact(SessionCipher, '[SessionCipher]');
