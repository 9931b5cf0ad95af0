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
  assertBytes,
  copyBytes,
  DecodeError,
  DuplicateMessageError,
  E2eeError,
  ErrorCode,
  redact,
  StoreError,
  VerificationError,
  validateAddress,
} from '@e2ee-kit/core';
import { directKey, MAX_ITERATION, messageKeyFor, openMessage } from './chain-keys.js';
import { MAX_SENDER_KEY_STATES } from './constants.js';
import { InvalidSenderKeySessionError, MissingSenderKeyError, SenderKeyErrorCode } from './errors.js';
import { distributionMessageFor, GroupContext } from './group-context.js';
import type {
  GroupCipherOptions,
  GroupDecryptOptions,
  GroupDecryptOutcome,
  GroupMessage,
  GroupTransactionOf,
  PrepareSendOptions,
  SendPlan,
} from './group-types.js';
import { chainStep, messageKeys } from './kdf.js';
import * as membership from './membership.js';
import { ownSkdm, ownSkm, type SenderKeyDistributionMessage, SenderKeyMessage } from './messages.js';
import { effectiveVersion, SenderKeyRecord, type SenderKeyStateData } from './record.js';
import { signMessage, verifyMessage } from './signing.js';
import type { SenderKeyStore } from './store.js';
import { normalizeDistributionId } from './uuid.js';

export class GroupCipher<S extends SenderKeyStore = SenderKeyStore> {
  readonly #ctx: GroupContext;

  constructor(store: S, options: GroupCipherOptions = {}) {
    this.#ctx = new GroupContext(store, options);
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
    return this.#ctx.run(sender, id, () =>
      this.#ctx.transact(async (store) => {
        const record = await this.#ctx.load(sender, id, store);
        let state = record?.states[0];
        if (state === undefined) {
          state = await this.#ctx.newOwnState([]);
          await this.#ctx.save(sender, id, SenderKeyRecord.fromStates([state]), store);
        }
        return distributionMessageFor(id, state);
      }),
    );
  }

  /**
   * Stores the chain a member's distribution message describes, as libsignal does: a known chain (same
   * chain id and signing key) is kept as it is, so a re-sent message can neither rewind nor reset a
   * receiver; a chain id with a different key replaces the old state; at most 5 states are kept.
   * Only a chain not yet stored starts the rotation grace of the others. Unlike libsignal, a chain
   * this record retired (its grace ended, a sixth chain pushed it out, a new key took its chain id)
   * comes back only from the iteration it had reached here: an earlier SKDM of it is ignored, as a
   * replay, so no message decrypted once decrypts again.
   */
  async processDistributionMessage(
    sender: Address,
    message: SenderKeyDistributionMessage | Uint8Array,
  ): Promise<void> {
    validateAddress(sender);
    const skdm = ownSkdm(message);
    const id = skdm.distributionId;
    await this.#ctx.run(sender, id, () =>
      this.#ctx.transact(async (store) => {
        const record = await this.#ctx.load(sender, id, store);
        const now = this.#ctx.now();
        const states = record?.states ?? [];
        const existing = states.findIndex(
          (s) => s.chainId === skdm.chainId && s.signingPublic.equals(skdm.signingKey),
        );
        if (existing === 0) return; // already the current chain: nothing changes
        const known = states[existing];
        // A chain this record retired (past its grace, or dropped and marked): an SKDM from before the
        // iteration it had reached here is a replayed or long-delayed one, ignored — stored again, the
        // messages already decrypted would decrypt again. From there on it is the sender still using
        // the chain (SKDMs that arrived out of order retired it; the app asked for a resend).
        const retired =
          known !== undefined
            ? this.#ctx.expired(known, now)
              ? known
              : undefined
            : record?.retiredChain(skdm.chainId, skdm.signingKey);
        if (retired !== undefined && skdm.iteration < retired.iteration) return;
        const state: SenderKeyStateData =
          known !== undefined && retired === undefined
            ? { ...known, supersededAt: 0 }
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
                rotation: undefined,
              };
        // Only a chain new to us replaces the others (their grace starts now). A known chain coming
        // back is a stale or resent SKDM (a retry resends a message's original content): chain ids
        // carry no order, so it must not retire the chain the sender actually uses now.
        const replaces = existing < 0 && retired === undefined;
        const rest = states
          .filter((s) => s.chainId !== skdm.chainId && !this.#ctx.expired(s, now))
          .map((s) => (replaces && s.supersededAt === 0 ? { ...s, supersededAt: now } : s));
        while (rest.length >= MAX_SENDER_KEY_STATES) rest.pop();
        const next = [state, ...rest];
        await this.#ctx.save(sender, id, record?.withStates(next) ?? SenderKeyRecord.fromStates(next), store);
      }),
    );
  }

  /** Encrypts one group message with `sender`'s current chain: one call per message, whatever the group size. */
  async encrypt(sender: Address, distributionId: string, plaintext: Uint8Array): Promise<Uint8Array> {
    validateAddress(sender);
    const id = normalizeDistributionId(distributionId);
    assertBytes(plaintext, 'plaintext');
    // Copied before the first await: the caller may reuse or transfer its buffer once this returns.
    const bytes = copyBytes(plaintext);
    return this.#ctx.run(sender, id, () =>
      // In one transaction when the store has them: a store that compares on write (the e2ee-kit
      // stores) then refuses a second tab or process advancing the same chain from the same state.
      this.#ctx.transact(async (store) => {
        const record = await this.#ctx.load(sender, id, store);
        if (record === undefined) throw new MissingSenderKeyError(sender, id);
        const state = record.states[0];
        if (state === undefined) throw new InvalidSenderKeySessionError(id, 'the record has no state');
        if (state.signingPrivate === undefined) {
          throw new InvalidSenderKeySessionError(id, 'the current state has no private signing key');
        }
        if (state.iteration === MAX_ITERATION)
          throw new InvalidSenderKeySessionError(id, 'sender chain is too long');
        const p = this.#ctx.provider;
        const { seed, next } = await chainStep(state.chainKey, p);
        const keys = await messageKeys(seed, p);
        const ciphertext = await p.aes256CbcEncrypt(keys.cipherKey, keys.iv, bytes);
        const unsigned = SenderKeyMessage.encodeUnsigned({
          distributionId: id,
          chainId: state.chainId,
          iteration: state.iteration,
          ciphertext,
          messageVersion: effectiveVersion(state),
        });
        const signature = await signMessage(state, unsigned, p, this.#ctx.seeds);
        const updated: SenderKeyStateData = { ...state, iteration: state.iteration + 1, chainKey: next };
        await this.#ctx.save(sender, id, record.withStates([updated, ...record.states.slice(1)]), store);
        const out = new Uint8Array(unsigned.length + signature.length);
        out.set(unsigned, 0);
        out.set(signature, unsigned.length);
        return out;
      }),
    );
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
    const skm = ownSkm(message);
    const id = skm.distributionId;
    return this.#ctx.run(sender, id, () =>
      this.#ctx.transact(async (into, tx) => {
        const decrypted = await this.#decryptIn(into, sender, skm, id);
        // With a transaction a throw in `deliver` rolls the record back with it; without one the
        // record is stored already and `transact` puts the previous one back (retried: a lost undo
        // leaves the key used and the redelivery a duplicate).
        if (deliver !== undefined)
          await this.#ctx.deliver(sender, id, (scope) =>
            deliver(decrypted, (tx ?? { senderKeys: this.#ctx.store }) as GroupTransactionOf<S>, scope),
          );
        return decrypted;
      }),
    );
  }

  async #decryptIn(
    into: SenderKeyStore,
    sender: Address,
    skm: SenderKeyMessage,
    id: string,
  ): Promise<GroupMessage> {
    const record = await this.#ctx.load(sender, id, into);
    if (record === undefined) throw new MissingSenderKeyError(sender, id);
    const now = this.#ctx.now();
    const index = record.states.findIndex((s) => s.chainId === skm.chainId);
    const state = record.states[index];
    if (state === undefined || this.#ctx.expired(state, now)) {
      throw new MissingSenderKeyError(sender, id, skm.chainId);
    }
    if (skm.messageVersion !== effectiveVersion(state)) {
      throw new DecodeError(`message version ${skm.messageVersion} does not match the sender key state`);
    }
    const p = this.#ctx.provider;
    const parts = skm.parts;
    // The signature decides first, as in libsignal. While it is checked (off the main thread with
    // Web Crypto), the message is opened if its key needs no chain walk (the next message, or a kept
    // skipped key); that work is dropped unless the signature holds, and no forward-jump key is
    // derived before it does.
    const verified = verifyMessage(state.signingPublic, parts.signed, parts.signature, p);
    const direct = directKey(state, skm.iteration, p);
    const early = direct === undefined ? undefined : openMessage(direct, parts.ciphertext, p);
    if (!(await verified)) {
      await early; // settled, never rejects: its answer is dropped with the message
      throw new VerificationError('invalid signature detected', { code: ErrorCode.InvalidSignature });
    }
    const opened = await (early ??
      openMessage(messageKeyFor(state, skm.iteration, id, p), parts.ciphertext, p));
    if (!opened.ok) throw opened.error;
    const { plaintext, next } = opened;
    const states = record.states
      .map((s, i) => (i === index ? next : s))
      .filter((s, i) => i === 0 || !this.#ctx.expired(s, now));
    await this.#ctx.save(sender, id, record.withStates(states), into);
    return { plaintext, distributionId: id, chainId: skm.chainId, iteration: skm.iteration };
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
    // is, never reported as a status of the message. Known by the error itself, not by "deliver ran":
    // a store that re-runs the transaction (a conflict) may have delivered in a discarded attempt,
    // and the re-run's failure (a duplicate: the other tab decrypted it) is still the message's.
    let fromDeliver: { error: unknown } | undefined;
    const deliver = options?.deliver;
    const wrapped: GroupDecryptOptions<GroupTransactionOf<S>> =
      typeof deliver === 'function'
        ? {
            deliver: async (m, tx, scope) => {
              try {
                await deliver(m, tx, scope);
              } catch (error) {
                fromDeliver = { error };
                throw error;
              }
            },
          }
        : options;
    try {
      const m = await this.decrypt(sender, message, wrapped);
      return { status: 'decrypted', ...m };
    } catch (err) {
      if (fromDeliver !== undefined && fromDeliver.error === err) throw err;
      // A call made from a deliver for its own key is the app's mistake, not the message's.
      if (E2eeError.is(err, SenderKeyErrorCode.ReentrantCall)) throw err;
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
  prepareSend(
    sender: Address,
    distributionId: string,
    members: readonly Address[],
    options: PrepareSendOptions = {},
  ): Promise<SendPlan> {
    return membership.prepareSend(this.#ctx, sender, distributionId, members, options);
  }

  /**
   * Records that `devices` received the distribution message of chain `chainId`. Returns false (and
   * records nothing) if the chain was replaced in the meantime: prepare the send again.
   */
  markDelivered(
    sender: Address,
    distributionId: string,
    chainId: number,
    devices: readonly Address[],
  ): Promise<boolean> {
    return membership.markDelivered(this.#ctx, sender, distributionId, chainId, devices);
  }

  /**
   * Forgets that `devices` hold the current key, so the next `prepareSend` lists them again. Use it when
   * a device asks for a resend (it reported a missing sender key) or was re-registered with the same id.
   * They stay recorded as having been handed the chain: one that is no longer a member (a removed
   * device can ask too) still makes the next `prepareSend` rotate.
   */
  markNeedsDistribution(sender: Address, distributionId: string, devices: readonly Address[]): Promise<void> {
    return membership.markNeedsDistribution(this.#ctx, sender, distributionId, devices);
  }

  /**
   * Replaces `sender`'s chain now: new chain id, chain key and signing key under the same distribution
   * id, with nobody recorded as holding it. Returns the new distribution message.
   */
  rotate(sender: Address, distributionId: string): Promise<SenderKeyDistributionMessage> {
    return membership.rotate(this.#ctx, sender, distributionId);
  }

  /** Member devices recorded as holding `sender`'s current chain for `distributionId`. */
  keyHolders(sender: Address, distributionId: string): Promise<Address[]> {
    return membership.keyHolders(this.#ctx, sender, distributionId);
  }
}
redact(GroupCipher, '[GroupCipher]');
