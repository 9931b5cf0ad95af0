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
import { jsonBytes, parseJsonBytes, type Transaction } from './storage.js';

/** Storage keys of the resend cache; neither is part of a backup. */
export const RESEND_KEY = 'local:resend-key';
export const RESEND_PREFIX = 'local:resend:';

/** The resend cache's records inside the client's storage (committed with the operation). */
class TxResendStore implements ResendStore {
  constructor(readonly tx: Transaction) {}

  async get(id: string): Promise<Uint8Array | undefined> {
    const e = parseJsonBytes<{ savedAt: number; record: string }>(await this.tx.get(RESEND_PREFIX + id));
    return e ? fromBase64(e.record) : undefined;
  }

  async list(): Promise<readonly ResendStoreEntry[]> {
    const out: ResendStoreEntry[] = [];
    for (const key of await this.tx.keys(RESEND_PREFIX)) {
      const e = parseJsonBytes<{ savedAt: number }>(await this.tx.get(key));
      if (e) out.push({ id: key.slice(RESEND_PREFIX.length), savedAt: e.savedAt });
    }
    return out;
  }

  async apply(change: ResendStoreChange): Promise<void> {
    for (const id of change.remove) this.tx.delete(RESEND_PREFIX + id);
    if (change.put)
      this.tx.set(
        RESEND_PREFIX + change.put.id,
        jsonBytes({ savedAt: change.put.savedAt, record: toBase64(change.put.record) }),
      );
  }
}

export interface RetryReceiptsDeps {
  readonly api: RelayApi;
  readonly store: ProtocolStore;
  readonly provider: CryptoProvider;
  readonly now: () => number;
  readonly localDeviceId: () => number;
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

  async #cache(tx: Transaction): Promise<ResendCache> {
    let key = await tx.get(RESEND_KEY);
    if (!key) {
      key = this.deps.provider.randomBytes(32);
      tx.set(RESEND_KEY, key);
    }
    return ResendCache.create({
      key,
      store: new TxResendStore(tx),
      provider: this.deps.provider,
      now: this.deps.now,
    });
  }

  /** Keeps what was sent to `to` at the relay's `timestamp`, for a receipt that may come. */
  async remember(tx: Transaction, to: Address, timestamp: number, plaintext: Uint8Array): Promise<void> {
    await (await this.#cache(tx)).put(to, timestamp, plaintext);
  }

  /**
   * Receiver: after a failed decrypt of `env`, sends a receipt if the error is retryable and the
   * policy allows one. True when a receipt went out.
   */
  async onDecryptFailure(env: Envelope, err: unknown): Promise<boolean> {
    if (!isRetryableDecryptError(err) || (env.kind !== 'prekey' && env.kind !== 'whisper')) return false;
    const sender: Address = { name: env.from, deviceId: env.fromDevice };
    if (!this.#policy.allowRequest(sender, env.serverTimestamp).allowed) return false;
    const receipt = createRetryRequest({
      type: env.kind,
      body: env.body,
      timestamp: env.serverTimestamp,
      senderDeviceId: env.fromDevice,
    });
    await this.deps.api.receipt(env.from, env.fromDevice, receipt.serialize());
    this.stats.receiptsSent++;
    return true;
  }

  /**
   * Sender: answers a receipt (`plaintext` envelope). `send` posts one ciphertext to the requester
   * device. Returns what was done, for the conversation note.
   */
  async onReceipt(
    tx: Transaction,
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
    const record = await this.deps.store.getSession(requester);
    const cache = await this.#cache(tx);
    const cached = await cache.get(requester, request.timestamp);
    const plan = planRetryResponse({
      request,
      localDeviceId: this.deps.localDeviceId(),
      currentRatchetKey: currentRatchetKey(record),
      hasCachedMessage: cached !== undefined,
      decision: this.#policy.allowResponse(requester, request.timestamp),
    });
    if (plan.archiveSession && record) {
      record.archiveCurrentState();
      await this.deps.store.saveSession(requester, record);
    }
    if (plan.action === 'none') return 'none';
    const cipher = new SessionCipher(this.deps.store, requester, { provider: this.deps.provider });
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
