/**
 * What every group operation on one store shares: the store and its record calls (a failure becomes
 * a `StoreError`), the per-(sender, distribution id) lock, the provider and clock, own chains'
 * creation and their key-holder lists.
 */
import {
  type Address,
  addressToString,
  type CryptoProvider,
  constantTimeEqual,
  isLockManager,
  type LockManager,
  redact,
  resolveProvider,
  StoreError,
} from '@e2ee-kit/core';
import { DEFAULT_ROTATION_GRACE_MS, SENDER_KEY_MESSAGE_VERSION } from './constants.js';
import { type DeliverScope, runDeliver, runGuarded } from './deliver-guard.js';
import type { GroupCipherOptions, TransactionalSenderKeyStore } from './group-types.js';
import { decodeHolderLists, encodeHolders, type HolderLists, KeyHolderRecord } from './holders.js';
import { SenderKeyDistributionMessage } from './messages.js';
import { effectiveVersion, SenderKeyRecord, type SenderKeyStateData } from './record.js';
import { ownRecord } from './record-brand.js';
import { storeLock } from './shared-state.js';
import { generateSigningKey, SigningSeedCache } from './signing.js';
import type { SenderKeyStore } from './store.js';
import { journaled } from './undo-journal.js';

interface PerStore {
  readonly seeds: SigningSeedCache;
  /** Decoded key-holder lists of recent own records (not secret), checked against the stored bytes. */
  readonly holders: Map<string, { blob: Uint8Array; lists: HolderLists }>;
}

/**
 * Per store object: the caches every cipher of this copy on that store shares. The lock is shared by
 * every copy (`shared-state.ts`).
 */
const perStore = new WeakMap<object, PerStore>();

function forStore(store: SenderKeyStore): PerStore {
  let entry = perStore.get(store);
  if (!entry) {
    entry = { seeds: new SigningSeedCache(), holders: new Map() };
    perStore.set(store, entry);
  }
  return entry;
}

/** The shared parts of a `GroupCipher` (one per cipher; its caches and lock are per store object). */
export class GroupContext {
  readonly store: SenderKeyStore;
  readonly provider: CryptoProvider;
  readonly seeds: SigningSeedCache;
  readonly #locks: LockManager;
  readonly #clock: () => number;
  readonly #graceMs: number;
  readonly #holderCache: PerStore['holders'];

  constructor(store: SenderKeyStore, options: GroupCipherOptions) {
    if (
      store === null ||
      typeof store !== 'object' ||
      typeof store.loadSenderKey !== 'function' ||
      typeof store.storeSenderKey !== 'function' ||
      typeof store.loadKeyHolders !== typeof store.storeKeyHolders ||
      !['function', 'undefined'].includes(typeof store.loadKeyHolders)
    ) {
      throw new TypeError('store must implement SenderKeyStore (key-holder methods: both or neither)');
    }
    this.store = store;
    this.provider = resolveProvider(options.provider);
    const clock = options.now ?? Date.now;
    if (typeof clock !== 'function') throw new TypeError('now must be a function');
    this.#clock = () => {
      const t = clock();
      if (typeof t !== 'number' || !Number.isSafeInteger(t) || t < 0) {
        throw new RangeError('now() must return a non-negative integer (ms since the epoch)');
      }
      return t;
    };
    const grace = options.rotationGraceMs ?? DEFAULT_ROTATION_GRACE_MS;
    if (typeof grace !== 'number' || Number.isNaN(grace) || grace < 0) {
      throw new RangeError('rotationGraceMs must be a non-negative number');
    }
    this.#graceMs = grace;
    const shared = forStore(store);
    if (options.lockManager !== undefined && !isLockManager(options.lockManager))
      throw new TypeError('lockManager must have run(key, fn)');
    this.#locks = options.lockManager ?? storeLock(store);
    this.seeds = shared.seeds;
    this.#holderCache = shared.holders;
  }

  /** The clock, checked (milliseconds since the epoch). */
  now(): number {
    return this.#clock();
  }

  /**
   * Devices holding own state `state`'s chain: the key-holder record if it is for this chain (else
   * none), or, for a record written by an earlier release, the list kept inside the state. The last
   * decoding is reused while the stored bytes are the same.
   */
  async holdersOf(
    sender: Address,
    id: string,
    state: SenderKeyStateData,
    store = this.store,
  ): Promise<HolderLists> {
    return (await this.savedHoldersOf(sender, id, state, store)).lists;
  }

  /** `holdersOf`, and whether a list was saved for this chain at all (none: never handed out yet). */
  async savedHoldersOf(
    sender: Address,
    id: string,
    state: SenderKeyStateData,
    store = this.store,
  ): Promise<{ lists: HolderLists; saved: boolean }> {
    const stored =
      store.loadKeyHolders === undefined
        ? undefined
        : await this.#storeCall('loading the key holder record', asKeyHolderRecord, () =>
            (store.loadKeyHolders as NonNullable<SenderKeyStore['loadKeyHolders']>)(sender, id),
          );
    let blob: Uint8Array | undefined;
    if (stored instanceof KeyHolderRecord) {
      if (stored.chainId === state.chainId) blob = stored.encodedDevices;
    } else blob = state.holders;
    if (blob === undefined) return { lists: decodeHolderLists(undefined), saved: false };
    const key = `${addressToString(sender)}\u0000${id}`;
    const hit = this.#holderCache.get(key);
    if (hit !== undefined && constantTimeEqual(hit.blob, blob)) return { lists: hit.lists, saved: true };
    const lists = decodeHolderLists(blob);
    this.#holderCache.delete(key);
    this.#holderCache.set(key, { blob, lists });
    if (this.#holderCache.size > 64)
      this.#holderCache.delete(this.#holderCache.keys().next().value as string);
    return { lists, saved: true };
  }

  /** Records `devices` as the holders of own chain `record.states[0]` (`resend`: those of them that
   * asked for it again): in the key-holder record, or inside the state when the store has no
   * key-holder methods. */
  saveHolders(
    sender: Address,
    id: string,
    record: SenderKeyRecord,
    devices: Address[],
    resend: Address[],
    store = this.store,
  ): Promise<void> {
    const state = record.states[0] as SenderKeyStateData;
    if (store.storeKeyHolders === undefined) {
      const updated = { ...state, holders: encodeHolders(devices, resend) };
      return this.save(sender, id, record.withStates([updated, ...record.states.slice(1)]), store);
    }
    const holders = KeyHolderRecord.create(state.chainId, devices, resend);
    return this.#storeCall('storing the key holder record', undefined, () =>
      (store.storeKeyHolders as NonNullable<SenderKeyStore['storeKeyHolders']>)(sender, id, holders),
    );
  }

  expired(state: SenderKeyStateData, now: number): boolean {
    return state.supersededAt !== 0 && now - state.supersededAt > this.#graceMs;
  }

  async newOwnState(avoidChainIds: readonly number[]): Promise<SenderKeyStateData> {
    const p = this.provider;
    let chainId: number;
    do {
      const r = p.randomBytes(4);
      chainId =
        (((r[0] as number) | ((r[1] as number) << 8) | ((r[2] as number) << 16)) >>> 0) +
        (r[3] as number) * 0x1000000;
      chainId = Math.floor(chainId / 2); // libsignal: random u32 >> 1 (31-bit, as the Java library)
    } while (avoidChainIds.includes(chainId));
    const chainKey = p.randomBytes(32);
    const signing = await generateSigningKey(p);
    return {
      chainId,
      messageVersion: SENDER_KEY_MESSAGE_VERSION,
      iteration: 0,
      chainKey,
      signingPublic: signing.signingPublic,
      signingPrivate: signing.signingPrivate,
      edSeed: signing.edSeed,
      edSignBit: signing.edSignBit,
      skipped: [],
      supersededAt: 0,
      createdAt: this.now(),
      holders: undefined,
      rotation: undefined,
    };
  }

  /** `fn` under the (sender, distribution id) lock; refused from that key's own `deliver` (`deliver-guard.ts`). */
  run<T>(sender: Address, id: string, fn: () => Promise<T>): Promise<T> {
    return runGuarded(this.#locks, this.lockKey(sender, id), fn);
  }

  lockKey(sender: Address, id: string): string {
    return `${addressToString(sender)}\u0000${id}`;
  }

  /** The app's `deliver`, run as the delivery of the decrypt holding (sender, id)'s lock. */
  deliver(sender: Address, id: string, fn: (scope: DeliverScope) => Promise<void> | void): Promise<void> {
    return runDeliver(this.#locks, this.lockKey(sender, id), fn);
  }

  /**
   * `fn` over the store's transaction view (and the transaction itself) when it has `transaction`,
   * else over the store itself (and `undefined`). Every operation that writes runs in one: a store
   * that compares on commit (the e2ee-kit stores) then refuses the write of a tab or process whose
   * records another one changed since it read them, instead of silently undoing that change (a
   * chain rewound to accept a replay, a key holder forgotten). Without one, a failed operation's
   * landed writes are undone (`undo-journal.ts`).
   */
  transact<T>(
    fn: (store: SenderKeyStore, tx: { readonly senderKeys: SenderKeyStore } | undefined) => Promise<T>,
  ): Promise<T> {
    const store = this.store as Partial<TransactionalSenderKeyStore>;
    if (store.transaction === undefined) {
      // Writes land one by one: a failure after one landed puts back what the operation wrote.
      const { view, undo } = journaled(this.store);
      return fn(view, undefined).catch(async (err: unknown) => {
        await undo();
        throw err;
      });
    }
    if (typeof store.transaction !== 'function') throw new TypeError('store.transaction must be a function');
    const transaction = store.transaction as TransactionalSenderKeyStore['transaction'];
    return transaction.call<
      SenderKeyStore,
      [(tx: { readonly senderKeys: SenderKeyStore }) => Promise<T>],
      Promise<T>
    >(this.store, (tx) => {
      const inner = tx?.senderKeys;
      if (typeof inner?.loadSenderKey !== 'function' || typeof inner.storeSenderKey !== 'function')
        throw new TypeError('transaction gave no senderKeys store');
      return fn(inner, tx);
    });
  }

  load(sender: Address, id: string, from = this.store): Promise<SenderKeyRecord | undefined> {
    return this.#storeCall('loading the sender key record', asSenderKeyRecord, () =>
      from.loadSenderKey(sender, id),
    );
  }

  save(sender: Address, id: string, record: SenderKeyRecord, into = this.store): Promise<void> {
    return this.#storeCall('storing the sender key record', undefined, () =>
      into.storeSenderKey(sender, id, record),
    );
  }

  /**
   * A store call: its failure becomes a `StoreError` (cause kept); a load's answer goes through `own`
   * (this copy's record, or a refusal) unless it is nothing (`null` counts as nothing).
   */
  async #storeCall<T>(
    what: string,
    own: ((value: unknown, what: string) => T) | undefined,
    call: () => Promise<T>,
  ): Promise<T> {
    let out: T;
    try {
      out = await call();
    } catch (err) {
      throw new StoreError(`${what} failed`, { cause: err });
    }
    if (own === undefined || out === undefined) return out;
    if (out === null) return undefined as T;
    return own(out, what);
  }
}
redact(GroupContext, '[GroupContext]');

const asSenderKeyRecord = (v: unknown, what: string) =>
  ownRecord(v, SenderKeyRecord, 'SenderKeyRecord', what);
const asKeyHolderRecord = (v: unknown, what: string) =>
  ownRecord(v, KeyHolderRecord, 'KeyHolderRecord', what);

/** The distribution message of chain `state` at its current iteration. */
export function distributionMessageFor(id: string, state: SenderKeyStateData): SenderKeyDistributionMessage {
  return SenderKeyDistributionMessage.create({
    distributionId: id,
    chainId: state.chainId,
    iteration: state.iteration,
    chainKey: state.chainKey,
    signingKey: state.signingPublic,
    messageVersion: effectiveVersion(state),
  });
}
