/**
 * The chat client's shared types: what `ChatClient` takes and returns (options, messages, groups,
 * events, backups), and the few helpers every module of the client uses to name things
 * (conversations, addresses, message ids).
 */
import type { Argon2Params, AttemptStore } from '@e2ee-kit/backup-kdf';
import type { Address, CryptoProvider, LockManager } from '@e2ee-kit/core';
import type { KvStore, KvStoreOptions } from '@e2ee-kit/store-kv';
import type { Envelope, EnvelopeKind, FetchLike, WebSocketFactory } from './api.js';
import type { AttachmentPointer } from './attachments.js';
import type { GroupInfo } from './content.js';
import type { Invitation } from './group-consent.js';

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
  /**
   * An outgoing text's status changed (outbox, receipts). `error`: why the outbox gave up on it
   * (an error code such as `UNTRUSTED_IDENTITY`), when it turned "failed".
   */
  'message-status': ChatMessage & { readonly error?: string };
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

/**
 * A group send: `envelopes` has one entry per member account whose copy the relay took. A send
 * that failed part-way through the members resolves too (the members reached have the message):
 * the members it did not reach are in `waiting`, and get it with the next outbox flush.
 */
export interface GroupSentInfo extends SentInfo {
  /** Set when the sender's chain was replaced before this message (e.g. a member was removed). */
  readonly rotation: string | undefined;
  /** Members that were sent a distribution message first. */
  readonly distributedTo: readonly string[];
  /** Members the relay has not taken it for yet: they get it with the next outbox flush. */
  readonly waiting: readonly string[];
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

/** What the store keeps of this device's registration (app row `local:credentials`). */
export interface Credentials {
  name: string;
  /** Our ServiceId, assigned by the relay at registration. */
  aci: string;
  deviceId: number;
  token: string;
  recoveryCode: string;
}

export function randomId(provider: CryptoProvider): string {
  return Array.from(provider.randomBytes(12), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Ratchet addresses (sessions, identity keys) use the contact's ServiceId; sender-key addresses and
 * everything the user sees (conversations, groups, verification) use display names.
 */
export const address = (name: string, deviceId = DEVICE_ID): Address => ({ name, deviceId });

/** An envelope as the app layer handles it: `from` is the sender's display name, `fromAci` its ServiceId. */
export type Incoming = Envelope & { readonly fromAci: string };
export const dm = (name: string) => `dm:${name}`;
export const groupConversation = (id: string) => `group:${id}`;
