/**
 * Retry receipts for 1:1 messages (Signal's `DecryptionErrorMessage` flow), run by the kit's
 * `HealingCipher`:
 * - receiver: a decrypt failure a new session fixes → a receipt sent back unencrypted to the
 *   sender's device (envelope kind `plaintext`), within `RetryPolicy`'s limits;
 * - sender: every 1:1 text is kept in a `ResendCache` (sealed under a key of this device, never in
 *   the backup) under the relay's timestamp of each copy; a receipt that names the session's current
 *   ratchet key archives it, a new session starts from a fresh bundle and the text goes again.
 * This is what lets a device restored from an old backup read what was sent to its newer state.
 * The fan-out encrypts the texts (one per device) and learns the relay's timestamp only once they are
 * queued, so they are put in the cache here (`remember`) rather than by `HealingCipher.encrypt`.
 * The policy's counters live in an app row (`RETRY_POLICY_KEY`) only: every operation that consults
 * the policy reads the row and writes it back in its own store transaction, so a client that restarts
 * (a crash loop, a reloaded tab) keeps the limits it reached, and two tabs of one profile count on
 * one policy instead of each saving its own copy over the other's.
 */
import {
  type Address,
  type CryptoProvider,
  DecodeError,
  E2eeError,
  fromBase64,
  StoreError,
  toBase64,
} from '@e2ee-kit/core';
import {
  type DecryptOptions,
  HealingCipher,
  type HealingDecryptResult,
  type PreKeyBundle,
  type ProtocolStore,
  ResendCache,
  type ResendStore,
  type ResendStoreChange,
  type ResendStoreEntry,
  RetryPolicy,
  type SessionCipherOptions,
  type TransactionOf,
} from '@e2ee-kit/ratchet';
import type { BundleJson, Envelope, RelayApi } from './api.js';
import type { ChatData } from './app-data.js';

/**
 * App rows of the resend cache: its key, an index of entry ids (the store reads rows by key only),
 * one row per entry. None is part of a backup (the backup walks its own explicit list of rows): a
 * restored device must not answer receipts with old entries.
 */
export const RESEND_KEYS = {
  key: 'local:resend-key',
  index: 'index:resend',
  entry: (id: string) => `local:resend:${id}`,
} as const;

/**
 * App row of the retry policy's counters (`RetryPolicy.serialize`). Local like the resend cache:
 * a device restored from a backup starts with fresh limits, it has not asked anyone for anything.
 */
export const RETRY_POLICY_KEY = 'local:retry-policy';

/** The resend cache's records in the app rows (committed with the operation). */
class TxResendStore implements ResendStore {
  constructor(readonly tx: ChatData) {}

  async get(id: string): Promise<Uint8Array | undefined> {
    const e = await this.tx.json<{ savedAt: number; record: string }>(RESEND_KEYS.entry(id));
    return e ? fromBase64(e.record) : undefined;
  }

  async list(): Promise<readonly ResendStoreEntry[]> {
    const out: ResendStoreEntry[] = [];
    for (const id of await this.tx.members(RESEND_KEYS.index)) {
      const e = await this.tx.json<{ savedAt: number }>(RESEND_KEYS.entry(id));
      if (e) out.push({ id, savedAt: e.savedAt });
    }
    return out;
  }

  async apply(change: ResendStoreChange): Promise<void> {
    for (const id of change.remove) {
      await this.tx.delete(RESEND_KEYS.entry(id));
      await this.tx.removeMember(RESEND_KEYS.index, id);
    }
    if (change.put) {
      await this.tx.putJson(RESEND_KEYS.entry(change.put.id), {
        savedAt: change.put.savedAt,
        record: toBase64(change.put.record),
      });
      await this.tx.addMember(RESEND_KEYS.index, change.put.id);
    }
  }
}

export interface RetryReceiptsDeps {
  readonly api: RelayApi;
  /** The running operation's protocol store. */
  readonly store: () => ProtocolStore;
  readonly provider: CryptoProvider;
  readonly now: () => number;
  /** Our own address (ServiceId, device id): the sessions' local address. */
  readonly local: () => Address;
  readonly bundleFrom: (b: BundleJson) => PreKeyBundle;
  /** Options for the healer's session ciphers (the client's lock manager). */
  readonly cipherOptions?: Omit<SessionCipherOptions, 'localAddress'>;
}

export interface RetryStats {
  /** Receipts this device sent for messages it could not decrypt. */
  receiptsSent: number;
  /** Messages re-sent on a receipt. */
  resent: number;
  /** Receipts answered with a null message (nothing cached). */
  nullMessages: number;
}

/** The relay has no bundle for a device a receipt came from (it was unlinked meanwhile). */
class DeviceGone extends Error {
  constructor() {
    super('the requesting device has no bundle on the relay');
    this.name = 'DeviceGone';
  }
}

export class RetryReceipts {
  readonly stats: RetryStats = { receiptsSent: 0, resent: 0, nullMessages: 0 };

  constructor(readonly deps: RetryReceiptsDeps) {}

  /**
   * The policy as the store holds it now, read inside the running operation's transaction. It is
   * never cached in memory: two tabs (or two clients) of one store each hold the store's lock for a
   * whole operation, so reading the row here and writing it back (`#savePolicy`) in the same
   * transaction makes every operation count on top of the other tab's last one — a copy kept in
   * memory would let the last tab to save undo the other's counting. If the operation rolls back,
   * its counting rolls back with it, like the envelope it was for (which the relay delivers again).
   */
  async #loadPolicy(tx: ChatData): Promise<RetryPolicy> {
    const bytes = await tx.get(RETRY_POLICY_KEY);
    if (bytes) {
      try {
        return RetryPolicy.deserialize(bytes, { now: this.deps.now });
      } catch (err) {
        // An unreadable row loses the counters, nothing else: start over (the next save replaces it).
        if (!(err instanceof DecodeError)) throw err;
      }
    }
    return new RetryPolicy({ now: this.deps.now });
  }

  /** Writes the counters back in the transaction they were read in. */
  async #savePolicy(tx: ChatData, policy: RetryPolicy): Promise<void> {
    await tx.put(RETRY_POLICY_KEY, policy.serialize());
  }

  async #cache(tx: ChatData): Promise<ResendCache> {
    let key = await tx.get(RESEND_KEYS.key);
    if (!key) {
      key = this.deps.provider.randomBytes(32);
      await tx.put(RESEND_KEYS.key, key);
    }
    return ResendCache.create({
      key,
      store: new TxResendStore(tx),
      provider: this.deps.provider,
      now: this.deps.now,
    });
  }

  /** A healer over the running operation's store and app rows (`nullMessage` answers an uncached receipt). */
  async #healer(
    tx: ChatData,
    nullMessage?: Uint8Array,
  ): Promise<{ healer: HealingCipher; policy: RetryPolicy }> {
    const { api, bundleFrom } = this.deps;
    const policy = await this.#loadPolicy(tx);
    const healer = new HealingCipher({
      store: this.deps.store(),
      localAddress: this.deps.local(),
      resendCache: await this.#cache(tx),
      policy,
      fetchBundle: async (peer) => {
        const b = await api.bundle(peer.name, peer.deviceId);
        if (!b) throw new DeviceGone();
        return bundleFrom(b);
      },
      sendRetryRequest: async (to, receipt) => {
        await api.receipt(to.name, to.deviceId, receipt);
        this.stats.receiptsSent++;
      },
      resend: async (to, m) => {
        await api.send([{ to: to.name, deviceId: to.deviceId, kind: m.type, body: m.body }]);
      },
      ...(nullMessage ? { nullMessage } : {}),
      cipherOptions: { provider: this.deps.provider, ...this.deps.cipherOptions },
    });
    return { healer, policy };
  }

  /** Keeps what was sent to `to` (ServiceId, device) at the relay's `timestamp`, for a receipt that may come. */
  async remember(tx: ChatData, to: Address, timestamp: number, plaintext: Uint8Array): Promise<void> {
    await (await this.#cache(tx)).put(to, timestamp, plaintext);
  }

  /**
   * Receiver: decrypts a 1:1 envelope from ServiceId `fromAci` (`deliver` as in
   * `SessionCipher.decrypt`); a failure a new session fixes sends a receipt when the policy allows.
   * Other failures reject as the cipher's would.
   */
  async decrypt(
    tx: ChatData,
    env: Envelope & { readonly fromAci: string },
    options: DecryptOptions<TransactionOf<ProtocolStore>>,
  ): Promise<HealingDecryptResult> {
    const { healer, policy } = await this.#healer(tx);
    const result = await healer.decrypt(
      { name: env.fromAci, deviceId: env.fromDevice },
      { type: env.kind as 'prekey' | 'whisper', body: env.body },
      { timestamp: env.serverTimestamp },
      options,
    );
    // Only a failed decrypt consults the policy: a decrypted message leaves the row alone.
    if (result.kind !== 'decrypted') await this.#savePolicy(tx, policy);
    return result;
  }

  /**
   * Sender: answers a receipt (`plaintext` envelope; `from` is the requester's ServiceId). Returns
   * what was done, for the conversation note.
   */
  async onReceipt(
    tx: ChatData,
    env: Envelope,
    nullMessage: Uint8Array,
  ): Promise<'resent' | 'null-message' | 'none'> {
    const { healer, policy } = await this.#healer(tx, nullMessage);
    let answer: Awaited<ReturnType<HealingCipher['onRetryRequest']>>;
    try {
      answer = await healer.onRetryRequest({ name: env.from, deviceId: env.fromDevice }, env.body);
    } catch (err) {
      // Malformed receipts are never answered; nor are receipts from a device that is gone (which
      // the policy counted: saved too).
      if ((E2eeError.is(err) && !(err instanceof StoreError)) || err instanceof DeviceGone) {
        await this.#savePolicy(tx, policy);
        return 'none';
      }
      throw err;
    }
    await this.#savePolicy(tx, policy);
    if (answer.kind === 'resent') {
      this.stats.resent++;
      return 'resent';
    }
    if (answer.kind === 'not-cached' && answer.nullMessageSent) {
      this.stats.nullMessages++;
      return 'null-message';
    }
    return 'none';
  }
}
