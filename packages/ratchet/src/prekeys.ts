/**
 * The pre-key manager: allocates ids from a persisted counter (never reused), stores what it
 * generates, and tells the app when to refill one-time keys and when to rotate the signed pre-key and
 * the last-resort Kyber pre-key, keeping replaced ones for a grace period. The store-free generators
 * are in `prekey-generation.ts`, `createPreKeyBundle` in `prekey-bundle.ts`.
 */
import { type CryptoProvider, type IdentityKeyPair, type LockManager, redact } from '@e2ee-kit/core';
import { MAX_RETIRED_PRE_KEYS } from './constants.js';
import { resolveRatchetProvider } from './default-provider.js';
import { deliverRefusal, runGuarded } from './deliver-guard.js';
import { locksFor, PREKEY_STATE_LOCK } from './locks.js';
import { generateKyberPreKey, generatePreKeys, generateSignedPreKey } from './prekey-generation.js';
import {
  confirmedChanges,
  expiredOf,
  ONE_TIME,
  ROTATING,
  type Rotating,
  unconfirmedOneTime,
} from './prekey-uploads.js';
import { MAX_PREKEY_ID } from './records/ids.js';
import type { KyberPreKeyRecord } from './records/kyber-prekey-record.js';
import { ownRecord } from './records/own-record.js';
import type { PreKeyRecord } from './records/prekey-record.js';
import { PreKeyStateRecord, type RetiredKey } from './records/prekey-state-record.js';
import type { SignedPreKeyRecord } from './records/signed-prekey-record.js';
import { assertProtocolStore, type ProtocolStore, transactionOf } from './stores.js';

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

/** Random first id in 1..2^24 (as Signal's clients), then sequential. */
function initialState(provider: CryptoProvider): PreKeyStateRecord {
  const r = () => {
    const b = provider.randomBytes(3);
    return (((b[0] as number) << 16) | ((b[1] as number) << 8) | (b[2] as number)) + 1;
  };
  return new PreKeyStateRecord({
    nextPreKeyId: r(),
    nextSignedPreKeyId: r(),
    nextKyberPreKeyId: r(),
    retiredSignedPreKeys: [],
    retiredLastResortKyberPreKeys: [],
  });
}

/** Checked before the counter moves: a negative count would move it back, and ids would be reused. */
function allocate(next: number, count: number): number {
  if (!Number.isInteger(count) || count < 0 || count > 10_000) throw new RangeError('count must be 0..10000');
  if (next + count - 1 > MAX_PREKEY_ID)
    throw new RangeError('pre-key id space exhausted (ids are never reused)');
  return next;
}

export class PreKeyManager {
  readonly #store: ProtocolStore;
  readonly #provider: CryptoProvider;
  readonly #now: () => number;
  readonly #minPreKeys: number;
  readonly #batchSize: number;
  readonly #rotation: number;
  readonly #grace: number;
  readonly #locks: LockManager;

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
  }

  /**
   * What to do, given how many one-time keys the server still holds for this device (Signal's server
   * reports these counts).
   */
  async status(serverCounts: { preKeys: number; kyberPreKeys: number }): Promise<PreKeyStatus> {
    const { preKeys, kyberPreKeys } = serverCounts ?? {};
    if (!Number.isInteger(preKeys) || preKeys < 0) throw new RangeError('serverCounts.preKeys must be ≥ 0');
    if (!Number.isInteger(kyberPreKeys) || kyberPreKeys < 0)
      throw new RangeError('serverCounts.kyberPreKeys must be ≥ 0');
    const state = await this.#load();
    const now = this.#now();
    const signed =
      state.currentSignedPreKeyId === undefined
        ? null
        : ownRecord(await this.#store.getSignedPreKey(state.currentSignedPreKeyId));
    const lastResort =
      state.currentLastResortKyberPreKeyId === undefined
        ? null
        : ownRecord(await this.#store.getKyberPreKey(state.currentLastResortKyberPreKeyId));
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
   * Older than the rotation interval — or newer by as much: made while the clock was ahead, so its
   * real age is unknown (waiting for the clock to catch up could keep one key for years).
   */
  #due(timestamp: number, now: number): boolean {
    return timestamp + this.#rotation <= now || timestamp - now >= this.#rotation;
  }

  /** Generates, stores and returns `count` one-time EC pre-keys with fresh ids. */
  async generatePreKeys(count: number = this.#batchSize): Promise<PreKeyRecord[]> {
    return this.#locked(async (store) => {
      const state = await this.#load(store);
      const start = allocate(state.nextPreKeyId, count);
      const records = await generatePreKeys(start, count, { provider: this.#provider });
      // The id counter first: without a transaction a crash after it wastes ids but never reuses one.
      await store.savePreKeyState(state.with({ nextPreKeyId: start + count }));
      for (const r of records) await store.savePreKey(r.id, r);
      return records;
    });
  }

  /** Generates, stores and returns `count` one-time Kyber pre-keys. */
  async generateKyberPreKeys(count: number = this.#batchSize): Promise<KyberPreKeyRecord[]> {
    return this.#locked(async (store) => {
      const state = await this.#load(store);
      const start = allocate(state.nextKyberPreKeyId, count);
      await store.savePreKeyState(state.with({ nextKyberPreKeyId: start + count }));
      const identity = await store.getIdentityKeyPair();
      const out: KyberPreKeyRecord[] = [];
      for (let i = 0; i < count; i++) {
        const r = await generateKyberPreKey(identity, start + i, {
          provider: this.#provider,
          timestamp: this.#now(),
        });
        await store.saveKyberPreKey(r.id, r);
        out.push(r);
      }
      return out;
    });
  }

  /** A new signed pre-key becomes current; the previous one is kept for the grace period. */
  rotateSignedPreKey(): Promise<SignedPreKeyRecord> {
    return this.#rotate(ROTATING.signed, async (store, identity, id, timestamp) => {
      const record = await generateSignedPreKey(identity, id, { provider: this.#provider, timestamp });
      await store.saveSignedPreKey(id, record);
      return record;
    });
  }

  /** A new last-resort Kyber pre-key becomes current; the previous one is kept for the grace period. */
  rotateLastResortKyberPreKey(): Promise<KyberPreKeyRecord> {
    return this.#rotate(ROTATING.lastResort, async (store, identity, id, timestamp) => {
      const record = await generateKyberPreKey(identity, id, {
        provider: this.#provider,
        timestamp,
        lastResort: true,
      });
      await store.saveKyberPreKey(id, record);
      return record;
    });
  }

  /**
   * Allocates an id (persisted first: without a transaction a crash never reuses it), stores the new
   * key, then makes it current and retires the previous one.
   */
  #rotate<R>(
    f: Rotating,
    make: (store: ProtocolStore, identity: IdentityKeyPair, id: number, now: number) => Promise<R>,
  ): Promise<R> {
    return this.#locked(async (store) => {
      let state = await this.#load(store);
      const id = allocate(state[f.next], 1);
      state = state.with({ [f.next]: id + 1 });
      await store.savePreKeyState(state);
      const now = this.#now();
      const record = await make(store, await store.getIdentityKeyPair(), id, now);
      const previous = state[f.current];
      let retired =
        previous === undefined ? state[f.retired] : [...state[f.retired], { id: previous, retiredAt: now }];
      // Bounded: the oldest go first (never the key the server was last confirmed to hold).
      while (retired.length > MAX_RETIRED_PRE_KEYS) {
        const oldest = retired.find((k) => k.id !== state[f.uploaded]) as RetiredKey;
        await store[f.remove](oldest.id);
        retired = retired.filter((k) => k !== oldest);
      }
      await store.savePreKeyState(state.with({ [f.current]: id, [f.retired]: retired }));
      return record;
    });
  }

  async currentSignedPreKey(): Promise<SignedPreKeyRecord | null> {
    const state = await this.#load();
    return state.currentSignedPreKeyId === undefined
      ? null
      : this.#store.getSignedPreKey(state.currentSignedPreKeyId).then(ownRecord);
  }

  async currentLastResortKyberPreKey(): Promise<KyberPreKeyRecord | null> {
    const state = await this.#load();
    return state.currentLastResortKyberPreKeyId === undefined
      ? null
      : this.#store.getKyberPreKey(state.currentLastResortKyberPreKeyId).then(ownRecord);
  }

  /** Deletes replaced signed / last-resort keys whose grace period is over; returns how many. */
  async removeExpiredKeys(): Promise<number> {
    return this.#locked(async (store) => {
      const state = await this.#load(store);
      const now = this.#now();
      const goneSigned = expiredOf(state, ROTATING.signed, now, this.#grace);
      const goneKyber = expiredOf(state, ROTATING.lastResort, now, this.#grace);
      for (const k of goneSigned) await store.removeSignedPreKey(k.id);
      for (const k of goneKyber) await store.removeKyberPreKey(k.id);
      if (goneSigned.length + goneKyber.length > 0) {
        await store.savePreKeyState(
          state.with({
            retiredSignedPreKeys: state.retiredSignedPreKeys.filter((k) => !goneSigned.includes(k)),
            retiredLastResortKyberPreKeys: state.retiredLastResortKyberPreKeys.filter(
              (k) => !goneKyber.includes(k),
            ),
          }),
        );
      }
      return goneSigned.length + goneKyber.length;
    });
  }

  /**
   * Does everything `status` asks for and returns what to upload. Keys whose upload was never
   * confirmed (`confirmUpload`) are in it again — the current signed / last-resort key, and one-time
   * keys generated since the last confirmed upload (in place of new ones): that upload may have failed.
   */
  async maintain(serverCounts: { preKeys: number; kyberPreKeys: number }): Promise<PreKeyUpload> {
    // Its locked steps come after awaits, where a call from a PreKey message's `deliver` no longer shows.
    const refusal = deliverRefusal(this.#locks, [PREKEY_STATE_LOCK]);
    if (refusal) throw refusal;
    const s = await this.status(serverCounts);
    let state = await this.#load();
    const preKeys = await unconfirmedOneTime<PreKeyRecord>(this.#store, state, ONE_TIME.ec, s.refillPreKeys);
    if (preKeys.length < s.refillPreKeys)
      preKeys.push(...(await this.generatePreKeys(s.refillPreKeys - preKeys.length)));
    const kyberPreKeys = await unconfirmedOneTime<KyberPreKeyRecord>(
      this.#store,
      state,
      ONE_TIME.kyber,
      s.refillKyberPreKeys,
    );
    if (kyberPreKeys.length < s.refillKyberPreKeys)
      kyberPreKeys.push(...(await this.generateKyberPreKeys(s.refillKyberPreKeys - kyberPreKeys.length)));
    state = await this.#load();
    const unconfirmed = (f: Rotating) => {
      const id = state[f.current];
      return id !== undefined && id !== state[f.uploaded] ? id : undefined;
    };
    const signedId = unconfirmed(ROTATING.signed);
    const kyberId = unconfirmed(ROTATING.lastResort);
    const signedPreKey = s.rotateSignedPreKey
      ? await this.rotateSignedPreKey()
      : signedId === undefined
        ? undefined
        : (ownRecord(await this.#store.getSignedPreKey(signedId)) ?? undefined);
    const lastResortKyberPreKey = s.rotateLastResortKyberPreKey
      ? await this.rotateLastResortKyberPreKey()
      : kyberId === undefined
        ? undefined
        : (ownRecord(await this.#store.getKyberPreKey(kyberId)) ?? undefined);
    if (s.expiredKeys > 0) await this.removeExpiredKeys();
    return { preKeys, kyberPreKeys, signedPreKey, lastResortKyberPreKey };
  }

  /**
   * Call once the server accepted `upload` (from `maintain`, or keys from `rotate*`): its signed and
   * last-resort keys are then the ones the server holds. Until then `maintain` offers them again, and
   * the previously confirmed keys are kept past their grace period (the server may still hand them out).
   */
  async confirmUpload(upload: Partial<PreKeyUpload>): Promise<void> {
    if (upload === null || typeof upload !== 'object') throw new TypeError('upload must be a PreKeyUpload');
    await this.#locked(async (store) => {
      const state = await this.#load(store);
      const changes = confirmedChanges(state, upload);
      if (Object.keys(changes).length > 0) await store.savePreKeyState(state.with(changes));
    });
  }

  /**
   * Under the pre-key lock and, when the store has `transaction`, in one transaction: the state's id
   * counters and the keys they allocate commit together, and a store that compares on write (the
   * e2ee-kit stores) refuses a second context that allocated the same ids without the shared lock.
   */
  #locked<T>(fn: (store: ProtocolStore) => Promise<T>): Promise<T> {
    return runGuarded(this.#locks, PREKEY_STATE_LOCK, () => {
      const transaction = transactionOf(this.#store);
      return transaction === undefined ? fn(this.#store) : transaction((tx) => fn(tx.protocol));
    });
  }

  async #load(store: ProtocolStore = this.#store): Promise<PreKeyStateRecord> {
    return ownRecord(await store.getPreKeyState()) ?? initialState(this.#provider);
  }
}
redact(PreKeyManager, '[PreKeyManager]');

function positiveInt(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1)
    throw new RangeError(`${name} must be a positive integer`);
  return v;
}
