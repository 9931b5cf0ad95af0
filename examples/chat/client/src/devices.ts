/**
 * Linked devices for the chat client:
 * - `TxDeviceLists`: the known device ids of every account (by ServiceId), kept in the client's app
 *   rows (inside the operation's store transaction, so they commit with the sessions);
 * - `DeviceSender`: 1:1 sends through the kit's `DeviceFanout` — one ciphertext per device of the
 *   recipient plus a sync copy for each of our own other devices — delivered sealed when possible,
 *   the relay's 409/410 answers turned into the fan-out's `DeviceMismatch`; `sendReady` delivers one
 *   ready ciphertext (a sender-key group message) to every known device of an account the same way;
 * - `LinkRequest` (new device) and `provisionDevice` (existing device): the QR-code link, in
 *   device-link.ts (re-exported here).
 */
import type { Address, CryptoProvider } from '@e2ee-kit/core';
import {
  type Delivery,
  type DeviceChangeResult,
  DeviceFanout,
  type DeviceListStore,
  type DeviceMismatch,
  type FanoutSendResult,
  type PreKeyBundle,
  type ProtocolStore,
  parseDeviceMismatch,
} from '@e2ee-kit/ratchet';
import type { BundleJson, EnvelopeKind, RelayApi } from './api.js';
import { RelayError } from './api.js';
import type { ChatData } from './app-data.js';
import { DeviceError } from './device-link.js';
import { acceptChangedIdentity } from './identity-change.js';
import { noteOwnDevices } from './own-device-news.js';
import type { SealedSender } from './sealed.js';
import { queueSyncCopy } from './sync-copies.js';

export {
  DeviceError,
  LINK_URI,
  LinkRequest,
  type ProvisionedAccount,
  provisionDevice,
} from './device-link.js';

/** The app row holding the device ids of the account with ServiceId `aci`. */
export const deviceListKey = (aci: string) => `devices:${aci}`;

export class TxDeviceLists implements DeviceListStore {
  constructor(readonly data: () => ChatData) {}

  async getDevices(aci: string): Promise<readonly number[] | null> {
    return (await this.data().json<number[]>(deviceListKey(aci))) ?? null;
  }

  async saveDevices(aci: string, deviceIds: readonly number[]): Promise<void> {
    await this.data().putJson(deviceListKey(aci), [...deviceIds]);
  }
}

export interface DeviceSenderDeps {
  readonly api: RelayApi;
  /** The running operation's protocol store and app rows. */
  readonly store: () => ProtocolStore;
  /** Our own address: ServiceId and device id. */
  readonly self: () => Address;
  readonly data: () => ChatData;
  readonly sealed: SealedSender;
  readonly provider: CryptoProvider;
  readonly bundleFrom: (b: BundleJson) => PreKeyBundle;
  /** The app's rule for sending to `address` under `key` (a verified key that changed: no). */
  readonly trustedForSending: (address: Address, key: PreKeyBundle['identityKey']) => Promise<boolean>;
}

/** One fan-out send: what the fan-out reported, and every copy the relay took. */
export interface DeviceSendOutcome {
  readonly result: FanoutSendResult;
  readonly envelopes: readonly SentCopy[];
}

/** One ciphertext the relay accepted. */
export interface SentCopy {
  /** The recipient's ServiceId. */
  readonly to: string;
  readonly deviceId: number;
  readonly kind: EnvelopeKind;
  readonly body: Uint8Array;
  /** The relay's timestamp of it: what a retry receipt for it names. */
  readonly serverTimestamp: number;
}

/** How often a ready ciphertext is offered to an account whose device list keeps changing. */
const READY_ATTEMPTS = 3;

/** One device's copy as the relay takes it. */
interface WireMessage {
  readonly deviceId: number;
  readonly registrationId: number;
  readonly kind: EnvelopeKind;
  readonly body: Uint8Array;
}

const wire = (m: Delivery['messages'][number]): WireMessage => ({
  deviceId: m.address.deviceId,
  registrationId: m.registrationId,
  kind: m.type,
  body: m.body,
});

export class DeviceSender {
  constructor(readonly deps: DeviceSenderDeps) {}

  /** A fan-out over the running operation; `fetched` records the bundles it fetched, per account. */
  fanout(fetched?: Map<string, PreKeyBundle[]>): DeviceFanout {
    const { api, store, provider, bundleFrom } = this.deps;
    return new DeviceFanout(store(), {
      self: this.deps.self(),
      deviceLists: new TxDeviceLists(this.deps.data),
      provider,
      fetchBundles: async (account, ids) => {
        const out: PreKeyBundle[] = [];
        for (const id of ids) {
          const b = await api.bundle(account, id);
          if (b) out.push(bundleFrom(b));
        }
        fetched?.set(account, out);
        return out;
      },
    });
  }

  /**
   * Sends `plaintext` to every device of ServiceId `recipient`, then `sync` to our other devices
   * (`false`: no sync copy; with our own ServiceId as `recipient`: to our other devices only) — two
   * fan-out calls (`only`), so the sync copy goes only once the recipient has the message. If the sync
   * copy then fails, the send still succeeds: the recipient's delivery stands and the operation
   * commits it, and the copy waits to go alone (sync-copies.ts). A retry of the whole send would
   * reach the recipient twice. A contact who re-installed is sent to under the new identity key
   * unless the user verified the old one (identity-change.ts).
   */
  async send(recipient: string, plaintext: Uint8Array, sync: Uint8Array | false): Promise<DeviceSendOutcome> {
    const first = await this.#toRecipient(recipient, plaintext, sync);
    const self = this.deps.self().name;
    if (sync === false || recipient === self) return first;
    const fanout = this.fanout();
    try {
      return merge(first, await this.#send(fanout, recipient, sync, sync, 'sync'));
    } catch {
      // Whatever failed (the relay, a bundle, a device list that kept changing), the recipient has
      // the message. Device changes the failed call applied are committed too: report them now.
      await queueSyncCopy(this.deps.data(), recipient, sync);
      return merge(first, { result: { accounts: [], ...fanout.takeUnreported(self) }, envelopes: [] });
    }
  }

  /** A sync copy alone, for a message `recipient` already has (`send` left it waiting). */
  sendSyncCopy(recipient: string, sync: Uint8Array): Promise<DeviceSendOutcome> {
    return this.#send(this.fanout(), recipient, sync, sync, 'sync');
  }

  async #toRecipient(
    recipient: string,
    plaintext: Uint8Array,
    sync: Uint8Array | false,
  ): Promise<DeviceSendOutcome> {
    const fetched = new Map<string, PreKeyBundle[]>();
    try {
      return await this.#send(this.fanout(fetched), recipient, plaintext, sync, 'recipient');
    } catch (err) {
      if (recipient === this.deps.self().name) throw err;
      const bundles = fetched.get(recipient) ?? [];
      const accepted = await acceptChangedIdentity(
        err,
        recipient,
        bundles,
        this.fanout(),
        this.deps.trustedForSending,
      );
      if (!accepted) throw err;
      return this.#send(this.fanout(), recipient, plaintext, sync, 'recipient');
    }
  }

  async #send(
    fanout: DeviceFanout,
    recipient: string,
    plaintext: Uint8Array,
    sync: Uint8Array | false,
    only: 'recipient' | 'sync',
  ): Promise<DeviceSendOutcome> {
    const envelopes: SentCopy[] = [];
    const result = await fanout.send(
      recipient,
      plaintext,
      async (d) => {
        const answer = await this.#deliver(d.account, d.messages.map(wire));
        if ('status' in answer) {
          for (const m of d.messages)
            envelopes.push({
              to: m.address.name,
              deviceId: m.address.deviceId,
              kind: m.type,
              body: m.body,
              serverTimestamp: answer.serverTimestamp,
            });
          return { status: 'ok' };
        }
        return answer;
      },
      { sync, only },
    );
    for (const a of result.accounts)
      if (a.status === 'gave-up')
        throw new DeviceError(
          'device-list-changing',
          `the device list of ${a.account} kept changing; not sent`,
        );
    return { result, envelopes };
  }

  /**
   * Delivers one ready ciphertext of `kind` (a sender-key group message) to every known device of
   * ServiceId `account` (for our own account: our other devices). A 409/410 answer updates the device
   * list; `changed` is told (e.g. to hand new devices the sender key) before the send is repeated.
   * A sealed send is checked by the relay itself; an authenticated one against the device list an
   * empty fan-out returns (`#compareDevices`).
   */
  async sendReady(
    account: string,
    kind: EnvelopeKind,
    body: Uint8Array,
    changed: (r: DeviceChangeResult) => Promise<void>,
  ): Promise<SentCopy[]> {
    const fanout = this.fanout();
    for (let attempt = 1; attempt <= READY_ATTEMPTS; attempt++) {
      const messages = [];
      for (const a of await fanout.devices(account)) {
        const session = await this.deps.store().getSession(a);
        messages.push({
          deviceId: a.deviceId,
          registrationId: session?.remoteRegistrationId ?? 0,
          kind,
          body,
        });
      }
      const answer = await this.#deliver(account, messages);
      if ('status' in answer)
        return messages.map((m) => ({ to: account, ...m, serverTimestamp: answer.serverTimestamp }));
      await changed(await fanout.applyDeviceMismatch(account, answer));
    }
    throw new DeviceError('device-list-changing', `the device list of ${account} kept changing; not sent`);
  }

  /**
   * The relay's authenticated fan-out takes 1:1 ciphertext only; a sender-key message going that
   * way is checked first with an empty fan-out, whose 409 lists the account's devices. The devices
   * the send leaves out or names wrongly come back as the relay's own answer would (registration
   * ids are not checked this way: a re-registered device heals through a resend request).
   */
  async #compareDevices(account: string, messages: readonly WireMessage[]): Promise<DeviceMismatch | null> {
    let listed: readonly number[] = [];
    try {
      await this.deps.api.fanout(account, []);
    } catch (err) {
      if (!(err instanceof RelayError) || err.status !== 409) throw err;
      const answer = parseDeviceMismatch(409, err.body);
      if (answer.kind === 'mismatched') listed = answer.missingDevices;
    }
    const sent = messages.map((m) => m.deviceId);
    const missingDevices = listed.filter((id) => !sent.includes(id));
    const extraDevices = sent.filter((id) => !listed.includes(id));
    return missingDevices.length + extraDevices.length > 0
      ? { kind: 'mismatched', missingDevices, extraDevices }
      : null;
  }

  async #deliver(
    account: string,
    messages: readonly WireMessage[],
  ): Promise<{ status: 'ok'; serverTimestamp: number } | DeviceMismatch> {
    const answer = await this.#deliverOnce(account, messages);
    // A device of ours the relay names is noted before the fan-out applies the answer, so in the
    // transaction that saves the new device list: it must still be told our groups and contacts
    // when the operation fails after that (own-device-news.ts).
    const self = this.deps.self();
    if (!('status' in answer) && account === self.name)
      await noteOwnDevices(this.deps.data(), answer, self.deviceId);
    return answer;
  }

  async #deliverOnce(
    account: string,
    messages: readonly WireMessage[],
  ): Promise<{ status: 'ok'; serverTimestamp: number } | DeviceMismatch> {
    const tx = this.deps.data();
    // Our own devices: no sealing (the relay knows who we are anyway), and not counted.
    const own = account === this.deps.self().name;
    try {
      const sealed = own ? null : await this.deps.sealed.sealAll(tx, account, messages);
      if (sealed) {
        try {
          const r = await this.deps.api.sendSealed(account, sealed.accessKey, sealed.messages);
          this.deps.sealed.stats.sealed += messages.length;
          return { status: 'ok', serverTimestamp: r.serverTimestamp ?? 0 };
        } catch (err) {
          if (!(err instanceof RelayError) || err.status !== 401) throw err;
          await this.deps.sealed.forgetAccessKey(tx, account);
        }
      }
      let serverTimestamp = 0;
      if (messages.some((m) => m.kind === 'senderkey')) {
        const mismatch = await this.#compareDevices(account, messages);
        if (mismatch) return mismatch;
        await this.deps.api.send(
          messages.map((m) => ({ to: account, deviceId: m.deviceId, kind: m.kind, body: m.body })),
        );
      } else serverTimestamp = (await this.deps.api.fanout(account, [...messages])).serverTimestamp;
      if (!own) this.deps.sealed.stats.unsealed += messages.length;
      return { status: 'ok', serverTimestamp };
    } catch (err) {
      if (err instanceof RelayError && (err.status === 409 || err.status === 410))
        return parseDeviceMismatch(err.status, err.body);
      throw err;
    }
  }
}

/** Both fan-out calls of a send as one outcome (they are for different accounts). */
function merge(a: DeviceSendOutcome, b: DeviceSendOutcome): DeviceSendOutcome {
  const [x, y] = [a.result.keyHolders, b.result.keyHolders];
  return {
    result: {
      accounts: [...a.result.accounts, ...b.result.accounts],
      changes: [...a.result.changes, ...b.result.changes],
      keyHolders: {
        add: [...x.add, ...y.add],
        forget: [...x.forget, ...y.forget],
        redistribute: [...x.redistribute, ...y.redistribute],
      },
    },
    envelopes: [...a.envelopes, ...b.envelopes],
  };
}
