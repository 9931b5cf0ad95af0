/**
 * `ChatClient`: one device of one account — the public face of the client's modules. Composes the
 * kit's packages through their public APIs:
 * - @e2ee-kit/ratchet: identity, prekeys (`PreKeyManager`), 1:1 sessions (`SessionCipher`);
 * - @e2ee-kit/sender-keys: groups (`GroupCipher`), distribution messages over the 1:1 sessions;
 * - @e2ee-kit/safety-number (+ ./qr): 60 digits and the QR code per contact;
 * - @e2ee-kit/backup-kdf: the encrypted backup of the whole client state.
 *
 * State lives in the published stores (`@e2ee-kit/store-sqlite` in Node, `@e2ee-kit/store-indexeddb`
 * in browsers; any `KvStore`). Every operation runs alone inside one store transaction (core.ts).
 * Decrypts hand the message to the store through `deliver`, so a received envelope is acknowledged
 * only after the ratchet state and the decrypted message were committed together (receive.ts).
 *
 * Where each part lives: lifecycle.ts (register, open, link, devices), connection.ts (WebSocket),
 * receive.ts (every incoming envelope, top-down), direct.ts (1:1 and receipts), groups.ts,
 * contacts.ts (contacts, who can add me, invitations), outbox-send.ts (sending through the outbox,
 * photos), safety.ts, backup-flow.ts, prekeys.ts; the shared types are in types.ts.
 */
import type { BackupMetadata } from '@e2ee-kit/backup-kdf';
import type { PublicKey } from '@e2ee-kit/core';
import type { CompareResult } from '@e2ee-kit/safety-number';
import type { KvStore } from '@e2ee-kit/store-kv';
import type { Envelope, PreKeyCounts, RelayApi } from './api.js';
import type { AttachmentPointer } from './attachments.js';
import * as backups from './backup-flow.js';
import * as connection from './connection.js';
import * as contacts from './contacts.js';
import type { ClientCore } from './core.js';
import type { DeviceSender, LinkRequest, ProvisionedAccount } from './devices.js';
import * as direct from './direct.js';
import type { Invitation, WhoCanAddMe } from './group-consent.js';
import * as groups from './groups.js';
import type { RetryReceipts } from './healing.js';
import * as lifecycle from './lifecycle.js';
import * as outbox from './outbox-send.js';
import type { PhotoMeta } from './photos.js';
import { refillPreKeys } from './prekeys.js';
import { receive } from './receive.js';
import * as safety from './safety.js';
import type { SealedSender } from './sealed.js';
import type {
  BackupInfo,
  BackupOptions,
  BackupResult,
  BackupUnlock,
  ChatClientOptions,
  ChatEvents,
  ChatMessage,
  Group,
  GroupSentInfo,
  SafetyNumberView,
  SentInfo,
  StoreOpener,
} from './types.js';

export class ChatClient {
  readonly #c: ClientCore;

  private constructor(core: ClientCore) {
    this.#c = core;
    // Receipts due after an operation are sent after it, by the 1:1 module.
    core.afterReceipts = () => direct.flushReceipts(core);
  }

  /** The display name. */
  get name(): string {
    return this.#c.name;
  }
  /** The account's ServiceId (ACI): what the relay and the ratchet address it by. */
  get aci(): string {
    return this.#c.aci;
  }
  get deviceId(): number {
    return this.#c.deviceId;
  }
  /** The client's store (protocol state and the app's rows). */
  get store(): KvStore {
    return this.#c.store;
  }
  get api(): RelayApi {
    return this.#c.api;
  }
  /** Sealed-sender sending and opening (`stats` counts sealed vs. authenticated sends). */
  get sealed(): SealedSender {
    return this.#c.sealed;
  }
  /** 1:1 sends to every device of the recipient and of our own account (see devices.ts). */
  get devices(): DeviceSender {
    return this.#c.devices;
  }
  /** Retry receipts: asking for and answering re-sends of undecryptable 1:1 messages (healing.ts). */
  get retries(): RetryReceipts {
    return this.#c.retries;
  }
  get identityKey(): PublicKey {
    return this.#c.identity.publicKey;
  }

  // ---------------------------------------------------------------------------------------------
  // Lifecycle (lifecycle.ts)

  /**
   * Registers the store's identity with the relay (uploading signed, Kyber and one-time prekeys).
   * With `recoveryCode`, re-registers an existing account on a fresh install (a new identity key:
   * contacts will see the safety number change).
   */
  static async register(
    name: string,
    options: ChatClientOptions & { recoveryCode?: string },
  ): Promise<ChatClient> {
    return new ChatClient(await lifecycle.register(name, options));
  }

  /** Opens a client whose state is already in the store (a reload of the web page, a restart). */
  static async open(options: ChatClientOptions): Promise<ChatClient> {
    return new ChatClient(await lifecycle.open(options));
  }

  /** True when the store holds a registered account. */
  static hasAccount(open: StoreOpener): Promise<boolean> {
    return lifecycle.hasAccount(open);
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
    return new ChatClient(await lifecycle.link(request, options));
  }

  /**
   * Restores an account on a new device from its backup (backup-flow.ts): a new registration with
   * the restored identity, the history with its photos, sessions and sender keys reset.
   */
  static async restore(
    name: string,
    recoveryCode: string,
    unlock: BackupUnlock,
    options: ChatClientOptions,
  ): Promise<{ client: ChatClient; metadata: BackupMetadata }> {
    const { core, metadata } = await backups.restore(name, recoveryCode, unlock, options);
    return { client: new ChatClient(core), metadata };
  }

  /** Existing device: hands the account to the device showing `uri` (ask the user to confirm first). */
  linkDevice(uri: string): Promise<void> {
    return lifecycle.linkDevice(this.#c, uri);
  }
  /** The account's devices as the relay lists them. */
  listDevices(): Promise<{ deviceId: number; createdAt: number; current: boolean }[]> {
    return lifecycle.listDevices(this.#c);
  }
  /** Unlinks another device of this account: the relay drops it, our sessions with it are archived. */
  unlinkDevice(deviceId: number): Promise<void> {
    return lifecycle.unlinkDevice(this.#c, deviceId);
  }
  /**
   * The account's recovery code (32 hex digits): with it, the account can be re-registered on a new
   * device and its backup downloaded. Write it down with the backup key.
   */
  recoveryCode(): Promise<string> {
    return lifecycle.recoveryCode(this.#c);
  }

  on<K extends keyof ChatEvents>(event: K, listener: (value: ChatEvents[K]) => void): () => void {
    return this.#c.on(event, listener);
  }

  // ---------------------------------------------------------------------------------------------
  // Delivery (connection.ts, receive.ts, prekeys.ts)

  /** Opens the WebSocket; resolves once the queued envelopes were all received and processed. */
  connect(): Promise<void> {
    return connection.connect(this.#c);
  }
  /** Resolves when every envelope received so far has been processed. */
  idle(): Promise<void> {
    return connection.idle(this.#c);
  }
  disconnect(): void {
    connection.disconnect(this.#c);
  }
  /**
   * Fetches queued envelopes over HTTP instead of the WebSocket and processes them in the order
   * `reorder` returns (the demo uses it to simulate a network that delivers out of order).
   */
  syncOnce(reorder?: (envs: Envelope[]) => Envelope[]): Promise<ChatMessage[]> {
    return connection.syncOnce(this.#c, reorder);
  }
  /** Processes one envelope (decrypt, apply, store) and commits. Resolve = safe to acknowledge. */
  receive(env: Envelope): Promise<void> {
    return receive(this.#c, env);
  }
  /** Tops up one-time prekeys (and rotates the signed / last-resort keys when due) and uploads them. */
  refillPreKeys(counts?: { preKeys: number; kyberPreKeys: number }): Promise<PreKeyCounts> {
    return refillPreKeys(this.#c, counts);
  }

  // ---------------------------------------------------------------------------------------------
  // Messages (direct.ts, outbox-send.ts)

  /** Sends a text to a contact. Throws `UntrustedIdentityError` if the contact's verified key changed. */
  sendText(contact: string, text: string): Promise<SentInfo> {
    return direct.sendText(this.#c, contact, text);
  }
  /**
   * Sends a text to a conversation (`dm:<name>` or `group:<id>`) the way an app does: when the
   * relay cannot be reached it waits in the outbox (status "pending") and goes when it is back.
   */
  send(conversation: string, text: string): Promise<ChatMessage> {
    return outbox.send(this.#c, conversation, text);
  }
  /**
   * Sends a photo to `to` (`dm:<name>` or `group:<id>`), encrypted on this device; offline it waits
   * in the outbox like a text. Throws `AttachmentError` (over 10 MiB, not an image, relay refused).
   * To a group it resolves as `sendGroupText` does (`GroupSentInfo`: the members reached, and
   * `waiting` — those the next outbox flush sends it to).
   */
  sendPhoto(to: `group:${string}`, bytes: Uint8Array, meta: PhotoMeta): Promise<GroupSentInfo>;
  sendPhoto(to: string, bytes: Uint8Array, meta: PhotoMeta): Promise<SentInfo>;
  sendPhoto(to: string, bytes: Uint8Array, meta: PhotoMeta): Promise<SentInfo | GroupSentInfo> {
    return outbox.sendPhoto(this.#c, to, bytes, meta);
  }
  /** Opens (verifies MAC and digest, decrypts) a received or sent photo. Throws `AttachmentError`. */
  openAttachment(pointer: AttachmentPointer): Promise<Uint8Array> {
    return outbox.openAttachment(this.#c, pointer);
  }
  /** Sends what waits in the outbox, oldest first; returns how many were sent. */
  flushOutbox(): Promise<number> {
    return outbox.flushOutbox(this.#c);
  }
  /**
   * Sends again a text of yours that was not sent (status "failed"): it waits in the outbox again
   * and goes in order; the receiver shows it once even if an earlier try reached it.
   */
  sendAgain(messageId: string): Promise<ChatMessage> {
    return outbox.sendAgain(this.#c, messageId);
  }
  /** Sends the receipts that are due (each contact's batch in its own operation). */
  flushReceipts(): Promise<void> {
    return direct.flushReceipts(this.#c);
  }
  /** The user is looking at `conversation`: its unread 1:1 texts are reported read. */
  markRead(conversation: string): Promise<number> {
    return direct.markRead(this.#c, conversation);
  }
  /** Messages of a conversation (`dm:<name>` or `group:<id>`), oldest first. */
  messages(conversation: string): Promise<ChatMessage[]> {
    return direct.messages(this.#c, conversation);
  }

  // ---------------------------------------------------------------------------------------------
  // Contacts, who can add me, invitations (contacts.ts)

  /** The people this user added (never the relay's directory). */
  contacts(): Promise<string[]> {
    return contacts.contacts(this.#c);
  }
  /** People with a 1:1 conversation, contacts or not (someone who wrote first is listed too). */
  chatPartners(): Promise<string[]> {
    return contacts.chatPartners(this.#c);
  }
  /** Adds a contact, after the relay confirmed an account of exactly that name exists. */
  addContact(name: string): Promise<void> {
    return contacts.addContact(this.#c, name);
  }
  removeContact(name: string): Promise<void> {
    return contacts.removeContact(this.#c, name);
  }
  whoCanAddMe(): Promise<WhoCanAddMe> {
    return contacts.whoCanAddMe(this.#c);
  }
  setWhoCanAddMe(setting: WhoCanAddMe): Promise<WhoCanAddMe> {
    return contacts.setWhoCanAddMe(this.#c, setting);
  }
  /** Pending (unexpired) group invitations, oldest first. */
  invitations(): Promise<Invitation[]> {
    return contacts.invitations(this.#c);
  }
  /** Joins the group of a pending invitation and tells its members (throws once it expired). */
  acceptInvitation(groupId: string): Promise<Group> {
    return contacts.acceptInvitation(this.#c, groupId);
  }
  /** Declines a pending invitation: tells the inviter, keeps nothing of the group. */
  declineInvitation(groupId: string): Promise<void> {
    return contacts.declineInvitation(this.#c, groupId);
  }

  // ---------------------------------------------------------------------------------------------
  // Groups (groups.ts)

  groups(): Promise<Group[]> {
    return groups.listGroups(this.#c);
  }
  /** Creates a group with this account as admin and tells every member (over the 1:1 sessions). */
  createGroup(title: string, members: readonly string[]): Promise<Group> {
    return groups.createGroup(this.#c, title, members);
  }
  /** Removes a member (admin only); every remaining member's next message rotates its sender key. */
  removeMember(groupId: string, member: string): Promise<Group> {
    return groups.removeMember(this.#c, groupId, member);
  }
  /** Encrypts once with this device's sender key and sends the same ciphertext to every member. */
  sendGroupText(groupId: string, text: string): Promise<GroupSentInfo> {
    return groups.sendGroupText(this.#c, groupId, text);
  }
  /** Tries to decrypt a group ciphertext without storing anything; returns the text or why not. */
  inspectGroupCiphertext(
    sender: string,
    body: Uint8Array,
  ): Promise<{ readable: true; text: string } | { readable: false; reason: string }> {
    return groups.inspectGroupCiphertext(this.#c, sender, body);
  }

  // ---------------------------------------------------------------------------------------------
  // Safety numbers (safety.ts)

  /** The safety number with `contact` (needs a session, i.e. at least one message exchanged). */
  safetyNumber(contact: string): Promise<SafetyNumberView> {
    return safety.safetyNumber(this.#c, contact);
  }
  /** Compares the payload scanned from `contact`'s screen; a match remembers the key as verified. */
  verifySafetyNumber(contact: string, scanned: Uint8Array): Promise<CompareResult> {
    return safety.verifySafetyNumber(this.#c, contact, scanned);
  }
  /** Accepts a changed identity without verifying it (sending is allowed again, marked unverified). */
  acceptIdentityChange(contact: string): Promise<void> {
    return safety.acceptIdentityChange(this.#c, contact);
  }

  // ---------------------------------------------------------------------------------------------
  // Backup (backup-flow.ts)

  /** Encrypts the whole client state and the history's photos, and uploads it. */
  backup(options: BackupOptions): Promise<BackupResult> {
    return backups.backup(this.#c, options);
  }
  /** The last backup this device created, if any (a new backup replaces it and its key). */
  backupInfo(): Promise<BackupInfo | undefined> {
    return backups.backupInfo(this.#c);
  }
  /** Changes the backup's password; only the new key slots are uploaded. */
  changeBackupPassword(current: BackupUnlock, newPassword: string): Promise<{ slotsBytes: number }> {
    return backups.changeBackupPassword(this.#c, current, newPassword);
  }
}
