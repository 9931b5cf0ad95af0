/**
 * The pre-key manager: allocates ids from a persisted counter (never reused), stores what it
 * generates, and tells the app when to refill one-time keys and when to rotate the signed pre-key and
 * the last-resort Kyber pre-key, keeping replaced ones for a grace period. The store-free generators
 * are in `prekey-generation.ts`, `createPreKeyBundle` in `prekey-bundle.ts`.
 */
import { type CryptoProvider, type LockManager, type PublicKey, redact } from '@e2ee-kit/core';
import { resolveRatchetProvider } from './default-provider.js';
import { runGuarded } from './deliver-guard.js';
import { locksFor, PREKEY_STATE_LOCK } from './locks.js';
import {
  initialState,
  removeExpired,
  rotateKey,
  type StepContext,
  saveState,
  storeNewKyberPreKeys,
  storeNewPreKeys,
} from './prekey-steps.js';
import {
  confirmedChanges,
  currentKey,
  expiredOf,
  ONE_TIME,
  outlived,
  ROTATING,
  type Rotating,
  unconfirmedOneTime,
} from './prekey-uploads.js';
import type { KyberPreKeyRecord } from './records/kyber-prekey-record.js';
import type { PreKeyRecord } from './records/prekey-record.js';
import type { PreKeyStateRecord } from './records/prekey-state-record.js';
import type { SignedPreKeyRecord } from './records/signed-prekey-record.js';
import { assertProtocolStore, type ProtocolStore, transactionOf } from './stores.js';
import { readKey, storeCall, type Writes, writeAll } from './writes.js';

const DAY = 24 * 60 * 60 * 1000;

export interface PreKeyManagerOptions {
  provider?: CryptoProvider;
  /** Clock in ms since 1970 (default `Date.now`). */
  now?: () => number;
  /** Refill one-time keys when fewer than this many remain on the server (default 10). */
  minPreKeys?: number;
  /** How many one-time keys a refill generates (default 100). */
  batchSize?: number;
  /** Rotate the signed pre-key and the last-resort Kyber pre-key when older than this (default 2 days). */
  rotationIntervalMs?: number;
  /** Keep a replaced signed / last-resort key this long for in-flight PreKey messages (default 30 days). */
  gracePeriodMs?: number;
  /**
   * The lock guarding the pre-key state (default: in-process, per store object) — give it the same
   * `LockManager` as the `SessionCipher`s of this storage, so a PreKey decrypt in another tab or
   * process and this manager take turns.
   */
  lockManager?: LockManager;
}

/** What the app should do now (from `PreKeyManager.status`). */
export interface PreKeyStatus {
  /** One-time EC pre-keys to generate and upload (0 = enough on the server). */
  readonly refillPreKeys: number;
  /** One-time Kyber pre-keys to generate and upload. */
  readonly refillKyberPreKeys: number;
  /** No signed pre-key yet, or the current one is older than the rotation interval. */
  readonly rotateSignedPreKey: boolean;
  /** No last-resort Kyber pre-key yet, or the current one is older than the rotation interval. */
  readonly rotateLastResortKyberPreKey: boolean;
  /** Replaced keys past their grace period (removed by `removeExpiredKeys`). */
  readonly expiredKeys: number;
}

/** What `PreKeyManager.maintain` generated: upload these to the server. */
export interface PreKeyUpload {
  readonly preKeys: readonly PreKeyRecord[];
  readonly kyberPreKeys: readonly KyberPreKeyRecord[];
  readonly signedPreKey: SignedPreKeyRecord | undefined;
  readonly lastResortKyberPreKey: KyberPreKeyRecord | undefined;
}

/** The keys of one bundle (`createPreKeyBundle`). */
export interface BundleKeys {
  readonly registrationId: number;
  readonly identityKey: PublicKey;
  readonly signed: SignedPreKeyRecord;
  readonly preKey: PreKeyRecord | undefined;
  readonly kyberPreKey: KyberPreKeyRecord | undefined;
}

/** The key of `PreKeyManager`'s bundle operation: exported to `prekey-bundle.ts`, not from the package. */
export const BUNDLE_KEYS = Symbol('PreKeyManager.bundleKeys');

export class PreKeyManager {
  readonly #store: ProtocolStore;
  readonly #provider: CryptoProvider;
  readonly #now: () => number;
  readonly #minPreKeys: number;
  readonly #batchSize: number;
  readonly #rotation: number;
  readonly #grace: number;
  readonly #locks: LockManager;
  readonly #steps: StepContext;

  constructor(store: ProtocolStore, options: PreKeyManagerOptions = {}) {
    assertProtocolStore(store);
    this.#store = store;
    this.#locks = locksFor(store, options.lockManager);
    this.#provider = resolveRatchetProvider(options.provider);
    this.#now = options.now ?? Date.now;
    if (typeof this.#now !== 'function') throw new TypeError('now must be a function');
    this.#minPreKeys = positiveInt(options.minPreKeys ?? 10, 'minPreKeys');
    this.#batchSize = positiveInt(options.batchSize ?? 100, 'batchSize');
    this.#rotation = positiveInt(options.rotationIntervalMs ?? 2 * DAY, 'rotationIntervalMs');
    this.#grace = positiveInt(options.gracePeriodMs ?? 30 * DAY, 'gracePeriodMs');
    this.#steps = { provider: this.#provider, now: () => this.#clock(), grace: this.#grace };
  }

  /**
   * What to do, given how many one-time keys the server still holds for this device (Signal's server
   * reports these counts).
   */
  async status(serverCounts: { preKeys: number; kyberPreKeys: number }): Promise<PreKeyStatus> {
    checkCounts(serverCounts);
    return this.#status(this.#store, await this.#load(this.#store), serverCounts, this.#clock());
  }

  async #status(
    store: ProtocolStore,
    state: PreKeyStateRecord,
    { preKeys, kyberPreKeys }: { preKeys: number; kyberPreKeys: number },
    now: number,
  ): Promise<PreKeyStatus> {
    const signed = await currentKey(store, state, ROTATING.signed);
    const lastResort = await currentKey(store, state, ROTATING.lastResort);
    return {
      refillPreKeys: preKeys < this.#minPreKeys ? this.#batchSize : 0,
      refillKyberPreKeys: kyberPreKeys < this.#minPreKeys ? this.#batchSize : 0,
      rotateSignedPreKey: !signed || this.#due(signed.timestamp, now),
      rotateLastResortKyberPreKey: !lastResort || this.#due(lastResort.timestamp, now),
      expiredKeys:
        expiredOf(state, ROTATING.signed, now, this.#grace).length +
        expiredOf(state, ROTATING.lastResort, now, this.#grace).length,
    };
  }

  /**
   * The clock, refused unless a non-negative safe integer: with NaN every comparison is false, so
   * nothing would ever be due or expire, and a key could not carry the time as its timestamp.
   */
  #clock(): number {
    const now = this.#now();
    if (typeof now !== 'number' || !Number.isSafeInteger(now) || now < 0)
      throw new RangeError('now() must return a non-negative safe integer (milliseconds since 1970)');
    return now;
  }

  /** Older than the rotation interval, or newer by as much (made while the clock was ahead). */
  #due(timestamp: number, now: number): boolean {
    return outlived(timestamp, this.#rotation, now);
  }

  /** Generates, stores and returns `count` one-time EC pre-keys with fresh ids. */
  generatePreKeys(count: number = this.#batchSize): Promise<PreKeyRecord[]> {
    return this.#locked(
      async (store, w) => (await storeNewPreKeys(this.#steps, store, w, await this.#load(store), count))[1],
    );
  }

  /** Generates, stores and returns `count` one-time Kyber pre-keys. */
  generateKyberPreKeys(count: number = this.#batchSize): Promise<KyberPreKeyRecord[]> {
    return this.#locked(
      async (store, w) =>
        (await storeNewKyberPreKeys(this.#steps, store, w, await this.#load(store), count))[1],
    );
  }

  /** A new signed pre-key becomes current; the previous one is kept for the grace period. */
  rotateSignedPreKey(): Promise<SignedPreKeyRecord> {
    return this.#locked(
      async (store, w) =>
        (await rotateKey(this.#steps, store, w, await this.#load(store), ROTATING.signed))[1],
    );
  }

  /** A new last-resort Kyber pre-key becomes current; the previous one is kept for the grace period. */
  rotateLastResortKyberPreKey(): Promise<KyberPreKeyRecord> {
    return this.#locked(
      async (store, w) =>
        (await rotateKey(this.#steps, store, w, await this.#load(store), ROTATING.lastResort))[1],
    );
  }

  async currentSignedPreKey(): Promise<SignedPreKeyRecord | null> {
    return currentKey(this.#store, await this.#load(this.#store), ROTATING.signed);
  }

  async currentLastResortKyberPreKey(): Promise<KyberPreKeyRecord | null> {
    return currentKey(this.#store, await this.#load(this.#store), ROTATING.lastResort);
  }

  /**
   * `createPreKeyBundle`'s keys as one operation: the current signed pre-key (rotated in if there is
   * none), a new one-time pre-key, the Kyber key `kyber` asks for; `build` runs before the commit, so
   * a bundle it refuses (a bad device id) leaves nothing stored. Not part of the package's API.
   *
   * @internal
   */
  [BUNDLE_KEYS]<T>(
    wantPreKey: boolean,
    kyber: 'one-time' | 'last-resort' | false,
    build: (keys: BundleKeys) => T,
  ): Promise<T> {
    return this.#locked(async (store, w) => {
      let state = await this.#load(store);
      let signed = await currentKey(store, state, ROTATING.signed);
      if (!signed) [state, signed] = await rotateKey(this.#steps, store, w, state, ROTATING.signed);
      let preKey: PreKeyRecord | undefined;
      if (wantPreKey) [state, [preKey]] = await storeNewPreKeys(this.#steps, store, w, state, 1);
      let kyberPreKey: KyberPreKeyRecord | null | undefined;
      if (kyber === 'one-time')
        [state, [kyberPreKey]] = await storeNewKyberPreKeys(this.#steps, store, w, state, 1);
      else if (kyber === 'last-resort') {
        kyberPreKey = await currentKey(store, state, ROTATING.lastResort);
        if (!kyberPreKey)
          [state, kyberPreKey] = await rotateKey(this.#steps, store, w, state, ROTATING.lastResort);
      }
      const identity = await storeCall('getIdentityKeyPair', () => store.getIdentityKeyPair());
      const registrationId = await storeCall('getLocalRegistrationId', () => store.getLocalRegistrationId());
      return build({
        registrationId,
        identityKey: identity.publicKey,
        signed,
        preKey,
        kyberPreKey: kyberPreKey ?? undefined,
      });
    });
  }

  /** Deletes replaced signed / last-resort keys whose grace period is over; returns how many. */
  removeExpiredKeys(): Promise<number> {
    return this.#locked(
      async (store, w) => (await removeExpired(this.#steps, store, w, await this.#load(store)))[1],
    );
  }

  /**
   * Does everything `status` asks for and returns what to upload, under the pre-key lock as one
   * operation (one transaction, or undone as a whole): two calls at once give the same keys, not two
   * rotations whose uploads race. Keys whose upload was never confirmed (`confirmUpload`) are in it
   * again — the current signed / last-resort key, and one-time keys generated since the last
   * confirmed upload (in place of new ones): that upload may have failed.
   */
  async maintain(serverCounts: { preKeys: number; kyberPreKeys: number }): Promise<PreKeyUpload> {
    checkCounts(serverCounts);
    return this.#locked(async (store, w) => {
      let state = await this.#load(store);
      const s = await this.#status(store, state, serverCounts, this.#clock());
      const preKeys = await unconfirmedOneTime<PreKeyRecord>(store, state, ONE_TIME.ec, s.refillPreKeys);
      if (preKeys.length < s.refillPreKeys) {
        const [next, more] = await storeNewPreKeys(
          this.#steps,
          store,
          w,
          state,
          s.refillPreKeys - preKeys.length,
        );
        state = next;
        preKeys.push(...more);
      }
      const kyberPreKeys = await unconfirmedOneTime<KyberPreKeyRecord>(
        store,
        state,
        ONE_TIME.kyber,
        s.refillKyberPreKeys,
      );
      if (kyberPreKeys.length < s.refillKyberPreKeys) {
        const [next, more] = await storeNewKyberPreKeys(
          this.#steps,
          store,
          w,
          state,
          s.refillKyberPreKeys - kyberPreKeys.length,
        );
        state = next;
        kyberPreKeys.push(...more);
      }
      const unconfirmed = (f: Rotating) => {
        const id = state[f.current];
        return id !== undefined && id !== state[f.uploaded] ? id : undefined;
      };
      const signedId = unconfirmed(ROTATING.signed);
      const kyberId = unconfirmed(ROTATING.lastResort);
      let signedPreKey: SignedPreKeyRecord | undefined;
      if (s.rotateSignedPreKey)
        [state, signedPreKey] = await rotateKey(this.#steps, store, w, state, ROTATING.signed);
      else if (signedId !== undefined)
        signedPreKey = (await readKey(store, 'getSignedPreKey', signedId)) ?? undefined;
      let lastResortKyberPreKey: KyberPreKeyRecord | undefined;
      if (s.rotateLastResortKyberPreKey)
        [state, lastResortKyberPreKey] = await rotateKey(this.#steps, store, w, state, ROTATING.lastResort);
      else if (kyberId !== undefined)
        lastResortKyberPreKey = (await readKey(store, 'getKyberPreKey', kyberId)) ?? undefined;
      if (s.expiredKeys > 0) await removeExpired(this.#steps, store, w, state);
      return { preKeys, kyberPreKeys, signedPreKey, lastResortKyberPreKey };
    });
  }

  /**
   * Call once the server accepted `upload` (from `maintain`, or keys from `rotate*`): its signed and
   * last-resort keys are then the ones the server holds. Until then `maintain` offers them again, and
   * the previously confirmed keys are kept past their grace period (the server may still hand them out).
   */
  async confirmUpload(upload: Partial<PreKeyUpload>): Promise<void> {
    if (upload === null || typeof upload !== 'object') throw new TypeError('upload must be a PreKeyUpload');
    await this.#locked(async (store, w) => {
      const state = await this.#load(store);
      const changes = confirmedChanges(state, upload);
      if (Object.keys(changes).length > 0) await saveState(store, w, state, state.with(changes));
    });
  }

  /**
   * Under the pre-key lock and, when the store has `transaction`, in one transaction: the state's id
   * counters and the keys they allocate commit together, and a store that compares on write (the
   * e2ee-kit stores) refuses a second context that allocated the same ids without the shared lock.
   * Without a transaction, a failure undoes the writes made so far, in reverse order (`Writes`).
   * Store errors reach the caller as `StoreError`.
   */
  #locked<T>(fn: (store: ProtocolStore, w: Writes) => Promise<T>): Promise<T> {
    return runGuarded(this.#locks, PREKEY_STATE_LOCK, () => {
      const transaction = transactionOf(this.#store);
      return transaction === undefined
        ? writeAll((w) => fn(this.#store, w))
        : transaction((tx) => writeAll((w) => fn(tx.protocol, w), []));
    });
  }

  async #load(store: ProtocolStore): Promise<PreKeyStateRecord> {
    return (await storeCall('getPreKeyState', () => store.getPreKeyState())) ?? initialState(this.#provider);
  }
}
redact(PreKeyManager, '[PreKeyManager]');

function checkCounts(serverCounts: { preKeys: number; kyberPreKeys: number }): void {
  const { preKeys, kyberPreKeys } = serverCounts ?? {};
  if (!Number.isInteger(preKeys) || preKeys < 0) throw new RangeError('serverCounts.preKeys must be ≥ 0');
  if (!Number.isInteger(kyberPreKeys) || kyberPreKeys < 0)
    throw new RangeError('serverCounts.kyberPreKeys must be ≥ 0');
}

function positiveInt(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1)
    throw new RangeError(`${name} must be a positive integer`);
  return v;
}
