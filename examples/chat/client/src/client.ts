/**
 * `ChatClient`: one device of one account. Composes the kit's packages through their public APIs:
 * - @e2ee-kit/ratchet: identity, prekeys (`PreKeyManager`), 1:1 sessions (`SessionCipher`);
 * - @e2ee-kit/sender-keys: groups (`GroupCipher`), distribution messages over the 1:1 sessions;
 * - @e2ee-kit/safety-number (+ ./qr): 60 digits and the QR code per contact;
 * - @e2ee-kit/backup-kdf: the encrypted backup of the whole client state.
 *
 * State lives in the published stores (`@e2ee-kit/store-sqlite` in Node, `@e2ee-kit/store-indexeddb`
 * in browsers; any `KvStore`). Every operation runs alone — a client-wide queue, plus the `locks`
 * manager so other tabs or processes on the same store wait — inside one store transaction that
 * commits at the end. Decrypts hand the message to the store through `deliver`, so a received
 * envelope is acknowledged only after the ratchet state and the decrypted message were committed
 * together.
 */
import {
  type Argon2Params,
  type AttemptStore,
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
  type IdentityKeyPair,
  InProcessLockManager,
  type LockManager,
  type PublicKey,
  resolveProvider,
  toBase64,
  utf8,
} from '@e2ee-kit/core';
import * as ratchet from '@e2ee-kit/ratchet';
import {
  type DeviceChangeResult,
  type HealingDecryptResult,
  type KyberPreKeyRecord,
  PreKeyBundle,
  PreKeyManager,
  type PreKeyUpload,
  SessionCipher,
  type SignedPreKeyRecord,
} from '@e2ee-kit/ratchet';
import { type CompareResult, computeSafetyNumber } from '@e2ee-kit/safety-number';
import { safetyNumberQr } from '@e2ee-kit/safety-number/qr';
import * as senderKeys from '@e2ee-kit/sender-keys';
import {
  GroupCipher,
  generateDistributionId,
  SenderKeyDistributionMessage,
  SenderKeyMessage,
  type SendPlan,
} from '@e2ee-kit/sender-keys';
import type { KvStore, KvStoreOptions, KvTransaction } from '@e2ee-kit/store-kv';
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
import { APP_KEYS, ChatData, jsonBytes, parseJsonBytes } from './app-data.js';
import { AttachmentError, AttachmentErrorCode, type AttachmentPointer } from './attachments.js';
import { attemptPolicy } from './backup-attempts.js';
import { checkBackupArgon2, checkDownloadedBackup, MAX_BACKUP_ARGON2 } from './backup-limits.js';
import { collectMedia, historyPhotos, importMedia, MAX_BACKUP_MEDIA_BYTES } from './backup-media.js';
import { type BackupDoc, checkBackupDoc, exportState, importState } from './backup-state.js';
import { cachedBlob } from './blob-cache.js';
import {
  type Content,
  decodeContent,
  encodeContent,
  type GroupInfo,
  isMessageContent,
  type MessageContent,
} from './content.js';
import { DeviceSender, LinkRequest, type ProvisionedAccount, provisionDevice } from './devices.js';
import { ContactDirectory, DirectoryMismatchError, isDirectoryRefusal } from './directory.js';
import { GroupConsent, type Invitation, type WhoCanAddMe } from './group-consent.js';
import { RetryReceipts } from './healing.js';
import {
  enqueue,
  enqueuePhoto,
  hasPendingFor,
  isRetryable,
  type OutboxPhoto,
  type OutboxTarget,
  type OutboxText,
  pending,
  placeholderId,
  recordUpload,
  remove as removeQueued,
} from './outbox.js';
import { encryptPhoto, openPhoto, type PhotoMeta, uploadBlob } from './photos.js';
import {
  applyReceipt,
  clearReceipts,
  dueReceipts,
  indexMessage,
  markRead as markReadIn,
  markSent,
  onIncomingText,
  setStatus,
} from './receipts.js';
import { dropReason, type Outgoing, SealedSender } from './sealed.js';

/** The primary device of an account (the one that registered it); linked devices get 2, 3, … */
export const DEVICE_ID = 1;

/**
 * Opens the client's store with the options the client passes (record classes, trust policy,
 * identity-change callback, and on a restore the identity): e.g.
 * `(o) => SqliteStore.open(db, o)` or `(o) => IndexedDbStore.open('chat', o)`.
 */
export type StoreOpener = (options: KvStoreOptions) => Promise<KvStore>;

export interface ChatClientOptions {
  /** The relay's base URL, e.g. `http://127.0.0.1:8787` (or `''` for same-origin in a browser). */
  serverUrl: string;
  /** Where the state lives (in tests: `memoryStore()` from `@e2ee-kit/chat-client/memory-store`). */
  store: StoreOpener;
  /**
   * Held for every operation, and given to the ciphers: a `WebLocksManager` when tabs share one
   * IndexedDB, a `SqliteLockManager` when processes share one file (default: this context only).
   */
  locks?: LockManager;
  /** Defaults to `globalThis.WebSocket` (browsers, Node ≥ 22); pass one for Node 20 (the `ws` package). */
  webSocket?: WebSocketFactory;
  fetch?: FetchLike;
  provider?: CryptoProvider;
  /** One-time prekeys generated per refill (default 20). */
  preKeyBatch?: number;
  now?: () => number;
  /** Send delivery and read receipts for 1:1 texts (default true). */
  receipts?: boolean;
  /**
   * Where `restore` counts wrong backup passwords (the store is only opened once the backup is
   * open, so restore cannot use the store's own attempt table). Default: not counted across restarts.
   */
  backupAttempts?: AttemptStore;
  /**
   * Encrypted photo bytes a backup this device creates may carry (default and most:
   * `MAX_BACKUP_MEDIA_BYTES`, 16 MiB), newest photo first.
   */
  backupMediaBytes?: number;
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
  /** A photo (its `text` is `[photo]`): open it with `openAttachment`. */
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
  /** An add this user's privacy setting did not allow (or an update of a pending one). */
  invitation: Invitation;
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
  /** Photos of the history carried in the backup, and those left out (over the cap, or expired on the relay). */
  readonly photos: number;
  readonly photosLeftOut: number;
}

interface Credentials {
  name: string;
  /** Our ServiceId, assigned by the relay at registration. */
  aci: string;
  deviceId: number;
  token: string;
  recoveryCode: string;
}

/** The lock every operation of one account holds (names are prefixed by the lock manager). */
const OPERATION_LOCK = 'chat-client';
/** This device's last backup (kept on this device only; not part of a backup). */
const BACKUP_INFO = 'local:backup-info';
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

/**
 * Ratchet addresses (sessions, identity keys) use the contact's ServiceId; sender-key addresses and
 * everything the user sees (conversations, groups, verification) use display names.
 */
const address = (name: string, deviceId = DEVICE_ID): Address => ({ name, deviceId });

/** An envelope as the app layer handles it: `from` is the sender's display name, `fromAci` its ServiceId. */
type Incoming = Envelope & { readonly fromAci: string };
const dm = (name: string) => `dm:${name}`;
const groupConversation = (id: string) => `group:${id}`;
const pendingKey = (group: string, from: string, chain: number, iteration: number) =>
  `pending:${group}:${from}:${chain}:${iteration}`;
const OUTBOX_SIZE = 50;
/** Times a group send is prepared again because a device left while its key was being distributed. */
const DISTRIBUTE_ROUNDS = 3;
interface OutboxEntry {
  readonly chain: number;
  readonly iteration: number;
  readonly content: Content;
}

/** The client a store's trust policy and identity-change callback report to (set once it exists). */
interface StoreHooks {
  client?: ChatClient;
}

/** Thrown to roll a look-only operation back. */
const DISCARD = Symbol('discard');

export class ChatClient {
  /** The display name. */
  readonly name: string;
  /** The account's ServiceId (ACI): what the relay and the ratchet address it by. */
  readonly aci: string;
  readonly deviceId: number;
  /** The client's store (protocol state and the app's rows). */
  readonly store: KvStore;
  readonly api: RelayApi;
  readonly #provider: CryptoProvider;
  readonly #identity: IdentityKeyPair;
  readonly #locks: LockManager;
  readonly #preKeyBatch: number;
  readonly #directory: ContactDirectory;
  /** Sealed-sender sending and opening (`stats` counts sealed vs. authenticated sends). */
  readonly sealed: SealedSender;
  /** 1:1 sends to every device of the recipient and of our own account (see devices.ts). */
  readonly devices: DeviceSender;
  /** Retry receipts: asking for and answering re-sends of undecryptable 1:1 messages (healing.ts). */
  readonly retries: RetryReceipts;
  readonly #webSocket: WebSocketFactory | undefined;
  readonly #now: () => number;
  readonly #listeners = new Map<keyof ChatEvents, Set<Listener<never>>>();
  /** The running operation's store transaction. */
  #tx: KvTransaction | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #pendingEvents: (() => void)[] = [];
  #socket: WebSocketLike | undefined;
  #queueEmpty: (() => void)[] = [];
  #drained = false;
  #changedIdentities: string[] = [];
  readonly #receipts: boolean;
  readonly #backupMediaBytes: number;
  #receiptsDue = false;

  private constructor(
    creds: Credentials,
    store: KvStore,
    identity: IdentityKeyPair,
    hooks: StoreHooks,
    options: ChatClientOptions,
  ) {
    this.name = creds.name;
    this.aci = creds.aci;
    this.deviceId = creds.deviceId;
    this.store = store;
    hooks.client = this;
    this.#provider = resolveProvider(options.provider);
    this.#now = options.now ?? Date.now;
    this.#locks = options.locks ?? new InProcessLockManager();
    this.#preKeyBatch = options.preKeyBatch ?? DEFAULT_BATCH;
    this.api = new RelayApi(options.serverUrl, {
      token: creds.token,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    this.#directory = new ContactDirectory(this.api);
    this.#webSocket = options.webSocket;
    this.#receipts = options.receipts ?? true;
    this.#backupMediaBytes = options.backupMediaBytes ?? MAX_BACKUP_MEDIA_BYTES;
    this.#identity = identity;
    this.sealed = new SealedSender({
      api: this.api,
      identity,
      provider: this.#provider,
      serviceId: () => this.aci,
      deviceId: () => this.deviceId,
      now: this.#now,
      identityOf: (aci, deviceId) => this.#protocol.getIdentity(address(aci, deviceId)),
    });
    this.devices = new DeviceSender({
      api: this.api,
      store: () => this.#protocol,
      self: () => address(this.aci, this.deviceId),
      data: () => this.#data,
      sealed: this.sealed,
      provider: this.#provider,
      bundleFrom,
    });
    this.retries = new RetryReceipts({
      api: this.api,
      store: () => this.#protocol,
      provider: this.#provider,
      now: this.#now,
      local: () => address(this.aci, this.deviceId),
      bundleFrom,
      cipherOptions: { lockManager: this.#locks },
    });
  }

  /** The running transaction's views (the ciphers below are built over them, per operation). */
  get #txn(): KvTransaction {
    if (!this.#tx) throw new Error('store used outside a client operation');
    return this.#tx;
  }
  get #protocol(): KvTransaction['protocol'] {
    return this.#txn.protocol;
  }
  get #data(): ChatData {
    return new ChatData(this.#txn.app);
  }
  get #groups(): GroupCipher<KvTransaction['senderKeys']> {
    return new GroupCipher(this.#txn.senderKeys, {
      provider: this.#provider,
      now: this.#now,
      lockManager: this.#locks,
    });
  }
  get #manager(): PreKeyManager {
    return new PreKeyManager(this.#protocol, {
      provider: this.#provider,
      now: this.#now,
      minPreKeys: MIN_PREKEYS,
      batchSize: this.#preKeyBatch,
      lockManager: this.#locks,
    });
  }
  /** A session with one device of a contact, bound to both ServiceIds (libsignal's `addresses`). */
  #cipher(aci: string, deviceId = DEVICE_ID): SessionCipher<KvTransaction['protocol']> {
    return new SessionCipher(this.#protocol, address(aci, deviceId), {
      provider: this.#provider,
      lockManager: this.#locks,
      localAddress: address(this.aci, this.deviceId),
    });
  }

  /** Opens the store with the client's trust policy and identity-change reporting. */
  static #openStore(
    options: ChatClientOptions,
    hooks: StoreHooks,
    identity?: { identityKeyPair: IdentityKeyPair; registrationId: number },
  ): Promise<KvStore> {
    return options.store({
      ratchet,
      senderKeys,
      ...(identity ? { identity } : {}),
      ...(options.provider ? { provider: options.provider } : {}),
      // Receiving is always accepted (the change is reported and the safety number changes);
      // sending to a contact whose key differs from the one the user verified needs a new
      // verification first, as Signal does.
      policy: async (a, _stored, presented, direction) =>
        direction === 'receiving' || !hooks.client || hooks.client.#trustedForSending(a, presented),
      onIdentityChange: (e) => {
        if (hooks.client) hooks.client.#identityChanged(e.address.name); // a ServiceId
      },
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Lifecycle

  /**
   * Registers the store's identity with the relay (uploading signed, Kyber and one-time prekeys).
   * With `recoveryCode`, re-registers an existing account on a fresh install (a new identity key:
   * contacts will see the safety number change).
   */
  static async register(
    name: string,
    options: ChatClientOptions & { recoveryCode?: string },
  ): Promise<ChatClient> {
    const hooks: StoreHooks = {};
    const store = await ChatClient.#openStore(options, hooks);
    if ((await store.app.get(APP_KEYS.credentials)) !== undefined)
      throw new Error('this store already holds a registered account');
    return ChatClient.#enroll(name, store, hooks, options, options.recoveryCode);
  }

  /** Opens a client whose state is already in the store (a reload of the web page, a restart). */
  static async open(options: ChatClientOptions): Promise<ChatClient> {
    const hooks: StoreHooks = {};
    const store = await ChatClient.#openStore(options, hooks);
    const creds = parseJsonBytes<Credentials>(await store.app.get(APP_KEYS.credentials));
    if (!creds) throw new Error('this store holds no registered account');
    if (!creds.aci) throw new Error('this store holds an account from before ServiceIds: register it again');
    return new ChatClient(creds, store, await store.protocol.getIdentityKeyPair(), hooks, options);
  }

  /** True when the store holds a registered account. */
  static async hasAccount(open: StoreOpener): Promise<boolean> {
    const store = await open({ ratchet, senderKeys });
    return (await store.app.get(APP_KEYS.credentials)) !== undefined;
  }

  static async #enroll(
    name: string,
    store: KvStore,
    hooks: StoreHooks,
    options: ChatClientOptions,
    recoveryCode: string | undefined,
    link?: { aci: string; provisioningCode: string; profileKey: Uint8Array | undefined },
  ): Promise<ChatClient> {
    const placeholder: Credentials = {
      name,
      aci: '',
      deviceId: DEVICE_ID,
      token: '',
      recoveryCode: recoveryCode ?? '',
    };
    const identity = await store.protocol.getIdentityKeyPair();
    const registrationId = await store.protocol.getLocalRegistrationId();
    const client = new ChatClient(placeholder, store, identity, hooks, options);
    return client.#run(async (tx) => {
      // A registration replaces whatever the relay had for this device: fresh signed and
      // last-resort keys and a full batch of one-time keys (old ones stay for in-flight messages).
      const manager = client.#manager;
      await manager.rotateSignedPreKey();
      await manager.rotateLastResortKyberPreKey();
      const upload = await manager.maintain({ preKeys: 0, kyberPreKeys: 0 });
      const keys = uploadJson(upload);
      const signed = await manager.currentSignedPreKey();
      const lastResort = await manager.currentLastResortKyberPreKey();
      if (!signed || !lastResort) throw new Error('prekey manager produced no signed or last-resort key');
      const device = {
        ...keys,
        registrationId,
        identityKey: toBase64(identity.publicKey.serialize()),
        signedPreKey: signedJson(signed),
        lastResortKyberPreKey: signedJson(lastResort),
      };
      const reply: { aci: string; name: string; deviceId: number; token: string; recoveryCode?: string } =
        link
          ? await client.api.linkDevice({ aci: link.aci, provisioningCode: link.provisioningCode, device })
          : await client.api.register({ name, ...(recoveryCode ? { recoveryCode } : {}), device });
      // A linked device was told its account by the existing device: the relay must agree.
      if (link && (reply.aci !== link.aci || reply.name !== name))
        throw new DirectoryMismatchError('serviceId');
      const creds: Credentials = {
        name,
        aci: reply.aci,
        deviceId: reply.deviceId,
        token: reply.token,
        recoveryCode: reply.recoveryCode ?? recoveryCode ?? '',
      };
      await tx.putJson(APP_KEYS.credentials, creds);
      await client.#directory.pinSelf(tx, { aci: reply.aci, name });
      client.api.token = reply.token;
      await client.sealed.enroll(tx, link?.profileKey);
      return new ChatClient(creds, store, identity, hooks, options);
    });
  }

  /**
   * Links this (new) device to an existing account: `request`'s QR code was scanned (or its text
   * pasted) on a device of the account, which sent the account identity; this device registers as
   * the account's next device with fresh prekeys of its own.
   */
  static async link(
    request: LinkRequest | ProvisionedAccount,
    options: ChatClientOptions,
  ): Promise<ChatClient> {
    const account = request instanceof LinkRequest ? await request.waitForAccount() : request;
    const provider = resolveProvider(options.provider);
    const registrationId = generateRegistrationId((n) => provider.randomBytes(n));
    const hooks: StoreHooks = {};
    // The account's identity key, this device's own registration id.
    const store = await ChatClient.#openStore(options, hooks, {
      identityKeyPair: account.identity,
      registrationId,
    });
    if ((await store.app.get(APP_KEYS.credentials)) !== undefined)
      throw new Error('this store already holds a registered account');
    return ChatClient.#enroll(account.name, store, hooks, options, undefined, {
      aci: account.aci,
      provisioningCode: account.provisioningCode,
      profileKey: account.profileKey,
    });
  }

  /** Existing device: hands the account to the device showing `uri` (ask the user to confirm first). */
  linkDevice(uri: string): Promise<void> {
    return this.#run(async (tx) => {
      await provisionDevice(
        this.api,
        uri,
        {
          aci: this.aci,
          name: this.name,
          identity: this.#identity,
          profileKey: await this.sealed.profileKey(tx),
        },
        this.#provider,
      );
    });
  }

  /** The account's devices as the relay lists them. */
  async listDevices(): Promise<{ deviceId: number; createdAt: number; current: boolean }[]> {
    const { devices } = await this.api.devices();
    return devices.map((d) => ({
      deviceId: d.deviceId,
      createdAt: d.createdAt,
      current: d.deviceId === this.deviceId,
    }));
  }

  /** Unlinks another device of this account: the relay drops it, our sessions with it are archived. */
  unlinkDevice(deviceId: number): Promise<void> {
    return this.#run(async () => {
      await this.api.unlinkDevice(deviceId);
      await this.devices.fanout().removeDevices(this.aci, [deviceId]);
    });
  }

  /**
   * The account's recovery code (32 hex digits): with it, the account can be re-registered on a new
   * device and its backup downloaded. Write it down with the backup key.
   */
  async recoveryCode(): Promise<string> {
    const creds = parseJsonBytes<Credentials>(await this.store.app.get(APP_KEYS.credentials));
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

  /**
   * Runs `fn` alone — after this client's earlier operations, and holding the operation lock so other
   * tabs or processes on the store wait — inside one store transaction committed when it returns
   * (rolled back when `discard`).
   */
  #run<T>(fn: (tx: ChatData) => Promise<T>, discard = false): Promise<T> {
    const next = this.#queue.then(() =>
      this.#locks.run(OPERATION_LOCK, async () => {
        this.#pendingEvents = [];
        this.#changedIdentities = [];
        this.#receiptsDue = false;
        let out: { value: T } | undefined;
        try {
          await this.store.transaction(async (tx) => {
            this.#tx = tx;
            const data = new ChatData(tx.app);
            const value = await fn(data);
            for (const aci of this.#changedIdentities.splice(0)) {
              const contact = await this.#directory.nameOf(data, aci);
              await this.#note(data, dm(contact), contact, `your safety number with ${contact} changed`);
              this.#emit('identity-changed', { contact });
            }
            out = { value };
            if (discard) throw DISCARD;
          });
        } catch (err) {
          if (err !== DISCARD) throw err;
        } finally {
          this.#tx = undefined;
        }
        const events = discard ? [] : this.#pendingEvents;
        this.#pendingEvents = [];
        for (const e of events) e();
        if (this.#receiptsDue && !discard) {
          this.#receiptsDue = false;
          // After this operation, never inside it: a receipt that cannot go now waits in the store.
          void this.flushReceipts().catch(() => {});
        }
        return (out as { value: T }).value;
      }),
    );
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
  async receive(env: Envelope): Promise<void> {
    if (env.kind === 'sealed') return this.#receiveSealed(env);
    try {
      if (env.kind === 'plaintext') return await this.#receiveReceipt(env);
      await this.#run(async (tx) => {
        const incoming = await this.#incoming(tx, env);
        if (env.kind === 'senderkey') await this.#receiveGroup(tx, incoming);
        else await this.#receivePairwise(tx, incoming);
      });
    } catch (err) {
      if (!isDirectoryRefusal(err)) throw err;
      await this.#run(async (tx) => {
        await this.#note(tx, 'directory', '', `dropped a message from an unknown sender (${err.code})`);
      });
    }
  }

  /** Names the sender of a relay envelope (its `from` is a ServiceId) for the app layer. */
  async #incoming(tx: ChatData, env: Envelope): Promise<Incoming> {
    return { ...env, from: await this.#directory.nameOf(tx, env.from), fromAci: env.from };
  }

  /** Sends through the sealed-sender path where possible (see sealed.ts), else authenticated. */
  #send(messages: Outgoing[]): Promise<unknown> {
    return this.sealed.send(this.#data, messages, (m) => this.api.send(m));
  }

  /**
   * Opens a sealed envelope (certificate checked against the pinned trust root), then decrypts the
   * inner message as coming from the certified sender — only if the identity key our session holds
   * for that sender is the certificate's. Anything else rolls back and is dropped with a note.
   */
  async #receiveSealed(env: Envelope): Promise<void> {
    try {
      await this.#run(async (tx) => {
        const opened = await this.sealed.open(tx, env);
        const { identityKey } = opened;
        const sender = address(opened.inner.from, opened.inner.fromDevice);
        // Checked before decrypting when we know the sender, and after a first (prekey) message.
        const known = await this.#protocol.getIdentity(sender);
        if (known && !known.equals(identityKey)) throw new SealedIdentityMismatch();
        const inner = await this.#incoming(tx, opened.inner);
        if (inner.kind === 'senderkey') await this.#receiveGroup(tx, inner);
        else await this.#receivePairwise(tx, inner);
        const held = known ?? (await this.#protocol.getIdentity(sender));
        if (!held || !held.equals(identityKey)) throw new SealedIdentityMismatch();
      });
    } catch (err) {
      if (!(err instanceof SealedIdentityMismatch) && !E2eeError.is(err) && !isDirectoryRefusal(err))
        throw err;
      const why =
        err instanceof SealedIdentityMismatch
          ? 'identity mismatch'
          : isDirectoryRefusal(err)
            ? 'unknown sender'
            : dropReason(err);
      await this.#run(async (tx) => {
        await this.#note(tx, 'sealed', '', `dropped a sealed message that failed validation (${why})`);
      });
    }
  }

  /** A retry receipt: re-send the message it names (or a null message) over a new session. */
  #receiveReceipt(env: Envelope): Promise<void> {
    return this.#run(async (tx) => {
      const done = await this.retries.onReceipt(
        tx,
        env,
        encodeContent({ t: 'hello', ...(await this.sealed.profileKeyField(tx)) } as Content),
      );
      if (done === 'resent') {
        const from = await this.#directory.nameOf(tx, env.from);
        await this.#note(tx, dm(from), this.name, `re-sent a message ${from} could not decrypt`);
      }
    });
  }

  async #receivePairwise(tx: ChatData, env: Incoming): Promise<void> {
    let content: Content | undefined;
    let undecodable = false;
    let delivering = false;
    /** What our own `deliver` threw: never a reason for a receipt, always a rollback. */
    let ownFailure: { error: unknown } | undefined;
    let result: HealingDecryptResult;
    try {
      // Atomic delivery: the text is written in the store transaction that commits the new session
      // state. Control contents may send (to this same address), so they are applied once the
      // cipher returned — still in the same transaction. A failure a new session fixes sends the
      // sender a retry receipt (healing.ts).
      result = await this.retries.decrypt(tx, env, {
        deliver: async ({ plaintext }) => {
          delivering = true;
          try {
            await this.sealed.learn(tx, env.fromAci, plaintext);
            try {
              content = decodeContent(plaintext);
            } catch {
              undecodable = true;
              return;
            }
            if (isMessageContent(content)) {
              await this.#apply(tx, env, content);
              content = undefined;
            }
          } catch (error) {
            ownFailure = { error };
            throw error;
          }
        },
      });
    } catch (err) {
      if (ownFailure) throw ownFailure.error; // our own write failed: roll the whole operation back
      if (delivering) throw err;
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
    if (ownFailure) throw ownFailure.error;
    if (result.kind !== 'decrypted') {
      const asked = result.kind === 'retry-requested' ? '; asked for it again' : '';
      await this.#note(
        tx,
        dm(env.from),
        env.from,
        `could not decrypt a message from ${env.from} (${result.error.code})${asked}`,
      );
      return;
    }
    await tx.addMember(APP_KEYS.peers, env.fromAci);
    if (undecodable) {
      await this.#note(
        tx,
        dm(env.from),
        env.from,
        `${env.from} sent content this client does not understand`,
      );
      return;
    }
    if (content) await this.#apply(tx, env, content);
  }

  async #receiveGroup(tx: ChatData, env: Incoming, retry = false): Promise<boolean> {
    const sender = address(env.from, env.fromDevice);
    const outcome = await this.#groups.tryDecrypt(sender, env.body, {
      // Atomic delivery: the text commits with the advanced sender-key state (an error of ours in
      // here is rethrown by tryDecrypt and rolls the operation back).
      deliver: async ({ plaintext, distributionId }) => {
        let content: Content;
        try {
          content = decodeContent(plaintext);
        } catch {
          return;
        }
        if (!isMessageContent(content) || content.group !== distributionId) return;
        if (!(await this.#inGroup(tx, content.group, env.from))) return; // declined or never joined
        // Sent from another of our devices: shown here as sent.
        const own = env.from === this.name;
        await this.#storeText(tx, groupConversation(content.group), env.from, content, own);
      },
    });
    switch (outcome.status) {
      case 'decrypted':
        return true;
      case 'missing-sender-key': {
        if (retry) return false;
        // A group we did not join (or an invitation not accepted): dropped, nothing sent back.
        if (!(await this.#inGroup(tx, outcome.distributionId, env.from))) return true;
        // Keep the ciphertext (so it can be acknowledged) and ask the sender for its key and for
        // this message: a distribution message only opens messages from its iteration on.
        const skm = SenderKeyMessage.deserialize(env.body);
        const position = { chain: skm.chainId, iteration: skm.iteration };
        const key = pendingKey(outcome.distributionId, env.from, position.chain, position.iteration);
        await tx.putJson(key, { ...env, body: toBase64(env.body) });
        await tx.addMember(APP_KEYS.pending(outcome.distributionId, env.from), key);
        const out = await this.#encryptTo(
          env.from,
          { t: 'resend', group: outcome.distributionId, ...position },
          env.fromDevice,
        );
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

  async #apply(tx: ChatData, env: Incoming, content: Content): Promise<void> {
    const from = env.from;
    switch (content.t) {
      case 'attachment':
      case 'text': {
        if (content.group === undefined) {
          // A sync copy from another of our devices: what it sent, shown here as sent.
          if (from === this.name) {
            if (content.to !== undefined && content.to !== this.name)
              await this.#storeText(tx, dm(content.to), this.name, content, true);
            return;
          }
          await this.#storeText(tx, dm(from), from, content, false);
          return;
        }
        // A group text re-sent pairwise because we could not decrypt the original.
        const group = await this.#loadGroup(tx, content.group);
        if (!group || !group.members.includes(from) || !content.resent) return;
        const key = pendingKey(content.group, from, content.resent.chain, content.resent.iteration);
        if ((await tx.get(key)) === undefined) return; // we did not ask for this one
        await tx.delete(key);
        await tx.removeMember(APP_KEYS.pending(content.group, from), key);
        await this.#storeText(tx, groupConversation(content.group), from, content, from === this.name);
        return;
      }
      case 'group': {
        const g = content.group;
        const known = await this.#loadGroup(tx, g.id);
        // Only the admin changes a group; another device of ours copies the state it holds.
        const own = from === this.name;
        if (!own && known && known.admin !== from) return;
        if (!own && !known && g.admin !== from) return;
        if (!known && !own) {
          // Being added needs this user's consent (their who-can-add-me setting, or an invitation).
          const decision = await this.#consent(tx).screenAdd(this.name, g, from);
          if (decision.action === 'ignore') return;
          if (decision.action === 'invite') {
            this.#emit('invitation', decision.invitation);
            return;
          }
        }
        const active = g.members.includes(this.name);
        const group: Group = { id: g.id, title: g.title, admin: g.admin, members: [...g.members], active };
        await tx.putJson(APP_KEYS.group(g.id), group);
        await tx.addMember(APP_KEYS.groups, g.id);
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
        if (!(await this.#inGroup(tx, content.group, from))) return; // not a group we joined
        await this.#groups.processDistributionMessage(address(from, env.fromDevice), skdm);
        // Messages that arrived before the key: try them again now.
        const index = APP_KEYS.pending(content.group, from);
        for (const key of await tx.members(index)) {
          const raw = await tx.json<Incoming & { body: string }>(key);
          if (!raw) continue;
          const pending: Incoming = { ...raw, body: fromBase64(raw.body) };
          if (await this.#receiveGroup(tx, pending, true)) {
            await tx.delete(key);
            await tx.removeMember(index, key);
          }
        }
        return;
      }
      case 'resend': {
        const group = await this.#loadGroup(tx, content.group);
        if (!group || !group.active || !group.members.includes(from)) return;
        const me = address(this.name, this.deviceId);
        await this.#groups.markNeedsDistribution(me, group.id, [address(from, env.fromDevice)]);
        await this.#distribute(tx, group);
        // The message itself, pairwise, if we still have it (and only to a current member).
        const outbox = (await tx.json<OutboxEntry[]>(APP_KEYS.outbox(group.id))) ?? [];
        const kept = outbox.find(
          (e) => e.chain === content.chain && e.iteration === content.iteration,
        )?.content;
        if (kept && isMessageContent(kept)) {
          const resent: Content = { ...kept, resent: { chain: content.chain, iteration: content.iteration } };
          await this.#send([await this.#encryptTo(from, resent, env.fromDevice)]);
        }
        return;
      }
      case 'invite-answer':
        await this.#invitationAnswered(tx, from, content.group, content.accepted);
        return;
      case 'contacts':
        // Only another device of our own account may set our contacts and privacy setting.
        if (from === this.name) await this.#consent(tx).applySync(content.contacts, content.whoCanAddMe);
        return;
      case 'receipt':
        for (const m of await applyReceipt(tx, from, content)) this.#emit('message-status', m);
        return;
      case 'hello':
        return;
    }
  }

  async #storeText(
    tx: ChatData,
    conversation: string,
    from: string,
    c: MessageContent,
    outgoing: boolean,
    status: DeliveryStatus = 'sent',
  ) {
    const message: ChatMessage = {
      id: c.id,
      conversation,
      from,
      text: c.t === 'text' ? c.text : '[photo]',
      ...(c.t === 'attachment' ? { attachment: c.attachment } : {}),
      sentAt: c.sentAt,
      receivedAt: this.#now(),
      outgoing,
      ...(outgoing ? { status } : {}),
    };
    if (!outgoing && c.group === undefined && this.#receipts) {
      await onIncomingText(tx, from, c.id);
      this.#receiptsDue = true;
    }
    await this.#append(tx, message);
    return message;
  }

  async #note(tx: ChatData, conversation: string, from: string, text: string): Promise<void> {
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

  async #append(tx: ChatData, message: ChatMessage): Promise<void> {
    const key = await tx.appendMessage(message.conversation, message);
    await indexMessage(tx, message.id, key);
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

  /**
   * Encrypts `content` for one device of `name` (the primary unless told), starting a session from a
   * fresh bundle if there is none.
   */
  async #encryptTo(
    name: string,
    content: Content,
    deviceId = DEVICE_ID,
  ): Promise<{ to: string; deviceId: number; kind: EnvelopeKind; body: Uint8Array }> {
    const aci = await this.#directory.aciOf(this.#data, name);
    const cipher = this.#cipher(aci, deviceId);
    if (!(await cipher.hasSession())) {
      const { devices } = await this.api.bundles(aci);
      const bundle = devices.find((d) => d.deviceId === deviceId);
      if (!bundle) throw new RelayError(404, 'not_found', `${name} has no device ${deviceId}`);
      await cipher.initiate(bundleFrom(bundle));
    }
    // Our profile key rides along in every pairwise content: contacts derive our access key from it.
    await this.#data.addMember(APP_KEYS.peers, aci);
    const pk = await this.sealed.profileKeyField(this.#data);
    const msg = await cipher.encrypt(encodeContent({ ...content, ...pk } as Content));
    return { to: aci, deviceId, kind: msg.type, body: msg.body };
  }

  /** Sends a text to a contact. Throws `UntrustedIdentityError` if the contact's verified key changed. */
  sendText(contact: string, text: string): Promise<SentInfo> {
    return this.#sendDm(contact, { t: 'text', id: randomId(this.#provider), text, sentAt: this.#now() });
  }

  #sendDm(contact: string, content: MessageContent): Promise<SentInfo> {
    return this.#run(async (tx) => {
      const { envelopes } = await this.#deliverText(tx, contact, content);
      const message = await this.#storeText(tx, dm(contact), this.name, content, true);
      return { envelopes, message };
    });
  }

  /** Encrypts for every device of the contact, and a copy naming the contact for our own other devices. */
  async #deliverText(
    tx: ChatData,
    contact: string,
    content: MessageContent,
  ): Promise<Pick<SentInfo, 'envelopes'>> {
    const pk = await this.sealed.profileKeyField(tx);
    const plaintext = encodeContent({ ...content, ...pk } as Content);
    const sync = encodeContent({ ...content, to: contact, ...pk } as Content);
    const aci = await this.#directory.aciOf(tx, contact);
    await tx.addMember(APP_KEYS.peers, aci);
    const out = await this.devices.send(aci, plaintext, sync);
    await this.#devicesChanged(tx, out.result, dm(contact));
    for (const e of out.envelopes)
      await this.retries.remember(
        tx,
        address(e.to, e.deviceId),
        e.serverTimestamp,
        e.to === aci ? plaintext : sync,
      );
    return {
      envelopes: out.envelopes
        .filter((e) => e.to === aci)
        .map((e) => ({ to: contact, kind: e.kind, body: e.body })),
    };
  }

  /**
   * A device change is never applied silently: it is noted in `conversation`, and the sender-key
   * holders follow it — re-registered devices need our keys again (`markNeedsDistribution` in every
   * group they are in); added and removed ones change the member devices each send is prepared for
   * (`#memberDevices`), so `prepareSend` lists new devices for the key and rotates past removed ones.
   */
  async #devicesChanged(tx: ChatData, result: DeviceChangeResult, conversation: string): Promise<void> {
    for (const c of result.changes) {
      const own = c.account === this.aci;
      const name = own ? this.name : await this.#directory.nameOf(tx, c.account);
      const who = own ? 'you' : name;
      // A linked device learns of its own account's primary on its first send: not news.
      const added = own ? c.devicesAdded.filter((id) => id !== DEVICE_ID) : c.devicesAdded;
      const changes: [readonly number[], string][] = [
        [added, 'linked'],
        [c.devicesRemoved, 'unlinked'],
        [c.devicesReregistered, 're-registered'],
      ];
      for (const [ids, what] of changes)
        if (ids.length > 0)
          await this.#note(tx, conversation, name, `${who} ${what} a device (${ids.join(', ')})`);
      // A newly linked (or re-linked) device of ours joins our groups (it reads what is sent from now on).
      if (own && added.length + c.devicesReregistered.length > 0) {
        for (const g of await this.#activeGroups(tx)) await this.#announce(tx, g, []);
        await this.#syncContacts(tx);
      }
    }
    const me = address(this.name, this.deviceId);
    for (const a of result.keyHolders.redistribute) {
      const name = a.name === this.aci ? this.name : await this.#directory.nameOf(tx, a.name);
      for (const g of await this.#activeGroups(tx))
        if (g.members.includes(name))
          await this.#groups.markNeedsDistribution(me, g.id, [address(name, a.deviceId)]);
    }
  }

  /**
   * Sends `content` pairwise to every known device of each of `names` and of our own account (when
   * `self`), through the device fan-out (so 409/410 answers update the device lists). Returns the
   * devices (as display-name addresses) it reached and whether any device was found gone.
   */
  async #sendToDevices(
    tx: ChatData,
    names: readonly string[],
    content: Content,
    options: { self: boolean; conversation: string },
  ): Promise<{ reached: Address[]; removed: boolean }> {
    const plaintext = encodeContent({ ...content, ...(await this.sealed.profileKeyField(tx)) } as Content);
    const reached: Address[] = [];
    let removed = false;
    const targets = names.filter((n) => n !== this.name);
    if (options.self) targets.push(this.name);
    for (const name of new Set(targets)) {
      const aci = name === this.name ? this.aci : await this.#directory.aciOf(tx, name);
      if (aci !== this.aci) await tx.addMember(APP_KEYS.peers, aci);
      const out = await this.devices.send(aci, plaintext, false);
      await this.#devicesChanged(tx, out.result, options.conversation);
      removed ||= out.result.keyHolders.forget.length > 0;
      for (const a of out.result.accounts) for (const d of a.devices) reached.push(address(name, d.deviceId));
    }
    return { reached, removed };
  }

  /** The devices a group message goes to: every known device of every other member, and our other ones. */
  async #memberDevices(tx: ChatData, group: Group): Promise<Address[]> {
    const fanout = this.devices.fanout();
    const out: Address[] = [];
    for (const m of group.members) {
      const aci = m === this.name ? this.aci : await this.#directory.aciOf(tx, m);
      for (const d of await fanout.devices(aci)) out.push(address(m, d.deviceId));
    }
    return out;
  }

  async #activeGroups(tx: ChatData): Promise<Group[]> {
    const out: Group[] = [];
    for (const id of await tx.members(APP_KEYS.groups)) {
      const g = await this.#loadGroup(tx, id);
      if (g?.active) out.push(g);
    }
    return out;
  }

  /**
   * Sends a text to a conversation (`dm:<name>` or `group:<id>`) the way an app does: when the
   * relay cannot be reached, the text is kept in the outbox (status "pending") and sent when it is
   * back (`flushOutbox`, called on every reconnect). Other failures (an untrusted identity, a
   * refused request) throw and store nothing.
   */
  async send(conversation: string, text: string): Promise<ChatMessage> {
    const target = targetOf(conversation);
    const content = { t: 'text' as const, id: randomId(this.#provider), text, sentAt: this.#now() };
    try {
      return await this.#run(async (tx) => {
        // Keep the order: a text written after one that waits in the outbox waits behind it.
        if (await hasPendingFor(tx, target)) throw new Queued();
        return (await this.#sendNow(tx, target, content)).message;
      });
    } catch (err) {
      if (!(err instanceof Queued) && !isRetryable(err)) throw err;
      const queued = this.#run(async (tx) => {
        await enqueue(tx, { kind: 'text', target, id: content.id, text, sentAt: content.sentAt });
        return this.#storeText(tx, conversation, this.name, groupText(content, target), true, 'pending');
      });
      // Queued behind earlier texts while the relay answers: those may go now, and this one after.
      if (err instanceof Queued) void queued.then(() => this.flushOutbox()).catch(() => {});
      return queued;
    }
  }

  async #sendNow(tx: ChatData, target: OutboxTarget, content: Extract<Content, { t: 'text' }>) {
    if (target.kind === 'dm') {
      await this.#deliverText(tx, target.contact, content);
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
      try {
        const content = entry.kind === 'photo' ? await this.#uploadQueued(key, entry) : queuedText(entry);
        await this.#run(async (tx) => {
          // Another flush may have sent it meanwhile (operations run one at a time, not flushes).
          if ((await tx.get(key)) === undefined) throw new Queued();
          if (entry.target.kind === 'dm') await this.#deliverText(tx, entry.target.contact, content);
          else await this.#deliverGroup(tx, entry.target.id, { ...content, group: entry.target.id });
          await removeQueued(tx, key);
          const updated = await markSent(tx, content);
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
          await removeQueued(tx, key);
          const updated = await setStatus(tx, entry.id, 'failed');
          if (updated) this.#emit('message-status', { ...updated, error: why });
        });
      }
    }
  }

  /**
   * Uploads a waiting photo's kept blob (unless an earlier try already did) and commits the relay's
   * id into its entry before the message is sent, so a restart after this sends the message with the
   * same id and uploads nothing again. Returns the photo's message content.
   */
  async #uploadQueued(key: string, entry: OutboxPhoto): Promise<MessageContent> {
    let id = entry.uploaded;
    if (id === undefined) {
      const blob = await cachedBlob(new ChatData(this.store.app), entry.pointer.digest);
      if (!blob)
        throw new AttachmentError(
          AttachmentErrorCode.Unavailable,
          'the waiting photo was lost on this device',
        );
      const uploaded = await uploadBlob(this.api, blob);
      await this.#run(async (tx) => {
        if ((await tx.get(key)) === undefined) throw new Queued();
        await recordUpload(tx, key, entry, uploaded);
      });
      id = uploaded;
    }
    return { t: 'attachment', id: entry.id, attachment: { ...entry.pointer, id }, sentAt: entry.sentAt };
  }

  /** Sends the receipts that are due (each contact's batch in its own operation). */
  async flushReceipts(): Promise<void> {
    const batches = await this.#run(async (tx) => dueReceipts(tx), true);
    for (const b of batches) {
      try {
        await this.#run(async (tx) => {
          await this.#send([await this.#encryptTo(b.contact, b.content)]);
          await clearReceipts(tx, b.keys);
        });
      } catch (err) {
        if (isRetryable(err)) throw err; // kept: sent on the next flush
        // Refused for good (an untrusted identity, an account that is gone): drop these receipts.
        await this.#run((tx) => clearReceipts(tx, b.keys));
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
    return new ChatData(this.store.app).messages<ChatMessage>(conversation);
  }

  // ---------------------------------------------------------------------------------------------
  // Contacts, who can add me, invitations (see group-consent.ts)

  #consent(tx: ChatData): GroupConsent {
    return new GroupConsent(tx, this.#now());
  }

  /** The people this user added (never the relay's directory). */
  contacts(): Promise<string[]> {
    return this.#run((tx) => this.#consent(tx).contacts(), true);
  }

  /** People with a 1:1 conversation, contacts or not (someone who wrote first is listed too). */
  async chatPartners(): Promise<string[]> {
    const all = await new ChatData(this.store.app).members(APP_KEYS.conversations);
    return all.filter((c) => c.startsWith('dm:')).map((c) => c.slice(3));
  }

  /** Adds a contact, after the relay confirmed an account of exactly that name exists. */
  addContact(name: string): Promise<void> {
    return this.#run(async (tx) => {
      if (name === this.name) throw new Error('you cannot add yourself');
      await this.api.lookupName(name);
      await this.#consent(tx).addContact(name);
      await this.#syncContacts(tx);
    });
  }

  removeContact(name: string): Promise<void> {
    return this.#run(async (tx) => {
      await this.#consent(tx).removeContact(name);
      await this.#syncContacts(tx);
    });
  }

  /**
   * Contacts and who may add us are the account's, not one device's (as WhatsApp's linked devices):
   * every change goes to our other devices, and a newly linked device gets them with our groups.
   */
  async #syncContacts(tx: ChatData): Promise<void> {
    const consent = this.#consent(tx);
    const content: Content = {
      t: 'contacts',
      contacts: await consent.contacts(),
      whoCanAddMe: await consent.whoCanAddMe(),
    };
    await this.#sendToDevices(tx, [], content, { self: true, conversation: 'directory' });
  }

  whoCanAddMe(): Promise<WhoCanAddMe> {
    return this.#run((tx) => this.#consent(tx).whoCanAddMe(), true);
  }

  setWhoCanAddMe(setting: WhoCanAddMe): Promise<WhoCanAddMe> {
    return this.#run(async (tx) => {
      const checked = await this.#consent(tx).setWhoCanAddMe(setting);
      await this.#syncContacts(tx);
      return checked;
    });
  }

  /** Pending (unexpired) group invitations, oldest first. */
  invitations(): Promise<Invitation[]> {
    return this.#run((tx) => this.#consent(tx).invitations(), true);
  }

  /** Joins the group of a pending invitation and tells its members (throws once it expired). */
  acceptInvitation(groupId: string): Promise<Group> {
    return this.#run(async (tx) => {
      const { group: g, inviter } = await this.#consent(tx).take(groupId, true);
      const group: Group = { ...g, members: [...g.members], active: true };
      await tx.putJson(APP_KEYS.group(g.id), group);
      await tx.addMember(APP_KEYS.groups, g.id);
      const answer: Content = { t: 'invite-answer', group: g.id, accepted: true };
      const conversation = groupConversation(g.id);
      await this.#sendToDevices(tx, g.members, answer, { self: false, conversation });
      // Our other devices join with this one.
      await this.#announce(tx, group, []);
      await this.#note(
        tx,
        groupConversation(g.id),
        inviter,
        `you joined "${g.title}" (invited by ${inviter})`,
      );
      this.#emit('group', group);
      return group;
    });
  }

  /** Declines a pending invitation: tells the inviter, keeps nothing of the group. */
  declineInvitation(groupId: string): Promise<void> {
    return this.#run(async () => {
      const tx = this.#data;
      const { group, inviter } = await this.#consent(tx).take(groupId, false);
      const answer: Content = { t: 'invite-answer', group: group.id, accepted: false };
      await this.#sendToDevices(tx, [inviter], answer, { self: false, conversation: dm(inviter) });
    });
  }

  async #invitationAnswered(tx: ChatData, from: string, groupId: string, accepted: boolean) {
    const group = await this.#loadGroup(tx, groupId);
    if (!group || !group.active || !group.members.includes(from)) return;
    const conversation = groupConversation(groupId);
    if (accepted) {
      // Whatever key we sent before they accepted was dropped unread (by every device of theirs):
      // send it again with our next message.
      const aci = await this.#directory.aciOf(tx, from);
      const devices = (await this.devices.fanout().devices(aci)).map((d) => address(from, d.deviceId));
      if (devices.length > 0)
        await this.#groups.markNeedsDistribution(address(this.name, this.deviceId), groupId, devices);
      await this.#note(tx, conversation, from, `${from} joined`);
    } else if (group.admin === this.name) {
      await this.#removeFromGroup(tx, group, from, `${from} declined the invitation`);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Groups

  async #loadGroup(tx: ChatData, id: string): Promise<Group | undefined> {
    return tx.json<Group>(APP_KEYS.group(id));
  }

  async groups(): Promise<Group[]> {
    const out: Group[] = [];
    const data = new ChatData(this.store.app);
    for (const id of await data.members(APP_KEYS.groups)) {
      const g = await data.json<Group>(APP_KEYS.group(id));
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
      await tx.putJson(APP_KEYS.group(id), group);
      await tx.addMember(APP_KEYS.groups, id);
      await this.#announce(tx, group, all);
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
      return this.#removeFromGroup(tx, old, member, `you removed ${member}`);
    });
  }

  async #removeFromGroup(tx: ChatData, old: Group, member: string, note: string): Promise<Group> {
    const group: Group = { ...old, members: old.members.filter((m) => m !== member) };
    await tx.putJson(APP_KEYS.group(old.id), group);
    await this.#announce(tx, group, [...group.members, member]);
    await this.#note(tx, groupConversation(old.id), this.name, note);
    this.#emit('group', group);
    return group;
  }

  /** True when `from` may send us messages of this group: we joined it and they are a member. */
  async #inGroup(tx: ChatData, groupId: string, from: string): Promise<boolean> {
    const group = await this.#loadGroup(tx, groupId);
    return group !== undefined && group.active && group.members.includes(from);
  }

  /** The group's state to every device of `recipients` and to our own other devices. */
  async #announce(tx: ChatData, group: Group, recipients: readonly string[]): Promise<void> {
    const info: GroupInfo = { id: group.id, title: group.title, admin: group.admin, members: group.members };
    const conversation = groupConversation(group.id);
    await this.#sendToDevices(tx, recipients, { t: 'group', group: info }, { self: true, conversation });
  }

  /**
   * Sends this device's sender key to the member devices that do not hold it (rotating first if
   * needed), pairwise to every device of their accounts. A device found gone meanwhile means the
   * chain must rotate past it: the send is prepared again (at most DISTRIBUTE_ROUNDS times).
   */
  async #distribute(tx: ChatData, group: Group) {
    const me = address(this.name, this.deviceId);
    for (let round = 1; ; round++) {
      const plan = await this.#groups.prepareSend(me, group.id, await this.#memberDevices(tx, group));
      if (plan.needsDistribution.length === 0) return plan;
      const { reached, removed } = await this.#sendSkdm(tx, group.id, plan, plan.needsDistribution);
      await this.#groups.markDelivered(me, group.id, plan.chainId, reached);
      if (!removed || round === DISTRIBUTE_ROUNDS) return plan;
    }
  }

  #sendSkdm(tx: ChatData, groupId: string, plan: SendPlan, devices: readonly Address[]) {
    const skdm = toBase64(plan.distributionMessage.serialize());
    const names = devices.map((d) => d.name);
    return this.#sendToDevices(
      tx,
      names,
      { t: 'skdm', group: groupId, skdm },
      { self: names.includes(this.name), conversation: groupConversation(groupId) },
    );
  }

  /** Encrypts once with this device's sender key and sends the same ciphertext to every member. */
  sendGroupText(groupId: string, text: string): Promise<GroupSentInfo> {
    const id = randomId(this.#provider);
    return this.#sendGroup(groupId, { t: 'text', id, text, sentAt: this.#now(), group: groupId });
  }

  /**
   * Sends a photo to `to` (`dm:<name>` or `group:<id>`): encrypted on this device under a fresh key,
   * uploaded as an opaque blob, and announced by a pointer inside the end-to-end encrypted message.
   * When the relay cannot be reached (or something waits before it in that chat), the encrypted photo
   * waits in the outbox like a text (status "pending", no envelopes) and goes when the relay is back.
   * Throws `AttachmentError` (over 10 MiB, not an image, relay refused) before anything is sent.
   */
  async sendPhoto(to: string, bytes: Uint8Array, meta: PhotoMeta): Promise<SentInfo> {
    const [kind, name] = [to.slice(0, to.indexOf(':')), to.slice(to.indexOf(':') + 1)];
    if ((kind !== 'dm' && kind !== 'group') || !name)
      throw new TypeError('to must be dm:<name> or group:<id>');
    const target = targetOf(to);
    // Encrypted first: the key and digest are fixed now, whenever the upload happens.
    const photo = await encryptPhoto(this.#provider, bytes, meta);
    const id = randomId(this.#provider);
    const sentAt = this.#now();
    const behind = await this.#run((tx) => hasPendingFor(tx, target), true);
    let uploaded: string | undefined;
    if (!behind) {
      try {
        // Outside the store operation: a slow upload holds no lock.
        uploaded = await uploadBlob(this.api, photo.blob);
        const content = { t: 'attachment' as const, id, attachment: photo.pointer(uploaded), sentAt };
        return await this.#run(async (tx) => {
          if (await hasPendingFor(tx, target)) throw new Queued(); // a text queued meanwhile
          if (target.kind === 'group')
            return this.#sendGroupContent(tx, target.id, { ...content, group: target.id });
          const { envelopes } = await this.#deliverText(tx, target.contact, content);
          return { envelopes, message: await this.#storeText(tx, to, this.name, content, true) };
        });
      } catch (err) {
        if (!(err instanceof Queued) && !isRetryable(err)) throw err;
      }
    }
    const pointer = photo.pointer(placeholderId(id));
    const waiting = { t: 'attachment' as const, id, attachment: pointer, sentAt };
    const message = await this.#run(async (tx) => {
      await enqueuePhoto(
        tx,
        {
          kind: 'photo',
          target,
          id,
          sentAt,
          pointer,
          blobBytes: photo.blob.length,
          ...(uploaded ? { uploaded } : {}),
        },
        photo.blob,
      );
      const c = target.kind === 'group' ? { ...waiting, group: target.id } : waiting;
      return this.#storeText(tx, to, this.name, c, true, 'pending');
    });
    // Queued behind others while the relay answers: those may go now, and this one after.
    if (behind) void this.flushOutbox().catch(() => {});
    return { envelopes: [], message };
  }

  /**
   * Downloads, verifies (MAC and digest) and decrypts a received or sent photo — or opens it from
   * this device when it holds the blob (a photo waiting in the outbox, one a backup brought). Throws
   * `AttachmentError`.
   */
  async openAttachment(pointer: AttachmentPointer): Promise<Uint8Array> {
    const local =
      typeof pointer?.digest === 'string'
        ? await cachedBlob(new ChatData(this.store.app), pointer.digest)
        : undefined;
    return openPhoto(this.api, this.#provider, pointer, local);
  }

  #sendGroup(groupId: string, content: MessageContent): Promise<GroupSentInfo> {
    return this.#run((tx) => this.#sendGroupContent(tx, groupId, content));
  }

  async #sendGroupContent(tx: ChatData, groupId: string, content: MessageContent): Promise<GroupSentInfo> {
    const { plan, recipients, body } = await this.#deliverGroup(tx, groupId, content);
    const message = await this.#storeText(tx, groupConversation(groupId), this.name, content, true);
    return {
      envelopes: recipients.map((to) => ({ to, kind: 'senderkey' as const, body })),
      message,
      rotation: plan.rotation,
      distributedTo: [...new Set(plan.needsDistribution.map((a) => a.name))],
    };
  }

  /** Encrypts with this device's sender key and sends the ciphertext to every other member. */
  async #deliverGroup(tx: ChatData, groupId: string, content: MessageContent) {
    const group = await this.#loadGroup(tx, groupId);
    if (!group || !group.active) throw new Error('not a member of this group');
    const plan = await this.#distribute(tx, group);
    const body = await this.#groups.encrypt(
      address(this.name, this.deviceId),
      groupId,
      encodeContent(content),
    );
    // Kept for re-sends to members who report a missing key (the newest OUTBOX_SIZE per group).
    const skm = SenderKeyMessage.deserialize(body);
    const outbox = (await tx.json<OutboxEntry[]>(APP_KEYS.outbox(groupId))) ?? [];
    outbox.push({ chain: skm.chainId, iteration: skm.iteration, content });
    await tx.putJson(APP_KEYS.outbox(groupId), outbox.slice(-OUTBOX_SIZE));
    const recipients = group.members.filter((m) => m !== this.name);
    const me = address(this.name, this.deviceId);
    const conversation = groupConversation(groupId);
    // Every device of every other member, and our own other devices (which show it as sent).
    for (const r of [...recipients, this.name]) {
      const aci = r === this.name ? this.aci : await this.#directory.aciOf(tx, r);
      await this.devices.sendReady(aci, 'senderkey', body, async (change) => {
        await this.#devicesChanged(tx, change, conversation);
        // Devices found new (or re-registered) now get this chain's key before the repeat.
        const fresh = [...change.keyHolders.add, ...change.keyHolders.redistribute].map((a) =>
          address(r, a.deviceId),
        );
        if (fresh.length === 0) return;
        const { reached } = await this.#sendSkdm(tx, groupId, plan, fresh);
        await this.#groups.markDelivered(me, groupId, plan.chainId, reached);
      });
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
    if (!this.#tx) return false;
    const data = this.#data;
    const verified = await data.get(APP_KEYS.verified(await this.#directory.nameOf(data, a.name)));
    return verified === undefined || constantTimeEqual(verified, key.serialize());
  }

  #identityChanged(aci: string): void {
    // Called synchronously from inside the identity store; the notice is written before the commit.
    this.#changedIdentities.push(aci);
  }

  async #computeSafetyNumber(contact: string) {
    const theirs = await this.#protocol.getIdentity(
      address(await this.#directory.aciOf(this.#data, contact)),
    );
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
      const verified = await tx.get(APP_KEYS.verified(contact));
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
        await tx.put(APP_KEYS.verified(contact), theirs.serialize());
        await this.#note(tx, dm(contact), this.name, `you verified ${contact}'s safety number`);
      }
      return result;
    });
  }

  /** Accepts a changed identity without verifying it (sending is allowed again, marked unverified). */
  acceptIdentityChange(contact: string): Promise<void> {
    return this.#run(async (tx) => {
      await tx.delete(APP_KEYS.verified(contact));
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Backup

  /** Encrypts the whole client state and uploads it (payload and slot section stored separately). */
  async backup(options: BackupOptions): Promise<BackupResult> {
    // A backup this app could not restore is refused up front (restore enforces the same limit).
    checkBackupArgon2(options.argon2);
    // The photos' encrypted bytes travel with the history (backup-media.ts); fetched before the
    // store operation, so the downloads hold no lock.
    const data = new ChatData(this.store.app);
    const limit = Math.min(this.#backupMediaBytes, MAX_BACKUP_MEDIA_BYTES);
    const { media, leftOut } = await collectMedia(
      data,
      this.api,
      this.#provider,
      await historyPhotos(data),
      limit,
    );
    return this.#run(async () => {
      const doc: BackupDoc = { ...(await exportState(this.#txn, this.name, DEVICE_ID)), media };
      const plain = jsonBytes(doc);
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
      await this.#data.putJson(BACKUP_INFO, info);
      return {
        recoveryKey: (created.recoveryKey as RecoveryKey | undefined)?.toDisplayString(),
        slotsBytes: slots.length,
        payloadBytes: body.length,
        photos: media.length,
        photosLeftOut: leftOut,
      };
    });
  }

  /** The last backup this device created, if any (a new backup replaces it and its key). */
  async backupInfo(): Promise<BackupInfo | undefined> {
    return new ChatData(this.store.app).json<BackupInfo>(BACKUP_INFO);
  }

  /**
   * Changes the backup's password: downloads the stored backup, unlocks it with `current` (the old
   * password or the 64-digit key; wrong tries count against this device's lockout), re-wraps its key
   * under `newPassword` and uploads only the new slot section. The encrypted payload on the relay is
   * not re-uploaded, and a 64-digit key keeps working.
   */
  async changeBackupPassword(current: BackupUnlock, newPassword: string): Promise<{ slotsBytes: number }> {
    // Unlocked outside a store operation: the attempt counter commits on its own, so a wrong
    // password still counts (the operation below would roll it back).
    const stored = await this.api.getBackup(this.name);
    const file = joinBackupFile({ body: stored.payload, slots: stored.slots });
    await checkDownloadedBackup(file);
    const changed = await changeBackupPassword(file, unlockWith(current), newPassword, {
      attempts: attemptPolicy(this.store.backupAttempts, this.#now),
      provider: this.#provider,
    });
    const out = await changed.output.bytes();
    changed.keyring.destroy();
    const { slots, body } = splitBackupFile(out);
    // The payload bytes are the same by construction; checked, since only the slots are uploaded.
    if (!constantTimeEqual(body, stored.payload)) throw new Error('password change altered the payload');
    await this.api.putBackupSlots(slots);
    await this.#run(async (tx) => {
      const info = await tx.json<BackupInfo>(BACKUP_INFO);
      await tx.putJson(BACKUP_INFO, {
        withRecoveryKey: false,
        createdAt: this.#now(),
        ...info,
        withPassword: true,
      });
    });
    return { slotsBytes: slots.length };
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
    const api = new RelayApi(options.serverUrl, options.fetch ? { fetch: options.fetch } : {});
    const stored = await api.getBackup(name, recoveryCode);
    const file = joinBackupFile({ body: stored.payload, slots: stored.slots });
    await checkDownloadedBackup(file);
    const opened = await openBackup(
      file,
      'password' in unlock ? { password: unlock.password } : { recoveryKey: unlock.recoveryKey },
      {
        ...(options.provider ? { provider: options.provider } : {}),
        maxArgon2MemoryKiB: MAX_BACKUP_ARGON2.memoryKiB,
        // Wrong tries are counted on this device (see `ChatClientOptions.backupAttempts`).
        ...(options.backupAttempts ? { attempts: attemptPolicy(options.backupAttempts, options.now) } : {}),
      },
    );
    const plain = await opened.plaintext.bytes();
    opened.keyring.destroy();
    const doc = parseJsonBytes<BackupDoc>(plain);
    const identity = checkBackupDoc(doc, name);
    // The store is created with the backed-up identity; one that already has another is refused.
    const hooks: StoreHooks = {};
    const store = await ChatClient.#openStore(options, hooks, identity);
    const pair = await store.protocol.getIdentityKeyPair();
    if (
      !pair.publicKey.equals(identity.identityKeyPair.publicKey) ||
      (await store.app.get(APP_KEYS.credentials)) !== undefined
    ) {
      throw new Error('restore needs an empty store: this one already holds an account');
    }
    await store.transaction(async (tx) => {
      await importState(tx, doc as BackupDoc, DEVICE_ID);
      // The history's photos, checked against its digests (the relay may have forgotten them).
      await importMedia(new ChatData(tx.app), (doc as BackupDoc).media, resolveProvider(options.provider));
    });
    const client = await ChatClient.#enroll(name, store, hooks, options, recoveryCode);
    await client.#resetAfterRestore();
    return { client, metadata: opened.metadata };
  }

  async #resetAfterRestore(): Promise<void> {
    await this.#run(async () => {
      // Own sender keys: a new chain per group (the old device may have used later iterations).
      // Sessions were archived by the import: sending starts new ones.
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

const queuedText = (e: OutboxText): Extract<Content, { t: 'text' }> => ({
  t: 'text',
  id: e.id,
  text: e.text,
  sentAt: e.sentAt,
});

const groupText = (
  c: Extract<Content, { t: 'text' }>,
  target: OutboxTarget,
): Extract<Content, { t: 'text' }> => (target.kind === 'group' ? { ...c, group: target.id } : c);

const unlockWith = (u: BackupUnlock) =>
  'password' in u ? { password: u.password } : { recoveryKey: u.recoveryKey };
