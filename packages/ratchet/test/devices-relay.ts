// A test relay that keeps device lists per account and answers sends as Signal's server does
// (spec devices-and-healing.md §1.3): 410 if any registration id is stale, else 409 for missing or
// extra devices, else it puts each message in the addressed device's inbox.
import { type Address, createAddress, type IdentityKeyPair } from '@e2ee-kit/core';
import {
  type Delivery,
  type DeliveryAnswer,
  DeviceFanout,
  type EncryptedMessage,
  InMemoryDeviceListStore,
} from '@e2ee-kit/ratchet';
import { createTestParty, type TestParty } from '@e2ee-kit/ratchet/testing';

export interface Inbound extends EncryptedMessage {
  readonly from: Address;
  readonly sync: boolean;
}

export interface Device {
  readonly party: TestParty;
  readonly fanout: DeviceFanout;
  readonly inbox: Inbound[];
  /** Decrypts and empties the inbox, as text. */
  read(): Promise<string[]>;
}

export class TestRelay {
  readonly #accounts = new Map<string, Map<number, { registrationId: number; device: Device }>>();
  /** Every delivery attempt, for assertions. */
  readonly log: { from: Address; delivery: Delivery; answer: DeliveryAnswer }[] = [];

  /** Registers a device (the lowest free id ≥ 2 for a linked one, as Signal's server assigns). */
  async addDevice(account: string, identity?: IdentityKeyPair): Promise<Device> {
    const devices = this.#accounts.get(account) ?? new Map();
    this.#accounts.set(account, devices);
    let id = identity === undefined ? 1 : 2;
    while (devices.has(id)) id++;
    const party = await createTestParty(
      account,
      id,
      identity === undefined ? {} : { store: { identityKeyPair: identity } },
    );
    const inbox: Inbound[] = [];
    const fanout = new DeviceFanout(party.store, {
      self: party.address,
      deviceLists: new InMemoryDeviceListStore(),
      fetchBundles: (acc, ids) => this.bundles(acc, ids),
    });
    const device: Device = {
      party,
      fanout,
      inbox,
      read: async () => {
        const out: string[] = [];
        for (const m of inbox.splice(0)) {
          const { plaintext } = await party.cipher(m.from).decrypt(m);
          out.push(new TextDecoder().decode(plaintext));
        }
        return out;
      },
    };
    devices.set(id, { registrationId: await party.store.getLocalRegistrationId(), device });
    return device;
  }

  unlink(account: string, deviceId: number): void {
    this.#accounts.get(account)?.delete(deviceId);
  }

  async bundles(account: string, ids: readonly number[]) {
    const devices = this.#accounts.get(account);
    const out = [];
    for (const id of ids) {
      const d = devices?.get(id);
      if (d) out.push(await d.device.party.bundle());
    }
    return out;
  }

  /** `deliver` for `DeviceFanout.send` from the device `from`. */
  deliverFrom(from: Address): (delivery: Delivery) => Promise<DeliveryAnswer> {
    return async (delivery) => {
      const answer = this.#check(from, delivery);
      this.log.push({ from, delivery, answer });
      if ('status' in answer) {
        const devices = this.#accounts.get(delivery.account);
        for (const m of delivery.messages)
          devices
            ?.get(m.address.deviceId)
            ?.device.inbox.push({ from, sync: delivery.sync, type: m.type, body: m.body.slice() });
      }
      return answer;
    };
  }

  #check(from: Address, delivery: Delivery): DeliveryAnswer {
    const devices = this.#accounts.get(delivery.account) ?? new Map();
    const expected = [...devices.keys()].filter(
      (id) => !(delivery.account === from.name && id === from.deviceId),
    );
    const sent = delivery.messages.map((m) => m.address.deviceId);
    const stale = delivery.messages
      .filter(
        (m) =>
          devices.has(m.address.deviceId) &&
          devices.get(m.address.deviceId)?.registrationId !== m.registrationId,
      )
      .map((m) => m.address.deviceId);
    if (stale.length > 0) return { kind: 'stale', staleDevices: stale };
    const missingDevices = expected.filter((id) => !sent.includes(id));
    const extraDevices = sent.filter((id) => !devices.has(id));
    if (missingDevices.length + extraDevices.length > 0)
      return { kind: 'mismatched', missingDevices, extraDevices };
    return { status: 'ok' };
  }
}

export const ALICE = 'a11ce000-0000-4000-8000-00000000a11c';
export const BOB = 'b0b00000-0000-4000-8000-000000000b0b';

/** Alice's phone (1) and laptop (2, linked: the account identity key) and Bob's phone, on one relay. */
export async function alicePhoneLaptopAndBob() {
  const relay = new TestRelay();
  const phone = await relay.addDevice(ALICE);
  const laptop = await relay.addDevice(ALICE, await phone.party.store.getIdentityKeyPair());
  const bob = await relay.addDevice(BOB);
  return { relay, phone, laptop, bob };
}
export const text = (s: string) => new TextEncoder().encode(s);
export { createAddress };
