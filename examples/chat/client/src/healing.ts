/**
 * Retry receipts for 1:1 messages (Signal's `DecryptionErrorMessage` flow), built from the kit's
 * pieces:
 * - receiver: a retryable decrypt failure → `createRetryRequest` sent back unencrypted to the
 *   sender's device (envelope kind `plaintext`), within `RetryPolicy`'s limits;
 * - sender: every 1:1 text is kept in a `ResendCache` (sealed under a key of this device, never in
 *   the backup) under the relay's timestamp of each copy; a receipt → `planRetryResponse` →
 *   archive the session it names, start a new one from a fresh bundle, send the text again.
 * This is what lets a device restored from an old backup read what was sent to its newer state.
 */
import { type Address, type CryptoProvider, fromBase64, toBase64 } from '@e2ee-kit/core';
import {
  createRetryRequest,
  currentRatchetKey,
  isRetryableDecryptError,
  PlaintextContent,
  type PreKeyBundle,
  type ProtocolStore,
  planRetryResponse,
  ResendCache,
  type ResendStore,
  type ResendStoreChange,
  type ResendStoreEntry,
  RetryPolicy,
  SessionCipher,
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
}

export interface RetryStats {
  /** Receipts this device sent for messages it could not decrypt. */
  receiptsSent: number;
  /** Messages re-sent on a receipt. */
  resent: number;
  /** Receipts answered with a null message (nothing cached). */
  nullMessages: number;
}

export class RetryReceipts {
  readonly #policy: RetryPolicy;
  readonly stats: RetryStats = { receiptsSent: 0, resent: 0, nullMessages: 0 };

  constructor(readonly deps: RetryReceiptsDeps) {
    this.#policy = new RetryPolicy({ now: deps.now });
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

  /** Keeps what was sent to `to` (ServiceId, device) at the relay's `timestamp`, for a receipt that may come. */
  async remember(tx: ChatData, to: Address, timestamp: number, plaintext: Uint8Array): Promise<void> {
    await (await this.#cache(tx)).put(to, timestamp, plaintext);
  }

  /**
   * Receiver: after a failed decrypt of `env`, sends a receipt if the error is retryable and the
   * policy allows one (`fromAci`: the sender's ServiceId). True when a receipt went out.
   */
  async onDecryptFailure(env: Envelope & { readonly fromAci: string }, err: unknown): Promise<boolean> {
    if (!isRetryableDecryptError(err) || (env.kind !== 'prekey' && env.kind !== 'whisper')) return false;
    const sender: Address = { name: env.fromAci, deviceId: env.fromDevice };
    if (!this.#policy.allowRequest(sender, env.serverTimestamp).allowed) return false;
    const receipt = createRetryRequest({
      type: env.kind,
      body: env.body,
      timestamp: env.serverTimestamp,
      senderDeviceId: env.fromDevice,
    });
    await this.deps.api.receipt(env.fromAci, env.fromDevice, receipt.serialize());
    this.stats.receiptsSent++;
    return true;
  }

  /**
   * Sender: answers a receipt (`plaintext` envelope; `from` is the requester's ServiceId). `send`
   * posts one ciphertext to the requester device. Returns what was done, for the conversation note.
   */
  async onReceipt(
    tx: ChatData,
    env: Envelope,
    send: (to: Address, message: { type: 'prekey' | 'whisper'; body: Uint8Array }) => Promise<void>,
    nullMessage: Uint8Array,
  ): Promise<'resent' | 'null-message' | 'none'> {
    let request: ReturnType<PlaintextContent['decryptionErrorMessage']>;
    try {
      request = PlaintextContent.deserialize(env.body).decryptionErrorMessage();
    } catch {
      return 'none'; // malformed: never answered
    }
    const requester: Address = { name: env.from, deviceId: env.fromDevice };
    const store = this.deps.store();
    const record = await store.getSession(requester);
    const cache = await this.#cache(tx);
    const cached = await cache.get(requester, request.timestamp);
    const plan = planRetryResponse({
      request,
      localDeviceId: this.deps.local().deviceId,
      currentRatchetKey: currentRatchetKey(record),
      hasCachedMessage: cached !== undefined,
      decision: this.#policy.allowResponse(requester, request.timestamp),
    });
    if (plan.archiveSession && record) {
      record.archiveCurrentState();
      await store.saveSession(requester, record);
    }
    if (plan.action === 'none') return 'none';
    const cipher = new SessionCipher(store, requester, {
      provider: this.deps.provider,
      localAddress: this.deps.local(),
    });
    if (!(await cipher.hasSession())) {
      const bundle = await this.deps.api.bundle(requester.name, requester.deviceId);
      if (!bundle) return 'none'; // the device is gone
      await cipher.initiate(this.deps.bundleFrom(bundle));
    }
    const plaintext = plan.action === 'resend' && cached ? cached.plaintext : nullMessage;
    await send(requester, await cipher.encrypt(plaintext));
    if (plan.action === 'resend') this.stats.resent++;
    else this.stats.nullMessages++;
    return plan.action === 'resend' ? 'resent' : 'null-message';
  }
}
