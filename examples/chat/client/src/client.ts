/**
 * `ChatClient`: one device of one account. Composes the kit's packages through their public APIs:
 * - @e2ee-kit/ratchet: identity, prekeys (`PreKeyManager`), 1:1 sessions (`SessionCipher`);
 * - @e2ee-kit/sender-keys: groups (`GroupCipher`), distribution messages over the 1:1 sessions;
 * - @e2ee-kit/safety-number (+ ./qr): 60 digits and the QR code per contact;
 * - @e2ee-kit/backup-kdf: the encrypted backup of the whole client state.
 *
 * Every operation runs alone (a client-wide queue) inside one storage `Transaction` and commits at
 * the end, so a received envelope is acknowledged only after the ratchet state and the decrypted
 * message were committed together.
 */
import {
  type Argon2Params,
  type BackupMetadata,
  changeBackupPassword,
  createBackup,
  joinBackupFile,
  openBackup,
  type RecoveryKey,
  splitBackupFile,
} from '@e2ee-kit/backup-kdf';
import {
  type Address,
  type CryptoProvider,
  constantTimeEqual,
  DuplicateMessageError,
  E2eeError,
  fromBase64,
  generateRegistrationId,
  IdentityKeyPair,
  type PublicKey,
  resolveProvider,
  toBase64,
  utf8,
} from '@e2ee-kit/core';
import {
  type KyberPreKeyRecord,
  PreKeyBundle,
  PreKeyManager,
  type PreKeyUpload,
  SessionCipher,
  SessionRecord,
  type SignedPreKeyRecord,
} from '@e2ee-kit/ratchet';
import { type CompareResult, computeSafetyNumber } from '@e2ee-kit/safety-number';
import { safetyNumberQr } from '@e2ee-kit/safety-number/qr';
import {
  GroupCipher,
  generateDistributionId,
  SenderKeyDistributionMessage,
  SenderKeyMessage,
} from '@e2ee-kit/sender-keys';
import {
  type BundleJson,
  defaultWebSocketFactory,
  type Envelope,
  type EnvelopeKind,
  type FetchLike,
  type KeyUploadJson,
  type PreKeyCounts,
  parseEnvelope,
  RelayApi,
  RelayError,
  type SignedKeyJson,
  type WebSocketFactory,
  type WebSocketLike,
} from './api.js';
import {
  ATTACHMENT_TYPES,
  AttachmentError,
  type AttachmentPointer,
  decryptAttachment,
  encryptAttachment,
  isAttachmentType,
} from './attachments.js';
import { attemptPolicy } from './backup-attempts.js';
import { type Content, decodeContent, encodeContent, type GroupInfo } from './content.js';
import { enqueue, hasPendingFor, isRetryable, type OutboxTarget, pending } from './outbox.js';
import {
  applyReceipt,
  dueReceipts,
  indexMessage,
  markRead as markReadIn,
  onIncomingText,
  setStatus,
} from './receipts.js';
import { dropReason, type Outgoing, SealedSender } from './sealed.js';
import { type ChatStorage, jsonBytes, MemoryStorage, parseJsonBytes, Transaction } from './storage.js';
import { ClientProtocolStore } from './stores.js';

/** Every account has one device in this example (the relay supports more; the client keeps it simple). */
export const DEVICE_ID = 1;

export interface ChatClientOptions {
  /** The relay's base URL, e.g. `http://127.0.0.1:8787` (or `''` for same-origin in a browser). */
  serverUrl: string;
  storage?: ChatStorage;
  /** Defaults to `globalThis.WebSocket` (browsers, Node ≥ 22); pass one for Node 20 (the `ws` package). */
  webSocket?: WebSocketFactory;
  fetch?: FetchLike;
  provider?: CryptoProvider;
  /** One-time prekeys generated per refill (default 20). */
  preKeyBatch?: number;
  now?: () => number;
  /** Send delivery and read receipts for 1:1 texts (default true). */
  receipts?: boolean;
}

/** An outgoing text: waiting in the outbox, accepted by the relay, on the contact's device, read. */
export type DeliveryStatus = 'pending' | 'sent' | 'delivered' | 'read' | 'failed';

export interface ChatMessage {
  readonly id: string;
  /** `dm:<name>` or `group:<id>`. */
  readonly conversation: string;
  readonly from: string;
  readonly text: string;
  readonly sentAt: number;
  readonly receivedAt: number;
  readonly outgoing: boolean;
  /** A notice written by the client itself (identity change, undecryptable message, membership). */
  readonly system?: boolean;
  /** Outgoing texts only (1:1 texts move on to delivered and read through receipts). */
  readonly status?: DeliveryStatus;
  /** Why an outgoing text could not be sent (status "failed"). */
  readonly error?: string;
  /** A photo (fetch and decrypt it with `ChatClient.photo`). */
  readonly attachment?: AttachmentPointer;
}

export interface Group extends GroupInfo {
  /** False once this account was removed from the group. */
  readonly active: boolean;
}

export interface SafetyNumberView {
  readonly contact: string;
  /** 60 digits. */
  readonly digits: string;
  /** 12 groups of 5 digits. */
  readonly groups: readonly string[];
  /** The scannable payload (what the QR code encodes). */
  readonly payload: Uint8Array;
  /** The QR code as an SVG document. */
  readonly qrSvg: string;
  /** The user verified this contact's current identity key. */
  readonly verified: boolean;
}

export interface ChatEvents {
  message: ChatMessage;
  group: Group;
  'identity-changed': { readonly contact: string };
  'prekeys-refilled': { readonly preKeys: number; readonly kyberPreKeys: number };
  /** `code`: the WebSocket close code when the relay closed it. */
  connection: { readonly state: 'open' | 'closed'; readonly code?: number };
  /** An outgoing text's status changed (outbox, receipts). */
  'message-status': ChatMessage;
  /**
   * The relay no longer knows this device: the account was re-registered or restored elsewhere
   * ("replaced"), or its token is unknown ("unauthorized"). Sending and receiving stop here.
   */
  'registration-lost': { readonly reason: 'replaced' | 'unauthorized' };
}

/** What this device knows about the last backup it created (no secret). */
export interface BackupInfo {
  readonly createdAt: number;
  readonly withPassword: boolean;
  readonly withRecoveryKey: boolean;
}

export interface SentInfo {
  /** Exactly what the relay stored, per recipient device. */
  readonly envelopes: readonly { to: string; kind: EnvelopeKind; body: Uint8Array }[];
  readonly message: ChatMessage;
}

export interface GroupSentInfo extends SentInfo {
  /** Set when the sender's chain was replaced before this message (e.g. a member was removed). */
  readonly rotation: string | undefined;
  /** Members that were sent a distribution message first. */
  readonly distributedTo: readonly string[];
}

export type BackupUnlock = { readonly password: string } | { readonly recoveryKey: string };

export interface BackupOptions {
  /** Unlock with a password (Argon2id). */
  password?: string;
  /** Also add a 64-digit recovery key (returned once). */
  recoveryKey?: boolean;
  /** Argon2id parameters (default: the package's defaults; never below its floor). */
  argon2?: Argon2Params;
}

export interface BackupResult {
  /** The 64-digit key, 16 groups of 4, when asked for. Show it once. */
  readonly recoveryKey: string | undefined;
  readonly slotsBytes: number;
  readonly payloadBytes: number;
}

interface Credentials {
  name: string;
  deviceId: number;
  token: string;
  recoveryCode: string;
}

const CREDENTIALS = 'local:credentials';
const BACKUP_INFO = 'local:backup-info';
// The attempt counters stay on this device: a restore must not bring back an older, lower count.
// Photos stay out of the backup too (its size limit is for keys, sessions and texts).
const NOT_IN_BACKUP = [CREDENTIALS, 'pending:', 'attempts:', 'attachment:'];
/** WebSocket close codes of the relay that mean this device's registration is gone. */
const CLOSE_UNAUTHORIZED = 4401;
const CLOSE_DEVICE_REPLACED = 4410;
/** `WebSocket.OPEN` (not read from a global: Node 20 has no WebSocket). */
const OPEN = 1;
const DEFAULT_BATCH = 20;
const MIN_PREKEYS = 10;

type Listener<T> = (value: T) => void;

function signedJson(r: SignedPreKeyRecord | KyberPreKeyRecord): SignedKeyJson {
  return { keyId: r.id, publicKey: toBase64(r.publicKey.serialize()), signature: toBase64(r.signature) };
}

function uploadJson(u: PreKeyUpload): KeyUploadJson {
  const out: KeyUploadJson = {};
  if (u.signedPreKey) out.signedPreKey = signedJson(u.signedPreKey);
  if (u.lastResortKyberPreKey) out.lastResortKyberPreKey = signedJson(u.lastResortKyberPreKey);
  if (u.preKeys.length > 0) {
    out.preKeys = u.preKeys.map((p) => ({ keyId: p.id, publicKey: toBase64(p.publicKey.serialize()) }));
  }
  if (u.kyberPreKeys.length > 0) out.kyberPreKeys = u.kyberPreKeys.map(signedJson);
  return out;
}

function bundleFrom(b: BundleJson): PreKeyBundle {
  return PreKeyBundle.from({
    registrationId: b.registrationId,
    deviceId: b.deviceId,
    identityKey: fromBase64(b.identityKey),
    signedPreKeyId: b.signedPreKey.keyId,
    signedPreKey: fromBase64(b.signedPreKey.publicKey),
    signedPreKeySignature: fromBase64(b.signedPreKey.signature),
    preKeyId: b.preKey?.keyId ?? null,
    preKey: b.preKey ? fromBase64(b.preKey.publicKey) : null,
    kyberPreKeyId: b.kyberPreKey.keyId,
    kyberPreKey: fromBase64(b.kyberPreKey.publicKey),
    kyberPreKeySignature: fromBase64(b.kyberPreKey.signature),
  });
}

function randomId(provider: CryptoProvider): string {
  return Array.from(provider.randomBytes(12), (b) => b.toString(16).padStart(2, '0')).join('');
}

const address = (name: string, deviceId = DEVICE_ID): Address => ({ name, deviceId });
const dm = (name: string) => `dm:${name}`;
const groupConversation = (id: string) => `group:${id}`;
const pad = (n: number) => n.toString().padStart(12, '0');
const pendingKey = (group: string, from: string, chain: number, iteration: number) =>
  `pending:${group}:${from}:${pad(chain)}:${pad(iteration)}`;
/** Outbox keys sort by send order; the position is the key's suffix. */
const outboxKey = (group: string, seq: number, chain: number, iteration: number) =>
  `outbox:${group}:${pad(seq)}:${chain}:${iteration}`;
const OUTBOX_SIZE = 50;

export class ChatClient {
  readonly name: string;
  readonly deviceId: number;
  readonly storage: ChatStorage;
  readonly api: RelayApi;
  readonly #provider: CryptoProvider;
  readonly #identity: IdentityKeyPair;
  readonly #store: ClientProtocolStore;
  /** Sealed-sender sending and opening (`stats` counts sealed vs. authenticated sends). */
  readonly sealed: SealedSender;
  readonly #groups: GroupCipher;
  readonly #manager: PreKeyManager;
  readonly #webSocket: WebSocketFactory | undefined;
  readonly #now: () => number;
  readonly #listeners = new Map<keyof ChatEvents, Set<Listener<never>>>();
  #tx: Transaction | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #pendingEvents: (() => void)[] = [];
  #socket: WebSocketLike | undefined;
  #queueEmpty: (() => void)[] = [];
  #drained = false;
  #changedIdentities: string[] = [];
  readonly #receipts: boolean;
  #receiptsDue = false;

  private constructor(
    creds: Credentials,
    identity: IdentityKeyPair,
    registrationId: number,
    storage: ChatStorage,
    options: ChatClientOptions,
  ) {
    this.name = creds.name;
    this.deviceId = creds.deviceId;
    this.storage = storage;
    this.#provider = resolveProvider(options.provider);
    this.#now = options.now ?? Date.now;
    this.api = new RelayApi(options.serverUrl, {
      token: creds.token,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    this.#webSocket = options.webSocket;
    this.#receipts = options.receipts ?? true;
    this.#identity = identity;
    this.#store = new ClientProtocolStore(identity, registrationId, {
      tx: () => {
        if (!this.#tx) throw new Error('store used outside a client operation');
        return this.#tx;
      },
      trustedForSending: (a, key) => this.#trustedForSending(a, key),
      onIdentityChange: (a) => this.#identityChanged(a.name),
    });
    this.#groups = new GroupCipher(this.#store, {
      provider: this.#provider,
      now: this.#now,
    });
    this.sealed = new SealedSender({
      api: this.api,
      identity,
      provider: this.#provider,
      name: () => this.name,
      deviceId: () => this.deviceId,
      now: this.#now,
      identityOf: (name, deviceId) => this.#store.getIdentity(address(name, deviceId)),
    });
    this.#manager = new PreKeyManager(this.#store, {
      provider: this.#provider,
      now: this.#now,
      minPreKeys: MIN_PREKEYS,
      batchSize: options.preKeyBatch ?? DEFAULT_BATCH,
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Lifecycle

  /**
   * Creates an identity, registers it with the relay (uploading signed, Kyber and one-time prekeys).
   * With `recoveryCode`, re-registers an existing account on a fresh install (a new identity key:
   * contacts will see the safety number change).
   */
  static async register(
    name: string,
    options: ChatClientOptions & { recoveryCode?: string },
  ): Promise<ChatClient> {
    const provider = resolveProvider(options.provider);
    const storage = options.storage ?? new MemoryStorage();
    const identity = await IdentityKeyPair.generate(provider);
    const registrationId = generateRegistrationId((n) => provider.randomBytes(n));
    return ChatClient.#enroll(name, identity, registrationId, storage, options, options.recoveryCode);
  }

  /** Opens a client whose state is already in `storage` (a reload of the web page, a restart). */
  static async open(options: ChatClientOptions & { storage: ChatStorage }): Promise<ChatClient> {
    const tx = new Transaction(options.storage);
    const creds = parseJsonBytes<Credentials>(await tx.get(CREDENTIALS));
    const id = await ClientProtocolStore.loadIdentity(tx);
    if (!creds || !id) throw new Error('this storage holds no registered account');
    return new ChatClient(creds, id.pair, id.registrationId, options.storage, options);
  }

  /** True when `storage` holds a registered account. */
  static async hasAccount(storage: ChatStorage): Promise<boolean> {
    return (await storage.get(CREDENTIALS)) !== undefined;
  }

  static async #enroll(
    name: string,
    identity: IdentityKeyPair,
    registrationId: number,
    storage: ChatStorage,
    options: ChatClientOptions,
    recoveryCode: string | undefined,
  ): Promise<ChatClient> {
    const placeholder: Credentials = {
      name,
      deviceId: DEVICE_ID,
      token: '',
      recoveryCode: recoveryCode ?? '',
    };
    const client = new ChatClient(placeholder, identity, registrationId, storage, options);
    return client.#run(async (tx) => {
      ClientProtocolStore.saveIdentity(tx, identity, registrationId);
      // A registration replaces whatever the relay had for this device: fresh signed and
      // last-resort keys and a full batch of one-time keys (old ones stay for in-flight messages).
      await client.#manager.rotateSignedPreKey();
      await client.#manager.rotateLastResortKyberPreKey();
      const upload = await client.#manager.maintain({ preKeys: 0, kyberPreKeys: 0 });
      const keys = uploadJson(upload);
      const signed = await client.#manager.currentSignedPreKey();
      const lastResort = await client.#manager.currentLastResortKyberPreKey();
      if (!signed || !lastResort) throw new Error('prekey manager produced no signed or last-resort key');
      const reply = await client.api.register({
        name,
        ...(recoveryCode ? { recoveryCode } : {}),
        device: {
          ...keys,
          registrationId,
          identityKey: toBase64(identity.publicKey.serialize()),
          signedPreKey: signedJson(signed),
          lastResortKyberPreKey: signedJson(lastResort),
        },
      });
      const creds: Credentials = {
        name,
        deviceId: reply.deviceId,
        token: reply.token,
        recoveryCode: reply.recoveryCode ?? recoveryCode ?? '',
      };
      tx.set(CREDENTIALS, jsonBytes(creds));
      client.api.token = reply.token;
      await client.sealed.enroll(tx);
      return new ChatClient(creds, identity, registrationId, storage, options);
    });
  }

  /**
   * The account's recovery code (32 hex digits): with it, the account can be re-registered on a new
   * device and its backup downloaded. Write it down with the backup key.
   */
  async recoveryCode(): Promise<string> {
    const creds = parseJsonBytes<Credentials>(await this.storage.get(CREDENTIALS));
    return creds?.recoveryCode ?? '';
  }

  get identityKey(): PublicKey {
    return this.#identity.publicKey;
  }

  on<K extends keyof ChatEvents>(event: K, listener: Listener<ChatEvents[K]>): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as Listener<never>);
    return () => set.delete(listener as Listener<never>);
  }

  #emit<K extends keyof ChatEvents>(event: K, value: ChatEvents[K]): void {
    // Events fire after the operation committed, never for state that might still roll back.
    this.#pendingEvents.push(() => {
      for (const l of this.#listeners.get(event) ?? []) (l as Listener<ChatEvents[K]>)(value);
    });
  }

  /** Runs `fn` alone, inside one transaction committed when it returns (dropped when `discard`). */
  #run<T>(fn: (tx: Transaction) => Promise<T>, discard = false): Promise<T> {
    const next = this.#queue.then(async () => {
      const tx = new Transaction(this.storage);
      this.#tx = tx;
      this.#pendingEvents = [];
      this.#changedIdentities = [];
      this.#receiptsDue = false;
      try {
        const out = await fn(tx);
        for (const contact of this.#changedIdentities.splice(0)) {
          await this.#note(tx, dm(contact), contact, `your safety number with ${contact} changed`);
          this.#emit('identity-changed', { contact });
        }
        if (discard) return out;
        await tx.commit();
        const events = this.#pendingEvents;
        this.#pendingEvents = [];
        this.#tx = undefined;
        for (const e of events) e();
        if (this.#receiptsDue) {
          this.#receiptsDue = false;
          // After this operation, never inside it: a receipt that cannot go now waits in storage.
          void this.flushReceipts().catch(() => {});
        }
        return out;
      } finally {
        this.#tx = undefined;
        this.#pendingEvents = [];
      }
    });
    this.#queue = next.catch(() => {});
    return next;
  }

  // ---------------------------------------------------------------------------------------------
  // Delivery

  /** Opens the WebSocket; resolves once the queued envelopes were all received and processed. */
  connect(): Promise<void> {
    const factory = this.#webSocket ?? defaultWebSocketFactory();
    this.#drained = false;
    return new Promise<void>((resolve, reject) => {
      const ws = factory(this.api.webSocketUrl());
      this.#socket = ws;
      let ready = false;
      this.#queueEmpty.push(resolve);
      ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token: this.api.token }));
      ws.onerror = () => {
        if (!ready) reject(new Error('could not connect to the relay'));
      };
      ws.onclose = (ev) => {
        if (this.#socket === ws) this.#socket = undefined;
        if (!ready) reject(new Error(`the relay closed the connection (${ev.code})`));
        this.#emitNow('connection', { state: 'closed', code: ev.code });
        if (ev.code === CLOSE_UNAUTHORIZED || ev.code === CLOSE_DEVICE_REPLACED) {
          this.#emitNow('registration-lost', {
            reason: ev.code === CLOSE_DEVICE_REPLACED ? 'replaced' : 'unauthorized',
          });
        }
      };
      ws.onmessage = (ev) => {
        let frame: Record<string, unknown>;
        try {
          frame = JSON.parse(String(ev.data)) as Record<string, unknown>;
        } catch {
          return;
        }
        switch (frame['type']) {
          case 'ready':
            ready = true;
            this.#emitNow('connection', { state: 'open' });
            // The relay is back: what waited offline goes now.
            void this.flushOutbox().catch(() => {});
            void this.flushReceipts().catch(() => {});
            break;
          case 'envelope': {
            const env = parseEnvelope(frame as never);
            this.receive(env)
              .then(() => {
                // A socket that closed meanwhile gets no ack (browsers log sends on closed sockets
                // as console errors); the envelope comes again on the next connection.
                if (ws.readyState === OPEN) ws.send(JSON.stringify({ type: 'ack', id: env.id }));
              })
              .catch(() => {
                /* not acknowledged: the relay sends it again on the next connection */
              });
            break;
          }
          case 'queue-empty':
            // Processed in order after every envelope before it.
            this.#queue.then(() => {
              this.#drained = true;
              for (const r of this.#queueEmpty.splice(0)) r();
            });
            break;
          case 'prekeys-low':
            this.refillPreKeys(frame as unknown as PreKeyCounts).catch(() => {});
            break;
        }
      };
    });
  }

  /** Resolves when every envelope received so far has been processed. */
  async idle(): Promise<void> {
    await this.#queue;
    if (!this.#drained && this.#socket) await new Promise<void>((r) => this.#queueEmpty.push(r));
    await this.#queue;
  }

  disconnect(): void {
    this.#socket?.close(1000, 'bye');
    this.#socket = undefined;
  }

  #emitNow<K extends keyof ChatEvents>(event: K, value: ChatEvents[K]): void {
    for (const l of this.#listeners.get(event) ?? []) (l as Listener<ChatEvents[K]>)(value);
  }

  /**
   * Fetches queued envelopes over HTTP instead of the WebSocket and processes them in the order
   * `reorder` returns (the demo uses it to simulate a network that delivers out of order).
   * Each one is acknowledged after it was processed and committed.
   */
  async syncOnce(reorder: (envs: Envelope[]) => Envelope[] = (e) => e): Promise<ChatMessage[]> {
    const envs = reorder(await this.api.fetchQueued());
    const got: ChatMessage[] = [];
    const off = this.on('message', (m) => got.push(m));
    try {
      for (const env of envs) {
        await this.receive(env);
        await this.api.ack(env.id);
      }
    } finally {
      off();
    }
    return got;
  }

  /** Processes one envelope (decrypt, apply, store) and commits. Resolve = safe to acknowledge. */
  receive(env: Envelope): Promise<void> {
    if (env.kind === 'sealed') return this.#receiveSealed(env);
    return this.#run(async (tx) => {
      if (env.kind === 'senderkey') await this.#receiveGroup(tx, env);
      else await this.#receivePairwise(tx, env);
    });
  }

  /** Sends through the sealed-sender path where possible (see sealed.ts), else authenticated. */
  #send(messages: Outgoing[]): Promise<unknown> {
    const tx = this.#tx;
    if (!tx) throw new Error('send outside a client operation');
    return this.sealed.send(tx, messages, (m) => this.api.send(m));
  }

  /**
   * Opens a sealed envelope (certificate checked against the pinned trust root), then decrypts the
   * inner message as coming from the certified sender — only if the identity key our session holds
   * for that sender is the certificate's. Anything else rolls back and is dropped with a note.
   */
  async #receiveSealed(env: Envelope): Promise<void> {
    try {
      await this.#run(async (tx) => {
        const { inner, identityKey } = await this.sealed.open(tx, env);
        const sender = address(inner.from, inner.fromDevice);
        // Checked before decrypting when we know the sender, and after a first (prekey) message.
        const known = await this.#store.getIdentity(sender);
        if (known && !known.equals(identityKey)) throw new SealedIdentityMismatch();
        if (inner.kind === 'senderkey') await this.#receiveGroup(tx, inner);
        else await this.#receivePairwise(tx, inner);
        const held = known ?? (await this.#store.getIdentity(sender));
        if (!held || !held.equals(identityKey)) throw new SealedIdentityMismatch();
      });
    } catch (err) {
      if (!(err instanceof SealedIdentityMismatch) && !E2eeError.is(err)) throw err;
      const why = err instanceof SealedIdentityMismatch ? 'identity mismatch' : dropReason(err);
      await this.#run(async (tx) => {
        await this.#note(tx, 'sealed', '', `dropped a sealed message that failed validation (${why})`);
      });
    }
  }

  async #receivePairwise(tx: Transaction, env: Envelope): Promise<void> {
    const cipher = new SessionCipher(this.#store, address(env.from, env.fromDevice), {
      provider: this.#provider,
    });
    let plaintext: Uint8Array;
    try {
      ({ plaintext } = await cipher.decrypt({ type: env.kind as 'prekey' | 'whisper', body: env.body }));
      await this.sealed.learn(tx, env.from, plaintext);
    } catch (err) {
      if (err instanceof DuplicateMessageError) return; // already processed: drop
      if (!E2eeError.is(err)) throw err;
      await this.#note(
        tx,
        dm(env.from),
        env.from,
        // Shown in the chat as is: words for the user, not the error code.
        `a message from ${env.from} could not be decrypted; ask ${env.from} to send it again`,
      );
      return;
    }
    let content: Content;
    try {
      content = decodeContent(plaintext);
    } catch {
      await this.#note(
        tx,
        dm(env.from),
        env.from,
        `${env.from} sent content this client does not understand`,
      );
      return;
    }
    await this.#apply(tx, env, content);
  }

  async #receiveGroup(tx: Transaction, env: Envelope, retry = false): Promise<boolean> {
    const sender = address(env.from, env.fromDevice);
    const outcome = await this.#groups.tryDecrypt(sender, env.body);
    switch (outcome.status) {
      case 'decrypted': {
        let content: Content;
        try {
          content = decodeContent(outcome.plaintext);
        } catch {
          return true;
        }
        if (content.t !== 'text' || content.group !== outcome.distributionId) return true;
        await this.#storeText(tx, groupConversation(content.group), env.from, content, false);
        return true;
      }
      case 'missing-sender-key': {
        if (retry) return false;
        // Keep the ciphertext (so it can be acknowledged) and ask the sender for its key and for
        // this message: a distribution message only opens messages from its iteration on.
        const skm = SenderKeyMessage.deserialize(env.body);
        const position = { chain: skm.chainId, iteration: skm.iteration };
        tx.set(
          pendingKey(outcome.distributionId, env.from, position.chain, position.iteration),
          jsonBytes({ ...env, body: toBase64(env.body) }),
        );
        const out = await this.#encryptTo(env.from, {
          t: 'resend',
          group: outcome.distributionId,
          ...position,
        });
        await this.#send([out]);
        return false;
      }
      case 'duplicate':
        // On a retry this means the key we got starts after this message: wait for its re-send.
        return !retry;
      case 'rejected':
        await this.#note(
          tx,
          `group:${'unknown'}`,
          env.from,
          `rejected a group message from ${env.from} (${outcome.error.code})`,
        );
        return true;
    }
  }

  async #apply(tx: Transaction, env: Envelope, content: Content): Promise<void> {
    const from = env.from;
    switch (content.t) {
      case 'text': {
        if (content.group === undefined) {
          await this.#storeText(tx, dm(from), from, content, false);
          return;
        }
        // A group text re-sent pairwise because we could not decrypt the original.
        const group = await this.#loadGroup(tx, content.group);
        if (!group || !group.members.includes(from) || !content.resent) return;
        const key = pendingKey(content.group, from, content.resent.chain, content.resent.iteration);
        if ((await tx.get(key)) === undefined) return; // we did not ask for this one
        tx.delete(key);
        await this.#storeText(tx, groupConversation(content.group), from, content, false);
        return;
      }
      case 'group': {
        const g = content.group;
        const known = await this.#loadGroup(tx, g.id);
        if (known && known.admin !== from) return; // only the admin changes a group
        if (!known && g.admin !== from) return;
        const active = g.members.includes(this.name);
        const group: Group = { id: g.id, title: g.title, admin: g.admin, members: [...g.members], active };
        tx.set(`group:${g.id}`, jsonBytes(group));
        const before = new Set(known?.members ?? []);
        const removed = [...before].filter((m) => !g.members.includes(m));
        if (!known)
          await this.#note(
            tx,
            groupConversation(g.id),
            from,
            `${from} created "${g.title}" with ${g.members.join(', ')}`,
          );
        for (const m of removed) await this.#note(tx, groupConversation(g.id), from, `${from} removed ${m}`);
        this.#emit('group', group);
        return;
      }
      case 'skdm': {
        const skdm = SenderKeyDistributionMessage.deserialize(fromBase64(content.skdm));
        if (skdm.distributionId !== content.group) return;
        await this.#groups.processDistributionMessage(address(from, env.fromDevice), skdm);
        // Messages that arrived before the key: try them again now.
        for (const key of await tx.keys(`pending:${content.group}:${from}:`)) {
          const raw = parseJsonBytes<Envelope & { body: string }>(await tx.get(key));
          if (!raw) continue;
          const pending: Envelope = { ...raw, body: fromBase64(raw.body) };
          if (await this.#receiveGroup(tx, pending, true)) tx.delete(key);
        }
        return;
      }
      case 'resend': {
        const group = await this.#loadGroup(tx, content.group);
        if (!group || !group.active || !group.members.includes(from)) return;
        const me = address(this.name, this.deviceId);
        await this.#groups.markNeedsDistribution(me, group.id, [address(from)]);
        await this.#distribute(group);
        // The message itself, pairwise, if we still have it (and only to a current member).
        const suffix = `:${content.chain}:${content.iteration}`;
        const keptKey = (await tx.keys(`outbox:${group.id}:`)).find((k) => k.endsWith(suffix));
        const kept = keptKey ? parseJsonBytes<Content>(await tx.get(keptKey)) : undefined;
        if (kept?.t === 'text') {
          const resent: Content = { ...kept, resent: { chain: content.chain, iteration: content.iteration } };
          await this.#send([await this.#encryptTo(from, resent)]);
        }
        return;
      }
      case 'receipt':
        for (const m of await applyReceipt(tx, from, content)) this.#emit('message-status', m);
        return;
      case 'hello':
        return;
    }
  }

  async #storeText(
    tx: Transaction,
    conversation: string,
    from: string,
    c: Extract<Content, { t: 'text' }>,
    outgoing: boolean,
    status: DeliveryStatus = 'sent',
  ) {
    const message: ChatMessage = {
      id: c.id,
      conversation,
      from,
      text: c.text,
      sentAt: c.sentAt,
      receivedAt: this.#now(),
      outgoing,
      ...(outgoing ? { status } : {}),
      ...(c.attachment ? { attachment: c.attachment } : {}),
    };
    if (!outgoing && c.group === undefined && this.#receipts) {
      onIncomingText(tx, from, c.id);
      this.#receiptsDue = true;
    }
    await this.#append(tx, message);
    return message;
  }

  async #note(tx: Transaction, conversation: string, from: string, text: string): Promise<void> {
    const now = this.#now();
    await this.#append(tx, {
      id: randomId(this.#provider),
      conversation,
      from,
      text,
      sentAt: now,
      receivedAt: now,
      outgoing: false,
      system: true,
    });
  }

  async #append(tx: Transaction, message: ChatMessage): Promise<void> {
    const counter = parseJsonBytes<number>(await tx.get('local:message-counter')) ?? 0;
    tx.set('local:message-counter', jsonBytes(counter + 1));
    const key = `msg:${message.conversation}:${pad(counter)}`;
    tx.set(key, jsonBytes(message));
    indexMessage(tx, message.id, key);
    this.#emit('message', message);
  }

  // ---------------------------------------------------------------------------------------------
  // Prekeys

  /** Tops up one-time prekeys (and rotates the signed / last-resort keys when due) and uploads them. */
  refillPreKeys(counts?: { preKeys: number; kyberPreKeys: number }): Promise<PreKeyCounts> {
    return this.#run(async () => {
      const current = counts ?? (await this.api.preKeyStatus());
      const upload = await this.#manager.maintain({
        preKeys: current.preKeys,
        kyberPreKeys: current.kyberPreKeys,
      });
      const json = uploadJson(upload);
      if (Object.keys(json).length === 0) return { ...current, low: false };
      const after = await this.api.uploadKeys(json);
      this.#emit('prekeys-refilled', {
        preKeys: upload.preKeys.length,
        kyberPreKeys: upload.kyberPreKeys.length,
      });
      return after;
    });
  }

  // ---------------------------------------------------------------------------------------------
  // 1:1

  /** Encrypts `content` for `name`'s device, starting a session from a fresh bundle if there is none. */
  async #encryptTo(
    name: string,
    content: Content,
  ): Promise<{ to: string; deviceId: number; kind: EnvelopeKind; body: Uint8Array }> {
    const cipher = new SessionCipher(this.#store, address(name), { provider: this.#provider });
    if (!(await cipher.hasSession())) {
      const { devices } = await this.api.bundles(name);
      const bundle = devices.find((d) => d.deviceId === DEVICE_ID);
      if (!bundle) throw new RelayError(404, 'not_found', `${name} has no device ${DEVICE_ID}`);
      await cipher.initiate(bundleFrom(bundle));
    }
    // Our profile key rides along in every pairwise content: contacts derive our access key from it.
    const pk = this.#tx ? await this.sealed.profileKeyField(this.#tx) : {};
    const msg = await cipher.encrypt(encodeContent({ ...content, ...pk } as Content));
    return { to: name, deviceId: DEVICE_ID, kind: msg.type, body: msg.body };
  }

  /** Sends a text to a contact. Throws `UntrustedIdentityError` if the contact's verified key changed. */
  sendText(contact: string, text: string): Promise<SentInfo> {
    return this.#run(async (tx) => {
      const content = { t: 'text' as const, id: randomId(this.#provider), text, sentAt: this.#now() };
      const out = await this.#deliverText(contact, content);
      const message = await this.#storeText(tx, dm(contact), this.name, content, true);
      return { envelopes: [{ to: out.to, kind: out.kind, body: out.body }], message };
    });
  }

  async #deliverText(contact: string, content: Extract<Content, { t: 'text' }>) {
    const out = await this.#encryptTo(contact, content);
    await this.#send([out]);
    return out;
  }

  /**
   * Sends a text to a conversation (`dm:<name>` or `group:<id>`) the way an app does: when the
   * relay cannot be reached, the text is kept in the outbox (status "pending") and sent when it is
   * back (`flushOutbox`, called on every reconnect). Other failures (an untrusted identity, a
   * refused request) throw and store nothing.
   */
  async send(
    conversation: string,
    text: string,
    extra: { attachment?: AttachmentPointer } = {},
  ): Promise<ChatMessage> {
    const target = targetOf(conversation);
    const content = {
      t: 'text' as const,
      id: randomId(this.#provider),
      text,
      sentAt: this.#now(),
      ...(extra.attachment ? { attachment: extra.attachment } : {}),
    };
    try {
      return await this.#run(async (tx) => {
        // Keep the order: a text written after one that waits in the outbox waits behind it.
        if (await hasPendingFor(tx, target)) throw new Queued();
        return (await this.#sendNow(tx, target, content)).message;
      });
    } catch (err) {
      if (!(err instanceof Queued) && !isRetryable(err)) throw err;
      const queued = this.#run(async (tx) => {
        await enqueue(tx, {
          target,
          id: content.id,
          text,
          sentAt: content.sentAt,
          ...(extra.attachment ? { attachment: extra.attachment } : {}),
        });
        return this.#storeText(tx, conversation, this.name, groupText(content, target), true, 'pending');
      });
      // Queued behind earlier texts while the relay answers: those may go now, and this one after.
      if (err instanceof Queued) void queued.then(() => this.flushOutbox()).catch(() => {});
      return queued;
    }
  }

  async #sendNow(tx: Transaction, target: OutboxTarget, content: Extract<Content, { t: 'text' }>) {
    if (target.kind === 'dm') {
      await this.#deliverText(target.contact, content);
      return { message: await this.#storeText(tx, dm(target.contact), this.name, content, true) };
    }
    return this.#sendGroupContent(tx, target.id, groupText(content, target));
  }

  /**
   * Sends what waits in the outbox, oldest first; stops at the first one the relay still cannot take.
   * A text refused for good (e.g. the contact's verified key changed) is marked "failed".
   * Returns how many were sent.
   */
  async flushOutbox(): Promise<number> {
    let sent = 0;
    for (;;) {
      const next = await this.#run(async (tx) => (await pending(tx))[0], true);
      if (!next) return sent;
      const { key, entry } = next;
      const content = {
        t: 'text' as const,
        id: entry.id,
        text: entry.text,
        sentAt: entry.sentAt,
        ...(entry.attachment ? { attachment: entry.attachment } : {}),
      };
      try {
        await this.#run(async (tx) => {
          // Another flush may have sent it meanwhile (operations run one at a time, not flushes).
          if ((await tx.get(key)) === undefined) throw new Queued();
          if (entry.target.kind === 'dm') await this.#deliverText(entry.target.contact, content);
          else await this.#deliverGroup(entry.target.id, groupText(content, entry.target));
          tx.delete(key);
          const updated = await setStatus(tx, entry.id, 'sent');
          if (updated) this.#emit('message-status', updated);
        });
        sent++;
      } catch (err) {
        if (err instanceof Queued) continue;
        if (isRetryable(err)) return sent;
        // Refused for good: marked failed in an operation of its own (nothing of the failed
        // attempt, such as a ratchet step, is kept).
        const why = E2eeError.is(err) ? err.code : err instanceof RelayError ? err.code : 'error';
        await this.#run(async (tx) => {
          tx.delete(key);
          const updated = await setStatus(tx, entry.id, 'failed');
          if (updated) this.#emit('message-status', { ...updated, error: why });
        });
      }
    }
  }

  /**
   * Sends a photo: encrypts it under a fresh key (see attachments.ts), uploads the opaque blob, then
   * sends the pointer (id, key, digest) inside an end-to-end encrypted text, with `caption`.
   * The upload needs the relay; the message itself goes through the outbox like any text.
   */
  async sendPhoto(
    conversation: string,
    bytes: Uint8Array,
    contentType: string,
    caption = '',
  ): Promise<ChatMessage> {
    if (!isAttachmentType(contentType))
      throw new AttachmentError(`photos are ${ATTACHMENT_TYPES.join(', ')}`);
    const { blob, pointer } = await encryptAttachment(bytes, contentType, this.#provider);
    const { id } = await this.api.putAttachment(blob);
    const attachment: AttachmentPointer = { id, ...pointer };
    // Our own copy, so the sender never downloads what it just encrypted.
    await this.#run(async (tx) => tx.set(`attachment:${id}`, bytes));
    return this.send(conversation, caption, { attachment });
  }

  /** A message's photo: from this device's copy, or downloaded, checked (digest, MAC) and decrypted. */
  async photo(pointer: AttachmentPointer): Promise<Uint8Array> {
    const cached = await this.storage.get(`attachment:${pointer.id}`);
    if (cached) return cached;
    const bytes = await decryptAttachment(await this.api.getAttachment(pointer.id), pointer, this.#provider);
    await this.#run(async (tx) => tx.set(`attachment:${pointer.id}`, bytes));
    return bytes;
  }

  /** Sends the receipts that are due (each contact's batch in its own operation). */
  async flushReceipts(): Promise<void> {
    const batches = await this.#run(async (tx) => dueReceipts(tx), true);
    for (const b of batches) {
      try {
        await this.#run(async (tx) => {
          await this.#send([await this.#encryptTo(b.contact, b.content)]);
          for (const k of b.keys) tx.delete(k);
        });
      } catch (err) {
        if (isRetryable(err)) throw err; // kept: sent on the next flush
        // Refused for good (an untrusted identity, an account that is gone): drop these receipts.
        await this.#run(async (tx) => {
          for (const k of b.keys) tx.delete(k);
        });
      }
    }
  }

  /**
   * The user is looking at `conversation`: its unread 1:1 texts are reported read to the sender
   * (an encrypted receipt). Returns how many were unread.
   */
  markRead(conversation: string): Promise<number> {
    if (!conversation.startsWith('dm:') || !this.#receipts) return Promise.resolve(0);
    return this.#run(async (tx) => {
      const n = await markReadIn(tx, conversation.slice(3));
      if (n > 0) this.#receiptsDue = true;
      return n;
    });
  }

  /** Messages of a conversation (`dm:<name>` or `group:<id>`), oldest first. */
  async messages(conversation: string): Promise<ChatMessage[]> {
    const keys = await this.storage.keys(`msg:${conversation}:`);
    const out: ChatMessage[] = [];
    for (const k of keys) {
      const m = parseJsonBytes<ChatMessage>(await this.storage.get(k));
      if (m) out.push(m);
    }
    return out;
  }

  /** Contacts with a conversation, and everyone in the relay's directory. */
  async contacts(): Promise<string[]> {
    const { accounts } = await this.api.directory();
    return accounts.map((a) => a.name).filter((n) => n !== this.name);
  }

  // ---------------------------------------------------------------------------------------------
  // Groups

  async #loadGroup(tx: Transaction, id: string): Promise<Group | undefined> {
    return parseJsonBytes<Group>(await tx.get(`group:${id}`));
  }

  async groups(): Promise<Group[]> {
    const out: Group[] = [];
    for (const k of await this.storage.keys('group:')) {
      const g = parseJsonBytes<Group>(await this.storage.get(k));
      if (g) out.push(g);
    }
    return out;
  }

  /** Creates a group with this account as admin and tells every member (over the 1:1 sessions). */
  createGroup(title: string, members: readonly string[]): Promise<Group> {
    return this.#run(async (tx) => {
      const id = generateDistributionId({ provider: this.#provider });
      const all = [this.name, ...members.filter((m) => m !== this.name)];
      const group: Group = { id, title, admin: this.name, members: all, active: true };
      tx.set(`group:${id}`, jsonBytes(group));
      await this.#announce(group, all);
      await this.#note(tx, groupConversation(id), this.name, `you created "${title}" with ${all.join(', ')}`);
      this.#emit('group', group);
      return group;
    });
  }

  /**
   * Removes a member (admin only). Every remaining member's next message rotates its sender key, so
   * the removed member cannot read what follows.
   */
  removeMember(groupId: string, member: string): Promise<Group> {
    return this.#run(async (tx) => {
      const old = await this.#loadGroup(tx, groupId);
      if (!old || old.admin !== this.name) throw new Error('only the group admin can remove members');
      const group: Group = { ...old, members: old.members.filter((m) => m !== member) };
      tx.set(`group:${groupId}`, jsonBytes(group));
      await this.#announce(group, [...group.members, member]);
      await this.#note(tx, groupConversation(groupId), this.name, `you removed ${member}`);
      this.#emit('group', group);
      return group;
    });
  }

  async #announce(group: Group, recipients: readonly string[]): Promise<void> {
    const info: GroupInfo = { id: group.id, title: group.title, admin: group.admin, members: group.members };
    const out = [];
    for (const r of recipients)
      if (r !== this.name) out.push(await this.#encryptTo(r, { t: 'group', group: info }));
    if (out.length > 0) await this.#send(out);
  }

  /** Sends this device's sender key to the members that do not hold it (rotating first if needed). */
  async #distribute(group: Group) {
    const me = address(this.name, this.deviceId);
    const members = group.members.filter((m) => m !== this.name).map((m) => address(m));
    const plan = await this.#groups.prepareSend(me, group.id, members);
    if (plan.needsDistribution.length > 0) {
      const skdm = toBase64(plan.distributionMessage.serialize());
      const out = [];
      for (const m of plan.needsDistribution)
        out.push(await this.#encryptTo(m.name, { t: 'skdm', group: group.id, skdm }));
      await this.#send(out);
      await this.#groups.markDelivered(me, group.id, plan.chainId, plan.needsDistribution);
    }
    return plan;
  }

  /** Encrypts once with this device's sender key and sends the same ciphertext to every member. */
  sendGroupText(groupId: string, text: string): Promise<GroupSentInfo> {
    return this.#run(async (tx) => {
      const content = {
        t: 'text' as const,
        id: randomId(this.#provider),
        text,
        sentAt: this.#now(),
        group: groupId,
      };
      return this.#sendGroupContent(tx, groupId, content);
    });
  }

  async #sendGroupContent(
    tx: Transaction,
    groupId: string,
    content: Extract<Content, { t: 'text' }>,
  ): Promise<GroupSentInfo> {
    const { plan, recipients, body } = await this.#deliverGroup(groupId, content);
    const message = await this.#storeText(tx, groupConversation(groupId), this.name, content, true);
    return {
      envelopes: recipients.map((to) => ({ to, kind: 'senderkey' as const, body })),
      message,
      rotation: plan.rotation,
      distributedTo: plan.needsDistribution.map((a) => a.name),
    };
  }

  async #deliverGroup(groupId: string, content: Extract<Content, { t: 'text' }>) {
    const tx = this.#tx;
    if (!tx) throw new Error('send outside a client operation');
    const group = await this.#loadGroup(tx, groupId);
    if (!group || !group.active) throw new Error('not a member of this group');
    const plan = await this.#distribute(group);
    const body = await this.#groups.encrypt(
      address(this.name, this.deviceId),
      groupId,
      encodeContent(content),
    );
    // Kept for re-sends to members who report a missing key (the newest OUTBOX_SIZE per group).
    const skm = SenderKeyMessage.deserialize(body);
    const seq = parseJsonBytes<number>(await tx.get('local:outbox-counter')) ?? 0;
    tx.set('local:outbox-counter', jsonBytes(seq + 1));
    tx.set(outboxKey(groupId, seq, skm.chainId, skm.iteration), jsonBytes(content));
    const outbox = await tx.keys(`outbox:${groupId}:`);
    for (const old of outbox.slice(0, Math.max(0, outbox.length - OUTBOX_SIZE))) tx.delete(old);
    const recipients = group.members.filter((m) => m !== this.name);
    if (recipients.length > 0) {
      await this.#send(
        recipients.map((to) => ({ to, deviceId: DEVICE_ID, kind: 'senderkey' as const, body })),
      );
    }
    return { plan, recipients, body };
  }

  /**
   * Tries to decrypt a group ciphertext without storing anything (the demo hands Carol a message
   * sent after her removal). Returns the text, or why it cannot be read.
   */
  inspectGroupCiphertext(
    sender: string,
    body: Uint8Array,
  ): Promise<{ readable: true; text: string } | { readable: false; reason: string }> {
    // Discarded transaction: this is a look, not a receive.
    return this.#run(async () => {
      const outcome = await this.#groups.tryDecrypt(address(sender), body);
      if (outcome.status === 'decrypted') {
        return {
          readable: true as const,
          text: (decodeContent(outcome.plaintext) as { text?: string }).text ?? '',
        };
      }
      return {
        readable: false as const,
        reason:
          outcome.status === 'missing-sender-key'
            ? `missing sender key (chain ${outcome.chainId ?? 'unknown'})`
            : outcome.status,
      };
    }, true);
  }

  // ---------------------------------------------------------------------------------------------
  // Safety numbers

  async #trustedForSending(a: Address, key: PublicKey): Promise<boolean> {
    const verified = await this.#tx?.get(`verified:${a.name}`);
    return verified === undefined || constantTimeEqual(verified, key.serialize());
  }

  #identityChanged(contact: string): void {
    // Called synchronously from inside the identity store; the notice is written before the commit.
    this.#changedIdentities.push(contact);
  }

  async #computeSafetyNumber(contact: string) {
    const theirs = await this.#store.getIdentity(address(contact));
    if (!theirs) throw new Error(`no identity key known for ${contact} yet: exchange a message first`);
    const sn = computeSafetyNumber({
      local: { identifier: utf8(this.name), identityKey: this.#identity.publicKey },
      remote: { identifier: utf8(contact), identityKey: theirs },
      provider: this.#provider,
    });
    return { theirs, sn };
  }

  /** The safety number with `contact` (needs a session, i.e. at least one message exchanged). */
  safetyNumber(contact: string): Promise<SafetyNumberView> {
    return this.#run(async (tx) => {
      const { theirs, sn } = await this.#computeSafetyNumber(contact);
      const verified = await tx.get(`verified:${contact}`);
      return {
        contact,
        digits: sn.digits,
        groups: sn.groups(),
        payload: sn.scannable.serialize(),
        qrSvg: safetyNumberQr(sn).toSvg(),
        verified: verified !== undefined && constantTimeEqual(verified, theirs.serialize()),
      };
    });
  }

  /**
   * Compares the payload scanned from `contact`'s screen with our own view. On a match the contact's
   * current identity key is remembered as verified; a later change of that key blocks sending until
   * it is verified again (or the change is accepted).
   */
  verifySafetyNumber(contact: string, scanned: Uint8Array): Promise<CompareResult> {
    return this.#run(async (tx) => {
      const { theirs, sn } = await this.#computeSafetyNumber(contact);
      const result = sn.compare(scanned);
      if (result.status === 'match') {
        tx.set(`verified:${contact}`, theirs.serialize());
        await this.#note(tx, dm(contact), this.name, `you verified ${contact}'s safety number`);
      }
      return result;
    });
  }

  /** Accepts a changed identity without verifying it (sending is allowed again, marked unverified). */
  acceptIdentityChange(contact: string): Promise<void> {
    return this.#run(async (tx) => {
      tx.delete(`verified:${contact}`);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Backup

  /** Encrypts the whole client state and uploads it (payload and slot section stored separately). */
  backup(options: BackupOptions): Promise<BackupResult> {
    return this.#run(async (tx) => {
      const entries: [string, string][] = [];
      for (const key of await tx.keys('')) {
        if (NOT_IN_BACKUP.some((p) => key.startsWith(p))) continue;
        const v = await tx.get(key);
        if (v) entries.push([key, toBase64(v)]);
      }
      const plain = jsonBytes({ format: 'e2ee-kit-chat-backup', version: 1, name: this.name, entries });
      const created = await createBackup(plain, {
        ...(options.password !== undefined ? { password: options.password } : {}),
        ...(options.recoveryKey ? { recoveryKey: true } : {}),
        ...(options.argon2 ? { argon2: options.argon2 } : {}),
        provider: this.#provider,
      });
      const file = await created.output.bytes();
      created.keyring.destroy();
      // The slot section (wrapped keys) is stored apart from the encrypted body, so a password
      // change uploads only new slots and the body bytes stay as they are.
      const { slots, body } = splitBackupFile(file);
      await this.api.putBackup(slots, body);
      const info: BackupInfo = {
        createdAt: this.#now(),
        withPassword: options.password !== undefined,
        withRecoveryKey: options.recoveryKey === true,
      };
      tx.set(BACKUP_INFO, jsonBytes(info));
      return {
        recoveryKey: (created.recoveryKey as RecoveryKey | undefined)?.toDisplayString(),
        slotsBytes: slots.length,
        payloadBytes: body.length,
      };
    });
  }

  /** The last backup this device created, if any (a new backup replaces it and its key). */
  async backupInfo(): Promise<BackupInfo | undefined> {
    return parseJsonBytes<BackupInfo>(await this.storage.get(BACKUP_INFO));
  }

  /**
   * Changes the backup's password: downloads the stored backup, unlocks it with `current` (the old
   * password or the 64-digit key; wrong tries count against this device's lockout), re-wraps its key
   * under `newPassword` and uploads only the new slot section. The encrypted payload on the relay is
   * not re-uploaded, and a 64-digit key keeps working.
   */
  changeBackupPassword(current: BackupUnlock, newPassword: string): Promise<{ slotsBytes: number }> {
    return this.#run(async (tx) => {
      const stored = await this.api.getBackup(this.name);
      const file = joinBackupFile({ body: stored.payload, slots: stored.slots });
      const changed = await changeBackupPassword(file, unlockWith(current), newPassword, {
        attempts: attemptPolicy(this.storage, this.#now),
        provider: this.#provider,
      });
      const out = await changed.output.bytes();
      changed.keyring.destroy();
      const { slots, body } = splitBackupFile(out);
      // The payload bytes are the same by construction; checked, since only the slots are uploaded.
      if (!constantTimeEqual(body, stored.payload)) throw new Error('password change altered the payload');
      await this.api.putBackupSlots(slots);
      const info = parseJsonBytes<BackupInfo>(await tx.get(BACKUP_INFO));
      tx.set(
        BACKUP_INFO,
        jsonBytes({ withRecoveryKey: false, createdAt: this.#now(), ...info, withPassword: true }),
      );
      return { slotsBytes: slots.length };
    });
  }

  /**
   * Restores an account on a new device: downloads the backup (authorised by the recovery code),
   * decrypts it with the password or the 64-digit key, re-registers the account with the restored
   * identity and fresh prekeys, and resets sessions and sender keys so the conversation continues
   * without reusing any chain position the old device might have used after the backup.
   */
  static async restore(
    name: string,
    recoveryCode: string,
    unlock: BackupUnlock,
    options: ChatClientOptions,
  ): Promise<{ client: ChatClient; metadata: BackupMetadata }> {
    const storage = options.storage ?? new MemoryStorage();
    const api = new RelayApi(options.serverUrl, options.fetch ? { fetch: options.fetch } : {});
    const stored = await api.getBackup(name, recoveryCode);
    const file = joinBackupFile({ body: stored.payload, slots: stored.slots });
    // Wrong tries are counted in this device's storage: the lockout survives reloads and restarts.
    const opened = await openBackup(file, unlockWith(unlock), {
      attempts: attemptPolicy(storage, options.now),
      ...(options.provider ? { provider: options.provider } : {}),
    });
    const plain = await opened.plaintext.bytes();
    opened.keyring.destroy();
    const doc = parseJsonBytes<{
      format: string;
      version: number;
      name: string;
      entries: [string, string][];
    }>(plain);
    if (!doc || doc.format !== 'e2ee-kit-chat-backup' || doc.version !== 1 || doc.name !== name) {
      throw new Error('the backup does not hold this account');
    }
    const changes = new Map<string, Uint8Array | null>();
    for (const [k, v] of doc.entries) changes.set(k, fromBase64(v));
    await storage.commit(changes);
    const id = await ClientProtocolStore.loadIdentity(new Transaction(storage));
    if (!id) throw new Error('the backup holds no identity');
    const client = await ChatClient.#enroll(name, id.pair, id.registrationId, storage, options, recoveryCode);
    await client.#resetAfterRestore();
    return { client, metadata: opened.metadata };
  }

  async #resetAfterRestore(): Promise<void> {
    await this.#run(async (tx) => {
      // Sessions: keep them for decrypting what was already sent to us, but send on new ones.
      for (const key of await tx.keys('session:')) {
        const bytes = await tx.get(key);
        if (!bytes) continue;
        const record = SessionRecord.deserialize(bytes);
        if (record.hasCurrentState()) {
          record.archiveCurrentState();
          tx.set(key, record.serialize());
        }
      }
      // Own sender keys: a new chain per group (the old device may have used later iterations).
      for (const g of await this.groups()) {
        if (g.active) await this.#groups.rotate(address(this.name, this.deviceId), g.id);
      }
    });
  }
}

class SealedIdentityMismatch extends Error {
  constructor() {
    super('the sealed message certificate names another identity key than our session holds');
    this.name = 'SealedIdentityMismatch';
  }
}

/** Thrown inside `send` to move a text into the outbox (never leaves the client). */
class Queued extends Error {
  constructor() {
    super('queued behind the outbox');
    this.name = 'Queued';
  }
}

function targetOf(conversation: string): OutboxTarget {
  if (conversation.startsWith('dm:')) return { kind: 'dm', contact: conversation.slice(3) };
  if (conversation.startsWith('group:')) return { kind: 'group', id: conversation.slice(6) };
  throw new RangeError('a conversation is dm:<name> or group:<id>');
}

const groupText = (
  c: Extract<Content, { t: 'text' }>,
  target: OutboxTarget,
): Extract<Content, { t: 'text' }> => (target.kind === 'group' ? { ...c, group: target.id } : c);

const unlockWith = (u: BackupUnlock) =>
  'password' in u ? { password: u.password } : { recoveryKey: u.recoveryKey };
