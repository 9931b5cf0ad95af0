/**
 * `GroupCipher`: libsignal's group operations (`group_cipher.rs`) over an async `SenderKeyStore`, plus
 * the sender-side membership bookkeeping apps need (who holds the current key, rotation on removal).
 *
 * Every operation on one (sender, distribution id) runs under that key's mutex, shared by every
 * `GroupCipher` on the same store object. An operation computes the new record in memory and stores
 * it only when everything succeeded; a failure leaves the stored record untouched.
 */
import {
  type Address,
  addressToString,
  assertBytes,
  ChainWalkYielder,
  type CryptoProvider,
  DecodeError,
  DuplicateMessageError,
  E2eeError,
  ErrorCode,
  isLockManager,
  KeyedMutex,
  type LockManager,
  MessageGapError,
  redact,
  resolveProvider,
  StoreError,
  VerificationError,
  validateAddress,
} from '@e2ee-kit/core';
import {
  DEFAULT_ROTATION_GRACE_MS,
  MAX_FORWARD_JUMPS,
  MAX_MESSAGE_KEYS,
  MAX_SENDER_KEY_STATES,
  SENDER_KEY_MESSAGE_VERSION,
} from './constants.js';
import { InvalidSenderKeySessionError, MissingSenderKeyError } from './errors.js';
import { DeviceSet, decodeHolders, encodeHolders, KeyHolderRecord, uniqueDevices } from './holders.js';
import { type ChainStep, chainStep, messageKeys, nextChainKey } from './kdf.js';
import { SenderKeyDistributionMessage, SenderKeyMessage } from './messages.js';
import { effectiveVersion, SenderKeyRecord, type SenderKeyStateData, type SkippedKey } from './record.js';
import { generateSigningKey, SigningSeedCache, signMessage, verifyMessage } from './signing.js';
import type { SenderKeyStore } from './store.js';
import { normalizeDistributionId } from './uuid.js';

const MAX_ITERATION = 0xffff_ffff;

export interface GroupCipherOptions {
  /** Crypto provider (default: core's `defaultProvider`). */
  provider?: CryptoProvider;
  /** Clock in milliseconds since the epoch (default `Date.now`); used for rotation grace and key age. */
  now?: () => number;
  /**
   * How long a replaced chain of a sender still decrypts messages that were already in flight, counted
   * from the moment a newer distribution message from that sender was processed. Default one hour.
   * `Infinity` keeps replaced chains until they are evicted (libsignal's behaviour).
   */
  rotationGraceMs?: number;
  /**
   * The lock taken per (sender, distribution id). Default: in-process, per store object. Pass a
   * `WebLocksManager` when tabs or workers share one IndexedDB (the same to every cipher of it).
   */
  lockManager?: LockManager;
}

/** A sender-key store with the atomic-delivery capability (`@e2ee-kit/store-kv` and its stores). */
export interface TransactionalSenderKeyStore extends SenderKeyStore {
  transaction<T>(fn: (tx: { readonly senderKeys: SenderKeyStore }) => Promise<T>): Promise<T>;
}

/** The `tx` a store hands `deliver` (`KvTransaction` for the store packages), else `{ senderKeys }`. */
export type GroupTransactionOf<S> = S extends {
  transaction(fn: (tx: infer Tx) => Promise<unknown>): Promise<unknown>;
}
  ? Tx
  : { readonly senderKeys: S };

export interface GroupDecryptOptions<Tx> {
  /**
   * Atomic delivery: called with the message before the decrypt commits. When the store has
   * `transaction`, the updated sender-key record and everything the callback writes through `tx`
   * (`tx.app.put(…)`) commit together — a crash keeps both or neither — and a throw writes nothing.
   * Without it, the record is stored first and a throw re-stores the previous one (best effort).
   */
  deliver?: (message: GroupMessage, tx: Tx) => Promise<void> | void;
}

/** A decrypted group message. */
export interface GroupMessage {
  readonly plaintext: Uint8Array;
  readonly distributionId: string;
  readonly chainId: number;
  readonly iteration: number;
}

/** `tryDecrypt`'s answer: every expected failure as data, so the app can `switch` on `status`. */
export type GroupDecryptOutcome =
  | ({ readonly status: 'decrypted' } & GroupMessage)
  | {
      /** Ask `sender` for a distribution message for `distributionId`, then retry. */
      readonly status: 'missing-sender-key';
      readonly sender: Address;
      readonly distributionId: string;
      readonly chainId: number | undefined;
      readonly error: MissingSenderKeyError;
    }
  | {
      /** Already decrypted (or its key was evicted): drop it. */
      readonly status: 'duplicate';
      readonly error: DuplicateMessageError;
    }
  | {
      /** Malformed, badly signed, too far ahead or undecryptable: drop it. */
      readonly status: 'rejected';
      readonly error: E2eeError;
    };

/** Why `prepareSend` (or `rotate`) made a new chain. */
export type RotationReason = 'created' | 'member-removed' | 'expired' | 'requested';

export interface SendPlan {
  readonly distributionId: string;
  /** The chain that `encrypt` will use now. Pass it to `markDelivered`. */
  readonly chainId: number;
  /** Set when this call made a new chain (new chain id, chain key and signing key; same distribution id). */
  readonly rotation: RotationReason | undefined;
  /** Devices that held the previous key but are not in `members`: the reason for a rotation. */
  readonly removed: readonly Address[];
  /** Member devices that do not hold the current key: send each `distributionMessage` pairwise. */
  readonly needsDistribution: readonly Address[];
  /** The current chain's distribution message. */
  readonly distributionMessage: SenderKeyDistributionMessage;
}

export interface PrepareSendOptions {
  /** Rotate when the current chain is older than this (Signal rotates at most every 90 days). */
  maxAgeMs?: number;
}

interface PerStore {
  readonly mutex: KeyedMutex;
  readonly seeds: SigningSeedCache;
  /** Decoded key-holder lists of recent own records (not secret), checked against the stored bytes. */
  readonly holders: Map<string, { blob: Uint8Array; set: DeviceSet }>;
}

/** Per store object: what every cipher on that store shares. */
const perStore = new WeakMap<object, PerStore>();

function forStore(store: SenderKeyStore): PerStore {
  let entry = perStore.get(store);
  if (!entry) {
    entry = { mutex: new KeyedMutex(), seeds: new SigningSeedCache(), holders: new Map() };
    perStore.set(store, entry);
  }
  return entry;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class GroupCipher<S extends SenderKeyStore = SenderKeyStore> {
  readonly #store: SenderKeyStore;
  readonly #locks: LockManager;
  readonly #provider: CryptoProvider;
  readonly #now: () => number;
  readonly #graceMs: number;
  readonly #seeds: SigningSeedCache;
  readonly #holderCache: PerStore['holders'];

  constructor(store: S, options: GroupCipherOptions = {}) {
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
    this.#store = store;
    this.#provider = resolveProvider(options.provider);
    const clock = options.now ?? Date.now;
    if (typeof clock !== 'function') throw new TypeError('now must be a function');
    this.#now = () => {
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
    this.#locks = options.lockManager ?? shared.mutex;
    this.#seeds = shared.seeds;
    this.#holderCache = shared.holders;
  }

  // -------------------------------------------------------------------------------------------
  // libsignal's four operations

  /**
   * The distribution message for `sender`'s current chain under `distributionId`, creating the chain
   * (random 31-bit chain id, chain key and signing key) on first use. A later call returns the chain
   * at its current iteration, so a member who receives it cannot read earlier messages.
   */
  async createDistributionMessage(
    sender: Address,
    distributionId: string,
  ): Promise<SenderKeyDistributionMessage> {
    validateAddress(sender);
    const id = normalizeDistributionId(distributionId);
    return this.#run(sender, id, async () => {
      const record = await this.#load(sender, id);
      let state = record?.states[0];
      if (state === undefined) {
        state = await this.#newOwnState([]);
        await this.#save(sender, id, SenderKeyRecord.fromStates([state]));
      }
      return distributionMessageFor(id, state);
    });
  }

  /**
   * Stores the chain a member's distribution message describes, as libsignal does: a known chain (same
   * chain id and signing key) is kept as it is, so a re-sent message can neither rewind nor reset a
   * receiver; a chain id with a different key replaces the old state; at most 5 states are kept.
   */
  async processDistributionMessage(
    sender: Address,
    message: SenderKeyDistributionMessage | Uint8Array,
  ): Promise<void> {
    validateAddress(sender);
    const skdm =
      message instanceof SenderKeyDistributionMessage
        ? message
        : SenderKeyDistributionMessage.deserialize(message);
    const id = skdm.distributionId;
    await this.#run(sender, id, async () => {
      const record = await this.#load(sender, id);
      const now = this.#now();
      const states = record?.states ?? [];
      const existing = states.findIndex(
        (s) => s.chainId === skdm.chainId && s.signingPublic.equals(skdm.signingKey),
      );
      if (existing === 0) return; // already the current chain: nothing changes
      const state: SenderKeyStateData =
        existing > 0
          ? { ...(states[existing] as SenderKeyStateData), supersededAt: 0 }
          : {
              chainId: skdm.chainId,
              messageVersion: skdm.messageVersion,
              iteration: skdm.iteration,
              chainKey: skdm.chainKey(),
              signingPublic: skdm.signingKey,
              signingPrivate: undefined,
              edSeed: undefined,
              edSignBit: 0,
              skipped: [],
              supersededAt: 0,
              createdAt: 0,
              holders: undefined,
            };
      const rest = states
        .filter((s) => s.chainId !== skdm.chainId && !this.#expired(s, now))
        .map((s) => (s.supersededAt === 0 ? { ...s, supersededAt: now } : s));
      while (rest.length >= MAX_SENDER_KEY_STATES) rest.pop();
      await this.#save(sender, id, SenderKeyRecord.fromStates([state, ...rest]));
    });
  }

  /** Encrypts one group message with `sender`'s current chain: one call per message, whatever the group size. */
  async encrypt(sender: Address, distributionId: string, plaintext: Uint8Array): Promise<Uint8Array> {
    validateAddress(sender);
    const id = normalizeDistributionId(distributionId);
    assertBytes(plaintext, 'plaintext');
    return this.#run(sender, id, () =>
      // In one transaction when the store has them: a store that compares on write (the e2ee-kit
      // stores) then refuses a second tab or process advancing the same chain from the same state.
      this.#inTransaction(async (store) => {
        const record = await this.#load(sender, id, store);
        if (record === undefined) throw new MissingSenderKeyError(sender, id);
        const state = record.states[0];
        if (state === undefined) throw new InvalidSenderKeySessionError(id, 'the record has no state');
        if (state.signingPrivate === undefined) {
          throw new InvalidSenderKeySessionError(id, 'the current state has no private signing key');
        }
        if (state.iteration === MAX_ITERATION)
          throw new InvalidSenderKeySessionError(id, 'sender chain is too long');
        const p = this.#provider;
        const { seed, next } = await chainStep(state.chainKey, p);
        const keys = await messageKeys(seed, p);
        const ciphertext = await p.aes256CbcEncrypt(keys.cipherKey, keys.iv, plaintext);
        const unsigned = SenderKeyMessage.encodeUnsigned({
          distributionId: id,
          chainId: state.chainId,
          iteration: state.iteration,
          ciphertext,
          messageVersion: effectiveVersion(state),
        });
        const signature = await signMessage(state, unsigned, p, this.#seeds);
        const updated: SenderKeyStateData = { ...state, iteration: state.iteration + 1, chainKey: next };
        await this.#save(sender, id, SenderKeyRecord.fromStates([updated, ...record.states.slice(1)]), store);
        const out = new Uint8Array(unsigned.length + signature.length);
        out.set(unsigned, 0);
        out.set(signature, unsigned.length);
        return out;
      }),
    );
  }

  /** `fn` over the store's transaction view when it has `transaction`, else over the store itself. */
  #inTransaction<T>(fn: (store: SenderKeyStore) => Promise<T>): Promise<T> {
    const store = this.#store as Partial<TransactionalSenderKeyStore>;
    if (store.transaction === undefined) return fn(this.#store);
    if (typeof store.transaction !== 'function') throw new TypeError('store.transaction must be a function');
    const transaction = store.transaction as TransactionalSenderKeyStore['transaction'];
    return transaction.call<
      SenderKeyStore,
      [(tx: { readonly senderKeys: SenderKeyStore }) => Promise<T>],
      Promise<T>
    >(this.#store, (tx) => {
      const inner = tx?.senderKeys;
      if (typeof inner?.loadSenderKey !== 'function' || typeof inner.storeSenderKey !== 'function')
        throw new TypeError('transaction gave no senderKeys store');
      return fn(inner);
    });
  }

  /**
   * Decrypts a group message from `sender`, checking in libsignal's order: decode, record, chain id,
   * version, signature, iteration (duplicate / too far ahead), then AES-CBC. The updated record is
   * stored before the plaintext is returned; any failure stores nothing.
   */
  async decrypt(
    sender: Address,
    message: Uint8Array | SenderKeyMessage,
    options: GroupDecryptOptions<GroupTransactionOf<S>> = {},
  ): Promise<GroupMessage> {
    validateAddress(sender);
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
    const { deliver } = options;
    if (deliver !== undefined && typeof deliver !== 'function')
      throw new TypeError('options.deliver must be a function');
    const skm = message instanceof SenderKeyMessage ? message : SenderKeyMessage.deserialize(message);
    const id = skm.distributionId;
    const store = this.#store as Partial<TransactionalSenderKeyStore>;
    if (store.transaction !== undefined && typeof store.transaction !== 'function')
      throw new TypeError('store.transaction must be a function');
    return this.#run(sender, id, async () => {
      if (store.transaction !== undefined) {
        const transaction = store.transaction as TransactionalSenderKeyStore['transaction'];
        return transaction.call<
          SenderKeyStore,
          [(tx: { readonly senderKeys: SenderKeyStore }) => Promise<GroupMessage>],
          Promise<GroupMessage>
        >(this.#store, async (tx) => {
          const inner = tx?.senderKeys;
          if (typeof inner?.loadSenderKey !== 'function' || typeof inner.storeSenderKey !== 'function')
            throw new TypeError('transaction gave no senderKeys store');
          const { decrypted } = await this.#decryptIn(inner, sender, skm, id);
          await deliver?.(decrypted, tx as GroupTransactionOf<S>);
          return decrypted;
        });
      }
      const { decrypted, before } = await this.#decryptIn(this.#store, sender, skm, id);
      if (deliver !== undefined) {
        try {
          await deliver(decrypted, { senderKeys: this.#store } as GroupTransactionOf<S>);
        } catch (err) {
          // Best effort without a transaction: put the previous record back, then report.
          await this.#save(sender, id, before).catch(() => undefined);
          throw err;
        }
      }
      return decrypted;
    });
  }

  async #decryptIn(
    into: SenderKeyStore,
    sender: Address,
    skm: SenderKeyMessage,
    id: string,
  ): Promise<{ decrypted: GroupMessage; before: SenderKeyRecord }> {
    const record = await this.#load(sender, id, into);
    if (record === undefined) throw new MissingSenderKeyError(sender, id);
    const now = this.#now();
    const index = record.states.findIndex((s) => s.chainId === skm.chainId);
    const state = record.states[index];
    if (state === undefined || this.#expired(state, now)) {
      throw new MissingSenderKeyError(sender, id, skm.chainId);
    }
    if (skm.messageVersion !== effectiveVersion(state)) {
      throw new DecodeError(`message version ${skm.messageVersion} does not match the sender key state`);
    }
    const p = this.#provider;
    const parts = skm.parts;
    // The signature decides first, as in libsignal. While it is checked (off the main thread with
    // Web Crypto), the message is opened if its key needs no chain walk (the next message, or a kept
    // skipped key); that work is dropped unless the signature holds, and no forward-jump key is
    // derived before it does.
    const verified = verifyMessage(state.signingPublic, parts.signed, parts.signature, p);
    const direct = directKey(state, skm.iteration, p);
    const early = direct === undefined ? undefined : this.#open(direct, parts.ciphertext);
    if (!(await verified)) {
      await early; // settled, never rejects: its answer is dropped with the message
      throw new VerificationError('invalid signature detected', { code: ErrorCode.InvalidSignature });
    }
    const opened = await (early ??
      this.#open(this.#messageKeyFor(state, skm.iteration, id), parts.ciphertext));
    if (!opened.ok) throw opened.error;
    const { plaintext, next } = opened;
    const states = record.states
      .map((s, i) => (i === index ? next : s))
      .filter((s, i) => i === 0 || !this.#expired(s, now));
    await this.#save(sender, id, SenderKeyRecord.fromStates(states), into);
    return {
      decrypted: { plaintext, distributionId: id, chainId: skm.chainId, iteration: skm.iteration },
      before: record,
    };
  }

  /**
   * `decrypt`, with every message-level failure returned as data instead of thrown. Store failures
   * and programmer errors (wrong argument types) are still thrown.
   */
  async tryDecrypt(
    sender: Address,
    message: Uint8Array | SenderKeyMessage,
    options: GroupDecryptOptions<GroupTransactionOf<S>> = {},
  ): Promise<GroupDecryptOutcome> {
    // An error the app's own `deliver` throws is the app's (its write failed): it is rethrown as it
    // is, never reported as a status of the message.
    let delivering = false;
    const deliver = options?.deliver;
    const wrapped: GroupDecryptOptions<GroupTransactionOf<S>> =
      typeof deliver === 'function'
        ? {
            deliver: (m, tx) => {
              delivering = true;
              return deliver(m, tx);
            },
          }
        : options;
    try {
      const m = await this.decrypt(sender, message, wrapped);
      return { status: 'decrypted', ...m };
    } catch (err) {
      if (delivering) throw err;
      if (err instanceof MissingSenderKeyError) {
        return {
          status: 'missing-sender-key',
          sender: err.sender,
          distributionId: err.distributionId,
          chainId: err.chainId,
          error: err,
        };
      }
      if (err instanceof DuplicateMessageError) return { status: 'duplicate', error: err };
      if (E2eeError.is(err) && !(err instanceof StoreError)) return { status: 'rejected', error: err };
      throw err;
    }
  }

  // -------------------------------------------------------------------------------------------
  // membership (sender side)

  /**
   * Call before sending to a group. Given the member devices that should read the message now, it
   * rotates the chain when a device that held the key is no longer a member (or the chain is older
   * than `maxAgeMs`), and lists the devices that need the distribution message. Send
   * `plan.distributionMessage` to `plan.needsDistribution` over pairwise sessions, call
   * `markDelivered`, then `encrypt` once.
   */
  async prepareSend(
    sender: Address,
    distributionId: string,
    members: readonly Address[],
    options: PrepareSendOptions = {},
  ): Promise<SendPlan> {
    validateAddress(sender);
    const id = normalizeDistributionId(distributionId);
    if (!Array.isArray(members)) throw new TypeError('members must be an array of addresses');
    const memberList = members.slice();
    for (const m of memberList) validateAddress(m);
    const { maxAgeMs } = options;
    if (maxAgeMs !== undefined && (typeof maxAgeMs !== 'number' || Number.isNaN(maxAgeMs) || maxAgeMs < 0)) {
      throw new RangeError('maxAgeMs must be a non-negative number');
    }
    return this.#run(sender, id, async () => {
      const record = await this.#load(sender, id);
      const now = this.#now();
      let state = record?.states[0];
      let rotation: RotationReason | undefined;
      const removed: Address[] = [];
      // One pass over the members: which holders are still members, which members lack the key.
      const holders =
        state === undefined || state.signingPrivate === undefined
          ? new DeviceSet()
          : await this.#holdersOf(sender, id, state);
      const held = new Uint8Array(holders.size);
      const lacking = new DeviceSet();
      for (const m of memberList) {
        const i = holders.indexOf(m.name, m.deviceId);
        if (i >= 0) held[i] = 1;
        else lacking.add(m.name, m.deviceId);
      }
      if (state === undefined || state.signingPrivate === undefined) {
        rotation = 'created';
      } else {
        for (let i = 0; i < held.length; i++) if (held[i] === 0) removed.push(holders.at(i));
        if (removed.length > 0) rotation = 'member-removed';
        else if (maxAgeMs !== undefined && state.createdAt !== 0 && now - state.createdAt >= maxAgeMs) {
          rotation = 'expired';
        }
      }
      let needsDistribution = lacking.list();
      if (rotation !== undefined) {
        state = await this.#newOwnState(record?.chainIds ?? []);
        await this.#save(sender, id, SenderKeyRecord.fromStates([state]));
        needsDistribution = uniqueDevices(memberList, 'members').list();
      }
      const current = state as SenderKeyStateData;
      return {
        distributionId: id,
        chainId: current.chainId,
        rotation,
        removed,
        needsDistribution,
        distributionMessage: distributionMessageFor(id, current),
      };
    });
  }

  /**
   * Records that `devices` received the distribution message of chain `chainId`. Returns false (and
   * records nothing) if the chain was replaced in the meantime: prepare the send again.
   */
  async markDelivered(
    sender: Address,
    distributionId: string,
    chainId: number,
    devices: readonly Address[],
  ): Promise<boolean> {
    validateAddress(sender);
    const id = normalizeDistributionId(distributionId);
    const list = uniqueDevices(devices, 'devices').list();
    return this.#run(sender, id, async () => {
      const record = await this.#load(sender, id);
      const state = record?.states[0];
      if (state === undefined || state.chainId !== chainId || state.signingPrivate === undefined)
        return false;
      const holders = await this.#holdersOf(sender, id, state);
      const updated = holders.list();
      const size = holders.size;
      for (const d of list) if (holders.indexOf(d.name, d.deviceId) < 0) updated.push(d);
      if (updated.length !== size) await this.#saveHolders(sender, id, record as SenderKeyRecord, updated);
      return true;
    });
  }

  /**
   * Forgets that `devices` hold the current key, so the next `prepareSend` lists them again. Use it when
   * a device asks for a resend (it reported a missing sender key) or was re-registered with the same id.
   */
  async markNeedsDistribution(
    sender: Address,
    distributionId: string,
    devices: readonly Address[],
  ): Promise<void> {
    validateAddress(sender);
    const id = normalizeDistributionId(distributionId);
    const drop = uniqueDevices(devices, 'devices');
    await this.#run(sender, id, async () => {
      const record = await this.#load(sender, id);
      const state = record?.states[0];
      if (state === undefined || state.signingPrivate === undefined) return;
      const holders = (await this.#holdersOf(sender, id, state)).list();
      const kept = holders.filter((h) => !drop.has(h));
      if (kept.length === holders.length) return;
      await this.#saveHolders(sender, id, record as SenderKeyRecord, kept);
    });
  }

  /**
   * Replaces `sender`'s chain now: new chain id, chain key and signing key under the same distribution
   * id, with nobody recorded as holding it. Returns the new distribution message.
   */
  async rotate(sender: Address, distributionId: string): Promise<SenderKeyDistributionMessage> {
    validateAddress(sender);
    const id = normalizeDistributionId(distributionId);
    return this.#run(sender, id, async () => {
      const record = await this.#load(sender, id);
      const state = await this.#newOwnState(record?.chainIds ?? []);
      await this.#save(sender, id, SenderKeyRecord.fromStates([state]));
      return distributionMessageFor(id, state);
    });
  }

  /** Member devices recorded as holding `sender`'s current chain for `distributionId`. */
  async keyHolders(sender: Address, distributionId: string): Promise<Address[]> {
    validateAddress(sender);
    const id = normalizeDistributionId(distributionId);
    return this.#run(sender, id, async () => {
      const record = await this.#load(sender, id);
      const state = record?.states[0];
      return state?.signingPrivate === undefined ? [] : (await this.#holdersOf(sender, id, state)).list();
    });
  }

  // -------------------------------------------------------------------------------------------

  /**
   * Devices holding own state `state`'s chain: the key-holder record if it is for this chain (else
   * none), or, for a record written by an earlier release, the list kept inside the state. The last
   * decoding is reused while the stored bytes are the same.
   */
  async #holdersOf(sender: Address, id: string, state: SenderKeyStateData): Promise<DeviceSet> {
    const store = this.#store;
    const stored =
      store.loadKeyHolders === undefined
        ? undefined
        : await this.#storeCall('loading the key holder record', isKeyHolderRecord, () =>
            (store.loadKeyHolders as NonNullable<SenderKeyStore['loadKeyHolders']>)(sender, id),
          );
    let blob: Uint8Array | undefined;
    if (stored instanceof KeyHolderRecord) {
      if (stored.chainId === state.chainId) blob = stored.encodedDevices;
    } else blob = state.holders;
    if (blob === undefined) return new DeviceSet();
    const key = `${addressToString(sender)}\u0000${id}`;
    const hit = this.#holderCache.get(key);
    if (hit !== undefined && sameBytes(hit.blob, blob)) return hit.set;
    const set = decodeHolders(blob);
    this.#holderCache.delete(key);
    this.#holderCache.set(key, { blob, set });
    if (this.#holderCache.size > 64)
      this.#holderCache.delete(this.#holderCache.keys().next().value as string);
    return set;
  }

  /** Records `devices` as the holders of own chain `record.states[0]`: in the key-holder record, or
   * inside the state when the store has no key-holder methods. */
  #saveHolders(sender: Address, id: string, record: SenderKeyRecord, devices: Address[]): Promise<void> {
    const state = record.states[0] as SenderKeyStateData;
    const store = this.#store;
    if (store.storeKeyHolders === undefined) {
      const updated = { ...state, holders: encodeHolders(devices) };
      return this.#save(sender, id, SenderKeyRecord.fromStates([updated, ...record.states.slice(1)]));
    }
    const holders = KeyHolderRecord.create(state.chainId, devices);
    return this.#storeCall('storing the key holder record', undefined, () =>
      (store.storeKeyHolders as NonNullable<SenderKeyStore['storeKeyHolders']>)(sender, id, holders),
    );
  }

  #expired(state: SenderKeyStateData, now: number): boolean {
    return state.supersededAt !== 0 && now - state.supersededAt > this.#graceMs;
  }

  /**
   * Decrypts `ciphertext` with the message key `key` gives, as a settled answer: the plaintext and the
   * updated state, or the error (a bad length or padding is `BAD_PADDING`; a key failure is kept).
   */
  async #open(key: MessageKeyFor | Promise<MessageKeyFor>, ciphertext: Uint8Array): Promise<Opened> {
    try {
      const { seed, next } = await key;
      const p = this.#provider;
      const keys = await messageKeys(seed, p);
      try {
        return { ok: true, plaintext: await p.aes256CbcDecrypt(keys.cipherKey, keys.iv, ciphertext), next };
      } catch (err) {
        if (!E2eeError.is(err)) throw err;
        throw new VerificationError('sender key decryption failed', { code: ErrorCode.BadPadding });
      }
    } catch (error) {
      return { ok: false, error };
    }
  }

  async #messageKeyFor(state: SenderKeyStateData, iteration: number, id: string): Promise<MessageKeyFor> {
    const current = state.iteration;
    if (iteration < current) {
      const kept = directKey(state, iteration, this.#provider);
      if (kept === undefined)
        throw new DuplicateMessageError(`message with old counter ${current} / ${iteration}`);
      return kept;
    }
    if (iteration - current > MAX_FORWARD_JUMPS) {
      throw new MessageGapError('message from too far into the future');
    }
    if (iteration === MAX_ITERATION) throw new InvalidSenderKeySessionError(id, 'sender chain is too long');
    const p = this.#provider;
    // Keys for iterations current..iteration-1 are kept for late messages; only the newest
    // MAX_MESSAGE_KEYS of them can survive eviction, so only those seeds are derived.
    const keepFrom = iteration - Math.min(iteration - current, MAX_MESSAGE_KEYS);
    const fresh: SkippedKey[] = [];
    let chainKey = state.chainKey;
    const yielder = new ChainWalkYielder();
    for (let j = current; j < iteration; j++) {
      if (j >= keepFrom) {
        const step = await chainStep(chainKey, p);
        fresh.push({ iteration: j, seed: step.seed });
        chainKey = step.next;
      } else chainKey = await nextChainKey(chainKey, p);
      // A valid jump of up to 25,000 steps must not hold the event loop: see core's ChainWalkYielder.
      const pause = yielder.maybeYield();
      if (pause !== undefined) await pause;
    }
    const { seed, next } = await chainStep(chainKey, p);
    let skipped = state.skipped;
    if (fresh.length > 0) {
      const keepOld = MAX_MESSAGE_KEYS - fresh.length;
      skipped = [...(keepOld > 0 ? state.skipped.slice(-keepOld) : []), ...fresh];
    }
    return { seed, next: { ...state, iteration: iteration + 1, chainKey: next, skipped } };
  }

  async #newOwnState(avoidChainIds: readonly number[]): Promise<SenderKeyStateData> {
    const p = this.#provider;
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
      createdAt: this.#now(),
      holders: undefined,
    };
  }

  #run<T>(sender: Address, id: string, fn: () => Promise<T>): Promise<T> {
    return this.#locks.run(`${addressToString(sender)}\u0000${id}`, fn);
  }

  #load(sender: Address, id: string, from = this.#store): Promise<SenderKeyRecord | undefined> {
    return this.#storeCall('loading the sender key record', isSenderKeyRecord, () =>
      from.loadSenderKey(sender, id),
    );
  }

  #save(sender: Address, id: string, record: SenderKeyRecord, into = this.#store): Promise<void> {
    return this.#storeCall('storing the sender key record', undefined, () =>
      into.storeSenderKey(sender, id, record),
    );
  }

  /**
   * A store call: its failure becomes a `StoreError` (cause kept); a load's answer must pass `isType`
   * or be nothing (`null` counts as nothing).
   */
  async #storeCall<T>(
    what: string,
    isType: ((value: unknown) => boolean) | undefined,
    call: () => Promise<T>,
  ): Promise<T> {
    let out: T;
    try {
      out = await call();
    } catch (err) {
      throw new StoreError(`${what} failed`, { cause: err });
    }
    if (isType === undefined || out === undefined) return out;
    if (out === null) return undefined as T;
    if (!isType(out)) throw new StoreError(`${what}: the store returned something else`);
    return out;
  }
}
redact(GroupCipher, '[GroupCipher]');

/** A message key and the state after using it. */
interface MessageKeyFor {
  readonly seed: Uint8Array;
  readonly next: SenderKeyStateData;
}

type Opened =
  | { readonly ok: true; readonly plaintext: Uint8Array; readonly next: SenderKeyStateData }
  | { readonly ok: false; readonly error: unknown };

/**
 * The key of message `iteration` when no chain walk is needed: a kept skipped key (removed from the
 * state), or the chain's next key (the chain advances by one). Otherwise undefined (a duplicate, a
 * jump ahead, or the last iteration: `#messageKeyFor` decides those).
 */
function directKey(
  state: SenderKeyStateData,
  iteration: number,
  provider: CryptoProvider,
): MessageKeyFor | Promise<MessageKeyFor> | undefined {
  if (iteration < state.iteration) {
    const at = state.skipped.findIndex((k) => k.iteration === iteration);
    if (at < 0) return undefined;
    const skipped = state.skipped.slice();
    const [key] = skipped.splice(at, 1);
    return { seed: (key as SkippedKey).seed, next: { ...state, skipped } };
  }
  if (iteration !== state.iteration || iteration === MAX_ITERATION) return undefined;
  const advance = (step: ChainStep): MessageKeyFor => ({
    seed: step.seed,
    next: { ...state, iteration: iteration + 1, chainKey: step.next },
  });
  const step = chainStep(state.chainKey, provider);
  return step instanceof Promise ? step.then(advance) : advance(step);
}

const isSenderKeyRecord = (v: unknown) => v instanceof SenderKeyRecord;
const isKeyHolderRecord = (v: unknown) => v instanceof KeyHolderRecord;

function distributionMessageFor(id: string, state: SenderKeyStateData): SenderKeyDistributionMessage {
  return SenderKeyDistributionMessage.create({
    distributionId: id,
    chainId: state.chainId,
    iteration: state.iteration,
    chainKey: state.chainKey,
    signingKey: state.signingPublic,
    messageVersion: effectiveVersion(state),
  });
}
