/** The public options and answers of `GroupCipher`. */
import type { Address, CryptoProvider, DuplicateMessageError, E2eeError, LockManager } from '@e2ee-kit/core';
import type { DeliverScope } from './deliver-guard.js';
import type { MissingSenderKeyError } from './errors.js';
import type { SenderKeyDistributionMessage } from './messages.js';
import type { SenderKeyStore } from './store.js';

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
   * Without it, the record is stored first and a throw re-stores the previous one (best effort, up to
   * 3 tries). A `GroupCipher` call for the same sender and distribution id made from it
   * synchronously, or inside `scope.run(fn)` after an await, is refused with `REENTRANT_CALL` (it
   * would wait for ever for this decrypt); made after an await without `scope.run`, it is refused so
   * only after waiting a minute. Make such calls once `decrypt` has resolved.
   */
  deliver?: (message: GroupMessage, tx: Tx, scope: DeliverScope) => Promise<void> | void;
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
  /**
   * Set when this call made a new chain (new chain id, chain key and signing key; same distribution
   * id) — or when the call that made it stored it and then failed (a store without transactions,
   * the chain left in place: the group's first, or the undo failed too): its retry reports that
   * rotation, with `removed` empty.
   */
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
