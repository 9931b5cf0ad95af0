/**
 * One `send` to an account reaches every device of it and every other device of our own account
 * (the sync copy): sessions are started from bundles the app fetches (`fetchBundles`), sessions of
 * devices that left are archived, and the server's 409/410 answers are applied before a bounded
 * number of resends. Every device change is reported per account (`devicesAdded` /
 * `devicesRemoved` / `devicesReregistered`), never applied silently, together with the sender-key
 * holders the app must add or forget (`@e2ee-kit/sender-keys` takes them as plain addresses).
 */
import {
  type Address,
  type CryptoProvider,
  copyBytes,
  createAddress,
  PublicKey,
  validateAddress,
} from '@e2ee-kit/core';
import type { PreKeyBundle } from '../bundle.js';
import { SessionCipher, type SessionCipherOptions, type WireMessageType } from '../session-cipher.js';
import { assertProtocolStore, type ProtocolStore } from '../stores.js';
import { checkAccountKey, replaceIdentity } from './account-identity.js';
import { ChangeLog, type DeviceChangeResult } from './device-changes.js';
import { type DeviceListStore, type DeviceMismatch, deviceIds, planDeviceMismatch } from './device-list.js';
import { type AccountSendResult, FanoutIncompleteError } from './fan-out-error.js';

export type { DeviceChange, DeviceChangeResult, KeyHolderChange } from './device-changes.js';
export { type AccountSendResult, FanoutIncompleteError, IdentityChangedError } from './fan-out-error.js';

/** One ciphertext of a fan-out, for one device. */
export interface DeviceMessage {
  readonly address: Address;
  /** The device's registration id, as the server checks it (Signal's `destinationRegistrationId`). */
  readonly registrationId: number;
  readonly type: WireMessageType;
  readonly body: Uint8Array;
}

/** The app's delivery of one account's messages: the server accepted, or answered 409/410. */
export type DeliveryAnswer = { readonly status: 'ok' } | DeviceMismatch;

export interface Delivery {
  readonly account: string;
  /** True for the copy to our own other devices. */
  readonly sync: boolean;
  readonly messages: readonly DeviceMessage[];
}

export interface FanoutSendResult extends DeviceChangeResult {
  readonly accounts: readonly AccountSendResult[];
}

export interface FanoutOptions {
  /** This device: our account name and device id. */
  readonly self: Address;
  readonly deviceLists: DeviceListStore;
  /** Bundles for exactly these devices of `account` (Signal: `GET /v2/keys/{account}/{id}`); omit gone ones. */
  readonly fetchBundles: (account: string, deviceIds: readonly number[]) => Promise<readonly PreKeyBundle[]>;
  readonly provider?: CryptoProvider;
  /** Sends per account before giving up (default 3: Signal resends after 410 once, keeps going on 409). */
  readonly maxAttempts?: number;
  /** Passed to every `SessionCipher` made here. */
  readonly cipherOptions?: Omit<SessionCipherOptions, 'provider' | 'localAddress'>;
}

export interface FanoutSendOptions {
  /** What our other devices get (Signal: a `SyncMessage.Sent`); default the same plaintext; `false`: none. */
  readonly sync?: Uint8Array | false;
  /**
   * Send to one side only: the retry after a `FanoutIncompleteError` whose `accounts` show the
   * recipient as sent is `only: 'sync'` (else the recipient gets the message twice). Default both.
   */
  readonly only?: 'recipient' | 'sync';
}

/** The primary device; Signal's clients always address it, so an unknown account starts with it. */
const PRIMARY_DEVICE_ID = 1;

export class DeviceFanout {
  readonly #store: ProtocolStore;
  readonly #self: Address;
  readonly #lists: DeviceListStore;
  readonly #fetch: FanoutOptions['fetchBundles'];
  readonly #provider: CryptoProvider | undefined;
  readonly #maxAttempts: number;
  readonly #cipherOptions: FanoutOptions['cipherOptions'];
  /**
   * Device changes applied (sessions archived or started, list saved) but not yet returned: a call
   * that throws after applying one (a failed delivery, fetch or store call) leaves it here, and the
   * next call for that account reports it. The saved list no longer shows it, so without this the
   * app would never hear of it (a removed device would stay a sender-key holder).
   */
  readonly #unreported = new ChangeLog();

  constructor(store: ProtocolStore, options: FanoutOptions) {
    assertProtocolStore(store);
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
    validateAddress(options.self);
    if (typeof options.fetchBundles !== 'function') throw new TypeError('fetchBundles must be a function');
    const lists = options.deviceLists;
    if (
      lists === null ||
      typeof lists !== 'object' ||
      typeof lists.getDevices !== 'function' ||
      typeof lists.saveDevices !== 'function'
    )
      throw new TypeError('deviceLists must be a DeviceListStore');
    const max = options.maxAttempts ?? 3;
    if (!Number.isInteger(max) || max < 1 || max > 10)
      throw new RangeError('maxAttempts must be an integer in 1..10');
    this.#store = store;
    this.#self = options.self;
    this.#lists = lists;
    this.#fetch = options.fetchBundles;
    this.#provider = options.provider;
    this.#maxAttempts = max;
    this.#cipherOptions = options.cipherOptions;
  }

  #cipher(address: Address): SessionCipher {
    return new SessionCipher(this.#store, address, {
      ...this.#cipherOptions,
      ...(this.#provider === undefined ? {} : { provider: this.#provider }),
      localAddress: this.#self,
    });
  }

  #isSelf(account: string): boolean {
    return account === this.#self.name;
  }

  /**
   * The stored list of `account`, checked: a repeated id would get two messages (the second one a
   * duplicate delivery the receiver cannot tell), an id outside 1..127 no valid address.
   */
  async #stored(account: string): Promise<number[] | null> {
    const stored = await this.#lists.getDevices(account);
    return stored === null ? null : deviceIds(stored, 'stored device list');
  }

  async #list(account: string): Promise<number[]> {
    const stored = await this.#stored(account);
    if (stored === null) return this.#isSelf(account) ? [] : [PRIMARY_DEVICE_ID];
    return stored.filter((id) => !(this.#isSelf(account) && id === this.#self.deviceId));
  }

  /** The devices a send to `account` goes to now (for our own account: our other devices). */
  async devices(account: string): Promise<Address[]> {
    checkAccount(account);
    return (await this.#list(account)).map((id) => createAddress(account, id));
  }

  /** Fresh bundles for `ids` (only those: a bundle for another id is the relay's mistake, not a new device). */
  async #fetchBundles(account: string, ids: readonly number[]): Promise<Map<number, PreKeyBundle>> {
    const out = new Map<number, PreKeyBundle>();
    if (ids.length === 0) return out;
    const bundles = await this.#fetch(account, ids.slice());
    if (!Array.isArray(bundles)) throw new TypeError('fetchBundles must resolve to an array of bundles');
    for (const bundle of bundles)
      if (ids.includes(bundle.deviceId) && !out.has(bundle.deviceId)) out.set(bundle.deviceId, bundle);
    checkAccountKey(account, out, await this.#accountIdentity(account), this.#isSelf(account));
    return out;
  }

  /** The identity key already known for `account` (ours for our own account), if any. */
  async #accountIdentity(account: string): Promise<PublicKey | undefined> {
    if (this.#isSelf(account)) return (await this.#store.getIdentityKeyPair()).publicKey;
    const known = (await this.#stored(account)) ?? [PRIMARY_DEVICE_ID];
    for (const id of known) {
      const key = await this.#store.getIdentity(createAddress(account, id));
      if (key !== null) return key;
    }
    return undefined;
  }

  /** Starts a session from each bundle; returns the ids of `ids` no bundle came back for. */
  async #initiate(
    account: string,
    ids: readonly number[],
    bundles: Map<number, PreKeyBundle>,
  ): Promise<number[]> {
    for (const [id, bundle] of bundles) await this.#cipher(createAddress(account, id)).initiate(bundle);
    return ids.filter((id) => !bundles.has(id));
  }

  async #start(account: string, ids: readonly number[]): Promise<number[]> {
    return this.#initiate(account, ids, await this.#fetchBundles(account, ids));
  }

  /** Under each address's lock (`SessionCipher.archive`), so no encrypt or decrypt runs in between. */
  async #archive(account: string, ids: readonly number[]): Promise<void> {
    for (const id of ids) await this.#cipher(createAddress(account, id)).archive();
  }

  async #saveList(account: string, ids: Iterable<number>): Promise<void> {
    await this.#lists.saveDevices(
      account,
      [...new Set(ids)].sort((a, b) => a - b),
    );
  }

  /**
   * Encrypts `plaintext` for every device a send to `account` goes to, starting a session from a
   * bundle for each device that has no usable one (devices without a bundle leave the list).
   */
  async encryptFor(
    account: string,
    plaintext: Uint8Array,
  ): Promise<{ messages: DeviceMessage[] } & DeviceChangeResult> {
    checkAccount(account);
    if (!(plaintext instanceof Uint8Array)) throw new TypeError('plaintext must be a Uint8Array');
    // A copy: each device's encrypt runs after an await, when a pooled Buffer may hold other bytes.
    const messages = await this.#encryptFor(account, copyBytes(plaintext), this.#unreported);
    return { messages, ...this.#unreported.take([account]) };
  }

  async #encryptFor(account: string, plaintext: Uint8Array, log: ChangeLog): Promise<DeviceMessage[]> {
    const ids = await this.#list(account);
    const stored = await this.#stored(account);
    const needing: number[] = [];
    for (const id of ids)
      if (!(await this.#cipher(createAddress(account, id)).hasSession())) needing.push(id);
    const gone = await this.#start(account, needing);
    const kept = ids.filter((id) => !gone.includes(id));
    if (stored === null || gone.length > 0) {
      // A first contact's list is no change to report; a device without a bundle left the account.
      if (stored !== null) log.note(account, [], gone, []);
      await this.#saveList(account, this.#withSelf(account, kept));
    }
    const messages: DeviceMessage[] = [];
    for (const id of kept) {
      const address = createAddress(account, id);
      const encrypted = await this.#cipher(address).encrypt(plaintext);
      const record = await this.#store.getSession(address);
      messages.push(
        Object.freeze({
          address,
          registrationId: record?.remoteRegistrationId ?? 0,
          type: encrypted.type,
          body: encrypted.body,
        }),
      );
    }
    return messages;
  }

  #withSelf(account: string, ids: readonly number[]): number[] {
    return this.#isSelf(account) ? [...ids, this.#self.deviceId] : [...ids];
  }

  /**
   * Applies the server's 409/410 answer for a send to `account`: archives the sessions of extra and
   * stale devices, starts sessions for missing and stale ones from fresh bundles, updates the list.
   */
  async applyDeviceMismatch(account: string, mismatch: DeviceMismatch): Promise<DeviceChangeResult> {
    checkAccount(account);
    await this.#apply(account, mismatch, this.#unreported);
    return this.#unreported.take([account]);
  }

  async #apply(account: string, mismatch: DeviceMismatch, log: ChangeLog): Promise<void> {
    const plan = planDeviceMismatch(mismatch);
    const own = this.#isSelf(account) ? this.#self.deviceId : undefined;
    // The server never names the sending device; if it does, it is not ours to start or drop.
    const start = plan.start.filter((id) => id !== own);
    const archive = plan.archive.filter((id) => id !== own);
    // Fetch first: if the app's fetch fails, no session has been touched yet.
    const bundles = await this.#fetchBundles(account, start);
    const gone = start.filter((id) => !bundles.has(id));
    // Noted before any session or list write: if a later step throws (a session start, the list
    // save), the next call reports it. A re-registered device's new session then works, so no later
    // answer would show the change again, and its sender keys would never be re-shared.
    log.note(
      account,
      plan.added.filter((id) => id !== own && !gone.includes(id)),
      [...plan.removed.filter((id) => id !== own), ...gone],
      plan.reregistered.filter((id) => id !== own && !gone.includes(id)),
    );
    await this.#archive(account, archive);
    await this.#initiate(account, start, bundles);
    const list = new Set(await this.#list(account));
    for (const id of plan.removed) list.delete(id);
    for (const id of start) if (!gone.includes(id)) list.add(id);
    for (const id of gone) list.delete(id);
    await this.#saveList(account, this.#withSelf(account, [...list]));
  }

  /**
   * The device changes that calls for `account` applied and then threw before returning them
   * (forgotten here: each change is reported once). Normally the next call's result carries them;
   * an app whose store transaction goes on after a call threw (it commits what the call wrote, e.g.
   * after the recipient got the message) takes them here, or they go with this object.
   */
  takeUnreported(account: string): DeviceChangeResult {
    checkAccount(account);
    return this.#unreported.take([account]);
  }

  /**
   * The user accepted `identityKey` as `account`'s identity key (after an `IdentityChangedError`,
   * e.g. they compared the new safety number): archives the sessions of the account's known devices
   * and stores the key for each (the identity store reports the change, `onIdentityChange`), so the
   * next `send` starts sessions from fresh bundles under it. A bundle with any other key is still
   * refused. All or nothing: if a store call fails, what was written is put back.
   */
  async approveIdentity(account: string, key: PublicKey): Promise<void> {
    checkAccount(account);
    if (this.#isSelf(account)) throw new TypeError('our own identity key is not approved here');
    const identityKey = PublicKey.from(key, 'identityKey'); // a key of either copy of core
    const ids = (await this.#stored(account)) ?? [PRIMARY_DEVICE_ID];
    await replaceIdentity(
      this.#store,
      ids.map((id) => createAddress(account, id)),
      identityKey,
      (address) => this.#cipher(address).archive(),
    );
  }

  /**
   * Unlinking (or an account the app was told lost devices): archives their sessions and drops them
   * from the list, so no new message is encrypted to them.
   */
  async removeDevices(account: string, deviceIds: readonly number[]): Promise<DeviceChangeResult> {
    checkAccount(account);
    if (!Array.isArray(deviceIds) || deviceIds.length === 0)
      throw new TypeError('deviceIds must be a non-empty array');
    return this.applyDeviceMismatch(account, {
      kind: 'mismatched',
      missingDevices: [],
      extraDevices: deviceIds,
    });
  }

  /**
   * Encrypts `plaintext` for every device of `recipient` and (unless `sync: false`) a copy for every
   * other device of our account, hands each account's messages to `deliver`, applies 409/410
   * answers and resends, at most `maxAttempts` times per account.
   */
  async send(
    recipient: string,
    plaintext: Uint8Array,
    deliver: (delivery: Delivery) => Promise<DeliveryAnswer>,
    options: FanoutSendOptions = {},
  ): Promise<FanoutSendResult> {
    checkAccount(recipient);
    if (!(plaintext instanceof Uint8Array)) throw new TypeError('plaintext must be a Uint8Array');
    if (typeof deliver !== 'function') throw new TypeError('deliver must be a function');
    const sync = options.sync ?? plaintext;
    if (sync !== false && !(sync instanceof Uint8Array))
      throw new TypeError('sync must be a Uint8Array or false');
    const only = options.only;
    if (only !== undefined && only !== 'recipient' && only !== 'sync')
      throw new TypeError("only must be 'recipient' or 'sync'");
    const log = this.#unreported;
    const accounts: AccountSendResult[] = [];
    // Copies: the sync copy is encrypted after the recipient's deliver, each device's message after
    // an await; the caller's pooled Buffer may hold other bytes by then.
    const targets: [string, Uint8Array, boolean][] = [];
    if (only !== 'sync') targets.push([recipient, copyBytes(plaintext), false]);
    if (sync !== false && !this.#isSelf(recipient) && only !== 'recipient')
      targets.push([this.#self.name, copyBytes(sync), true]);
    for (const [account, body, isSync] of targets) {
      try {
        accounts.push(Object.freeze(await this.#sendTo(account, body, isSync, deliver, log)));
      } catch (err) {
        // Nothing accepted yet: the failure as it is (a retry of the whole send is right). Else the
        // app must know who has the message; the device changes stay kept for the next call.
        if (!accounts.some((a) => a.status === 'sent')) throw err;
        throw new FanoutIncompleteError(accounts, { account, sync: isSync }, err);
      }
    }
    return { accounts, ...log.take(targets.map(([account]) => account)) };
  }

  /** One account's part of `send`: encrypt, deliver, apply 409/410 answers, at most `maxAttempts` times. */
  async #sendTo(
    account: string,
    body: Uint8Array,
    isSync: boolean,
    deliver: (delivery: Delivery) => Promise<DeliveryAnswer>,
    log: ChangeLog,
  ): Promise<AccountSendResult> {
    for (let attempt = 1; ; attempt++) {
      const messages = await this.#encryptFor(account, body, log);
      const answer = await deliver(Object.freeze({ account, sync: isSync, messages }));
      if (answer !== null && typeof answer === 'object' && 'status' in answer && answer.status === 'ok')
        return {
          account,
          sync: isSync,
          status: 'sent',
          attempts: attempt,
          devices: messages.map((m) => m.address),
        };
      await this.#apply(account, answer as DeviceMismatch, log);
      if (attempt === this.#maxAttempts)
        return { account, sync: isSync, status: 'gave-up', attempts: attempt, devices: [] };
    }
  }
}

function checkAccount(account: string): void {
  if (typeof account !== 'string' || account.length === 0)
    throw new TypeError('account must be a non-empty string');
}
