/**
 * What every part of one device's client shares (not exported from the package): the account, the
 * relay API, the ciphers built over the running operation's store transaction, and `run`, which
 * makes each operation run alone — after this client's earlier operations, holding the operation
 * lock so other tabs or processes on the store wait — inside one store transaction that commits
 * when it returns. Events wait for that commit. The client's modules (lifecycle, receive, direct,
 * groups, contacts, outbox-send, safety, backup-flow, connection) are functions over a `ClientCore`;
 * `ChatClient` (client.ts) is their public face.
 */
import {
  type Address,
  type CryptoProvider,
  constantTimeEqual,
  type IdentityKeyPair,
  InProcessLockManager,
  type LockManager,
  type PublicKey,
  resolveProvider,
} from '@e2ee-kit/core';
import { PreKeyManager, SessionCipher } from '@e2ee-kit/ratchet';
import { GroupCipher } from '@e2ee-kit/sender-keys';
import type { KvStore, KvTransaction } from '@e2ee-kit/store-kv';
import { type Envelope, RelayApi, type WebSocketFactory, type WebSocketLike } from './api.js';
import { APP_KEYS, ChatData } from './app-data.js';
import { MAX_BACKUP_MEDIA_BYTES } from './backup-media.js';
import type { MessageContent } from './content.js';
import { DeviceSender } from './devices.js';
import { ContactDirectory } from './directory.js';
import { RetryReceipts } from './healing.js';
import { Operation } from './operation.js';
import { bundleFrom } from './prekeys.js';
import { indexMessage, onIncomingText, queueDelivered, storedMessage } from './receipts.js';
import { type Outgoing, SealedSender } from './sealed.js';
import {
  address,
  type ChatClientOptions,
  type ChatEvents,
  type ChatMessage,
  type Credentials,
  DEVICE_ID,
  type DeliveryStatus,
  dm,
  type Incoming,
  randomId,
} from './types.js';

/** The lock every operation of one account holds (names are prefixed by the lock manager). */
const OPERATION_LOCK = 'chat-client';
const DEFAULT_BATCH = 20;
const MIN_PREKEYS = 10;

type Listener<T> = (value: T) => void;

/** The core a store's trust policy asks (set once it exists). */
export interface StoreHooks {
  core?: ClientCore;
}

export class ClientCore {
  readonly name: string;
  readonly aci: string;
  readonly deviceId: number;
  readonly store: KvStore;
  readonly api: RelayApi;
  readonly provider: CryptoProvider;
  readonly identity: IdentityKeyPair;
  readonly locks: LockManager;
  readonly preKeyBatch: number;
  readonly directory: ContactDirectory;
  readonly sealed: SealedSender;
  readonly devices: DeviceSender;
  readonly retries: RetryReceipts;
  readonly webSocket: WebSocketFactory | undefined;
  readonly now: () => number;
  /** Send delivery and read receipts for 1:1 texts. */
  readonly receipts: boolean;
  readonly backupMediaBytes: number;
  /** Set inside an operation that left receipts to send; they go after it (`afterReceipts`). */
  receiptsDue = false;
  /** Sends the due receipts (direct.ts), set by the client: run never sends inside an operation. */
  afterReceipts: () => Promise<void> = async () => {};
  /** The WebSocket and who waits for its queue to drain (connection.ts). */
  socket: WebSocketLike | undefined;
  queueEmpty: (() => void)[] = [];
  drained = false;
  readonly #listeners = new Map<keyof ChatEvents, Set<Listener<never>>>();
  /** The running operation, over one or more store transactions (operation.ts). */
  readonly #op: Operation;
  #queue: Promise<unknown> = Promise.resolve();
  #pendingEvents: (() => void)[] = [];

  constructor(
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
    this.#op = new Operation(store);
    hooks.core = this;
    this.provider = resolveProvider(options.provider);
    this.now = options.now ?? Date.now;
    this.locks = options.locks ?? new InProcessLockManager();
    this.preKeyBatch = options.preKeyBatch ?? DEFAULT_BATCH;
    this.api = new RelayApi(options.serverUrl, {
      token: creds.token,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    // Every ciphertext leaves after the ratchet steps that made it are committed.
    this.api.beforeSend = () => this.#op.checkpoint();
    this.api.afterSend = () => this.#op.accepted();
    this.directory = new ContactDirectory(this.api);
    this.webSocket = options.webSocket;
    this.receipts = options.receipts ?? true;
    this.backupMediaBytes = options.backupMediaBytes ?? MAX_BACKUP_MEDIA_BYTES;
    this.identity = identity;
    this.sealed = new SealedSender({
      api: this.api,
      identity,
      provider: this.provider,
      serviceId: () => this.aci,
      deviceId: () => this.deviceId,
      now: this.now,
      identityOf: (aci, deviceId) => this.protocol.getIdentity(address(aci, deviceId)),
    });
    this.devices = new DeviceSender({
      api: this.api,
      store: () => this.protocol,
      self: () => address(this.aci, this.deviceId),
      data: () => this.data,
      sealed: this.sealed,
      provider: this.provider,
      bundleFrom,
      trustedForSending: (a, key) => this.trustedForSending(a, key),
    });
    this.retries = new RetryReceipts({
      api: this.api,
      store: () => this.protocol,
      provider: this.provider,
      now: this.now,
      local: () => address(this.aci, this.deviceId),
      bundleFrom,
      cipherOptions: { lockManager: this.locks },
    });
  }

  // The running transaction's views (the ciphers below are built over them, per operation).

  get txn(): KvTransaction {
    if (!this.#op.running) throw new Error('store used outside a client operation');
    return this.#op.live;
  }
  get protocol(): KvTransaction['protocol'] {
    return this.txn.protocol;
  }
  get data(): ChatData {
    return new ChatData(this.txn.app);
  }
  /** The app rows as committed (for reads outside an operation). */
  get committed(): ChatData {
    return new ChatData(this.store.app);
  }
  get groupCipher(): GroupCipher<KvTransaction['senderKeys']> {
    return new GroupCipher(this.txn.senderKeys, {
      provider: this.provider,
      now: this.now,
      lockManager: this.locks,
    });
  }
  get manager(): PreKeyManager {
    return new PreKeyManager(this.protocol, {
      provider: this.provider,
      now: this.now,
      minPreKeys: MIN_PREKEYS,
      batchSize: this.preKeyBatch,
      lockManager: this.locks,
    });
  }
  /** A session with one device of a contact, bound to both ServiceIds (libsignal's `addresses`). */
  cipher(aci: string, deviceId = DEVICE_ID): SessionCipher<KvTransaction['protocol']> {
    return new SessionCipher(this.protocol, address(aci, deviceId), {
      provider: this.provider,
      lockManager: this.locks,
      localAddress: address(this.aci, this.deviceId),
    });
  }
  /** The operation queue: resolves once every operation started so far has finished. */
  get queue(): Promise<unknown> {
    return this.#queue;
  }

  // Events

  on<K extends keyof ChatEvents>(event: K, listener: Listener<ChatEvents[K]>): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as Listener<never>);
    return () => set.delete(listener as Listener<never>);
  }

  emit<K extends keyof ChatEvents>(event: K, value: ChatEvents[K]): void {
    // Events fire after the operation committed, never for state that might still roll back.
    this.#pendingEvents.push(() => this.emitNow(event, value));
  }

  emitNow<K extends keyof ChatEvents>(event: K, value: ChatEvents[K]): void {
    for (const l of this.#listeners.get(event) ?? []) (l as Listener<ChatEvents[K]>)(value);
  }

  /**
   * Runs `fn` alone — after this client's earlier operations, and holding the operation lock so other
   * tabs or processes on the store wait — inside one store transaction committed when it returns
   * (rolled back when `discard`). A ciphertext handed to the relay commits what was written before
   * it first (operation.ts): a later failure rolls back only what followed, and its events and due
   * receipts from before the send still count.
   */
  run<T>(fn: (tx: ChatData) => Promise<T>, discard = false): Promise<T> {
    const next = this.#queue.then(() =>
      this.locks.run(OPERATION_LOCK, async () => {
        this.#pendingEvents = [];
        this.receiptsDue = false;
        const committed: (() => void)[] = [];
        let receiptsDue = false;
        const data = new ChatData(this.#op.live.app);
        try {
          return await this.#op.run(() => fn(data), {
            discard,
            // The keys this transaction replaced (a decrypt, an accepted change): noted in it, so
            // the note commits with the new key — or neither does.
            beforeCommit: async () => {
              for (const change of this.#op.current.identityChanges) {
                const contact = await this.directory.nameOf(data, change.address.name); // a ServiceId
                await this.note(data, dm(contact), contact, `your safety number with ${contact} changed`);
                this.emit('identity-changed', { contact });
              }
            },
            onCommit: () => {
              if (discard) return;
              committed.push(...this.#pendingEvents);
              receiptsDue ||= this.receiptsDue;
              this.#pendingEvents = [];
              this.receiptsDue = false;
            },
          });
        } finally {
          this.#pendingEvents = [];
          this.receiptsDue = false;
          // Events fire after the commit of what they tell, never for state that was rolled back.
          for (const e of committed) e();
          if (receiptsDue)
            // After this operation, never inside it: a receipt that cannot go now waits in the store.
            void this.afterReceipts().catch(() => {});
        }
      }),
    );
    this.#queue = next.catch(() => {});
    return next;
  }

  // Trust (the store's policy calls this)

  /** Sending to a contact whose key differs from the one the user verified needs a new verification. */
  async trustedForSending(a: Address, key: PublicKey): Promise<boolean> {
    if (!this.#op.running) return false;
    const data = this.data;
    const verified = await data.get(APP_KEYS.verified(await this.directory.nameOf(data, a.name)));
    return verified === undefined || constantTimeEqual(verified, key.serialize());
  }

  // Relay envelopes and the conversation rows

  /** Names the sender of a relay envelope (its `from` is a ServiceId) for the app layer. */
  async incoming(tx: ChatData, env: Envelope): Promise<Incoming> {
    return { ...env, from: await this.directory.nameOf(tx, env.from), fromAci: env.from };
  }

  /** Sends through the sealed-sender path where possible (see sealed.ts), else authenticated. */
  send(messages: Outgoing[]): Promise<unknown> {
    return this.sealed.send(this.data, messages, (m) => this.api.send(m));
  }

  /**
   * Stores a text or photo of `conversation` (with a receipt due for an incoming 1:1 one). A message
   * whose id this conversation already holds from the same sender is not stored again: a device
   * restored from a backup sends what waited in the backup's outbox, which the old device may have
   * sent already (outbox.ts). A delivered receipt is still due, so the restored sender's tick moves.
   */
  async storeText(
    tx: ChatData,
    conversation: string,
    from: string,
    c: MessageContent,
    outgoing: boolean,
    status: DeliveryStatus = 'sent',
  ): Promise<ChatMessage> {
    const known = await storedMessage(tx, c.id);
    if (known && !known.system && known.conversation === conversation && known.from === from) {
      if (!outgoing && c.group === undefined && this.receipts) {
        await queueDelivered(tx, from, c.id);
        this.receiptsDue = true;
      }
      return known;
    }
    const message: ChatMessage = {
      id: c.id,
      conversation,
      from,
      text: c.t === 'text' ? c.text : '[photo]',
      ...(c.t === 'attachment' ? { attachment: c.attachment } : {}),
      sentAt: c.sentAt,
      receivedAt: this.now(),
      outgoing,
      ...(outgoing ? { status } : {}),
    };
    if (!outgoing && c.group === undefined && this.receipts) {
      await onIncomingText(tx, from, c.id);
      this.receiptsDue = true;
    }
    await this.#append(tx, message);
    return message;
  }

  /** A notice written by the client itself into `conversation`. */
  async note(tx: ChatData, conversation: string, from: string, text: string): Promise<void> {
    const now = this.now();
    await this.#append(tx, {
      id: randomId(this.provider),
      conversation,
      from,
      text,
      sentAt: now,
      receivedAt: now,
      outgoing: false,
      system: true,
    });
  }

  /**
   * A notice that something was dropped (could not be decrypted, failed validation). What a relay
   * can forge costs it nothing, so each notice is written once until the conversation's next
   * message: the texts name a sender and an error code, so any number of forged envelopes adds a
   * bounded number of rows. Notices the user must always see (a changed safety number) use `note`.
   */
  async dropNote(tx: ChatData, conversation: string, from: string, text: string): Promise<void> {
    const key = APP_KEYS.dropNotes(conversation);
    const written = await tx.members(key);
    if (written.includes(text)) return;
    await tx.putJson(key, [...written, text]);
    await this.note(tx, conversation, from, text);
  }

  async #append(tx: ChatData, message: ChatMessage): Promise<void> {
    // A message: the drop notices may be written again after it.
    const notes = APP_KEYS.dropNotes(message.conversation);
    if (!message.system && (await tx.get(notes)) !== undefined) await tx.delete(notes);
    const key = await tx.appendMessage(message.conversation, message);
    await indexMessage(tx, message.id, key);
    this.emit('message', message);
  }
}
