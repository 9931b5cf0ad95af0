// Public classes come through the package name so this entry shares them with the main entry.
import { type Address, type CryptoProvider, E2eeError, toHex, utf8 } from '@e2ee-kit/core';
import { GroupCipher, KeyHolderRecord, SenderKeyRecord, type SenderKeyStore } from '@e2ee-kit/sender-keys';

/** The subset of a test framework the suite needs (vitest, jest and mocha+chai-style shims fit). */
export interface ConformanceHarness {
  describe(name: string, fn: () => void): void;
  it(name: string, fn: () => Promise<void>): void;
  expect(actual: unknown): {
    toBe(expected: unknown): void;
    toEqual(expected: unknown): void;
    toBeUndefined(): void;
  };
}

export interface ConformanceOptions {
  /** Provider for the end-to-end checks (default: core's default provider). */
  provider?: CryptoProvider;
  /** Suite title (default "SenderKeyStore conformance"). */
  name?: string;
}

const DIST_A = '6a1b2c3d-0000-4000-8000-000000000001';
const DIST_B = '6a1b2c3d-0000-4000-8000-000000000002';

async function hexOf(store: SenderKeyStore, sender: Address, id: string): Promise<string | undefined> {
  const r = await store.loadSenderKey(sender, id);
  return r === undefined ? undefined : toHex(r.serialize());
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  return undefined;
}

/**
 * Registers a suite that checks a `SenderKeyStore` implementation: keys, round trips, isolation,
 * persistence across cipher instances, and the end-to-end guarantees the cipher builds on it.
 * `makeStore` must return a new, empty store each call.
 */
export function senderKeyStoreConformance(
  t: ConformanceHarness,
  makeStore: () => SenderKeyStore | Promise<SenderKeyStore>,
  options: ConformanceOptions = {},
): void {
  const { describe, it, expect } = t;
  const provider = options.provider;
  const opts = provider === undefined ? {} : { provider };
  const alice: Address = { name: 'alice', deviceId: 1 };

  describe(options.name ?? 'SenderKeyStore conformance', () => {
    it('answers undefined for a key it never stored', async () => {
      const store = await makeStore();
      expect(await store.loadSenderKey(alice, DIST_A)).toBeUndefined();
    });

    it('returns the stored record byte for byte', async () => {
      const store = await makeStore();
      const cipher = new GroupCipher(store, opts);
      await cipher.createDistributionMessage(alice, DIST_A);
      await cipher.encrypt(alice, DIST_A, utf8('hello'));
      const loaded = await store.loadSenderKey(alice, DIST_A);
      expect(loaded instanceof SenderKeyRecord).toBe(true);
      const again = await store.loadSenderKey(alice, DIST_A);
      expect(toHex((again as SenderKeyRecord).serialize())).toBe(
        toHex((loaded as SenderKeyRecord).serialize()),
      );
    });

    it('keys records by sender name, device id and distribution id', async () => {
      const store = await makeStore();
      const cipher = new GroupCipher(store, opts);
      const senders: Address[] = [
        { name: 'alice', deviceId: 1 },
        { name: 'alice', deviceId: 2 },
        { name: 'alice.1', deviceId: 1 },
        { name: 'alice', deviceId: 11 },
        { name: 'ålice ☃', deviceId: 1 },
      ];
      const seen = new Set<string>();
      for (const s of senders) {
        for (const id of [DIST_A, DIST_B]) {
          await cipher.createDistributionMessage(s, id);
          seen.add((await hexOf(store, s, id)) as string);
        }
      }
      expect(seen.size).toBe(senders.length * 2);
    });

    it('keeps key-holder records apart from sender-key records, keyed the same way', async () => {
      const store = await makeStore();
      // Optional methods: both or neither (without them the list lives in the sender-key record).
      expect(typeof store.loadKeyHolders).toBe(typeof store.storeKeyHolders);
      const load = store.loadKeyHolders?.bind(store);
      const save = store.storeKeyHolders?.bind(store);
      if (load === undefined || save === undefined) return;
      expect(await load(alice, DIST_A)).toBeUndefined();
      const bob1 = { name: 'bob', deviceId: 1 };
      const bob2 = { name: 'bob', deviceId: 2 };
      await save(alice, DIST_A, KeyHolderRecord.create(7, [bob1]));
      await save({ name: 'alice', deviceId: 2 }, DIST_A, KeyHolderRecord.create(8, [bob2]));
      await save(alice, DIST_B, KeyHolderRecord.create(9, []));
      expect(await store.loadSenderKey(alice, DIST_A)).toBeUndefined();
      const a = (await load(alice, DIST_A)) as KeyHolderRecord;
      expect(a instanceof KeyHolderRecord).toBe(true);
      expect([a.chainId, a.devices]).toEqual([7, [bob1]]);
      const b = (await load({ name: 'alice', deviceId: 2 }, DIST_A)) as KeyHolderRecord;
      expect([b.chainId, b.devices]).toEqual([8, [bob2]]);
      expect(((await load(alice, DIST_B)) as KeyHolderRecord).chainId).toBe(9);
      await save(alice, DIST_A, KeyHolderRecord.create(7, [bob1, bob2]));
      expect(((await load(alice, DIST_A)) as KeyHolderRecord).devices).toEqual([bob1, bob2]);
    });

    it('remembers who holds the key across cipher instances', async () => {
      const store = await makeStore();
      const members = [
        { name: 'bob', deviceId: 1 },
        { name: 'carol', deviceId: 3 },
      ];
      const plan = await new GroupCipher(store, opts).prepareSend(alice, DIST_A, members);
      await new GroupCipher(store, opts).markDelivered(alice, DIST_A, plan.chainId, members);
      const again = await new GroupCipher(store, opts).prepareSend(alice, DIST_A, members);
      expect([again.rotation, again.needsDistribution, again.chainId]).toEqual([undefined, [], plan.chainId]);
      const removal = await new GroupCipher(store, opts).prepareSend(alice, DIST_A, members.slice(0, 1));
      expect([removal.rotation, removal.needsDistribution]).toEqual(['member-removed', members.slice(0, 1)]);
    });

    it('replaces a record on a second store', async () => {
      const store = await makeStore();
      const cipher = new GroupCipher(store, opts);
      await cipher.createDistributionMessage(alice, DIST_A);
      const before = await hexOf(store, alice, DIST_A);
      await cipher.encrypt(alice, DIST_A, utf8('x'));
      const after = await hexOf(store, alice, DIST_A);
      expect(after === before).toBe(false);
      const record = (await store.loadSenderKey(alice, DIST_A)) as SenderKeyRecord;
      expect(record.chainIds.length).toBe(1);
    });

    it('carries a group conversation end to end, across cipher instances', async () => {
      const senderStore = await makeStore();
      const receiverStore = await makeStore();
      const skdm = await new GroupCipher(senderStore, opts).createDistributionMessage(alice, DIST_A);
      await new GroupCipher(receiverStore, opts).processDistributionMessage(alice, skdm.serialize());
      const texts = ['one', 'two', 'three', 'four'];
      const wires: Uint8Array[] = [];
      for (const text of texts)
        wires.push(await new GroupCipher(senderStore, opts).encrypt(alice, DIST_A, utf8(text)));
      for (const i of [2, 0, 3, 1]) {
        const m = await new GroupCipher(receiverStore, opts).decrypt(alice, wires[i] as Uint8Array);
        expect(new TextDecoder().decode(m.plaintext)).toBe(texts[i]);
      }
    });

    it('keeps the record byte-identical when a decrypt fails', async () => {
      const senderStore = await makeStore();
      const receiverStore = await makeStore();
      const sender = new GroupCipher(senderStore, opts);
      const receiver = new GroupCipher(receiverStore, opts);
      await receiver.processDistributionMessage(alice, await sender.createDistributionMessage(alice, DIST_A));
      const wire = await sender.encrypt(alice, DIST_A, utf8('once'));
      await receiver.decrypt(alice, wire);
      const before = await hexOf(receiverStore, alice, DIST_A);
      const dup = await rejection(receiver.decrypt(alice, wire));
      expect(E2eeError.is(dup, 'DUPLICATE_MESSAGE')).toBe(true);
      const forged = wire.slice();
      forged[forged.length - 1] = (forged[forged.length - 1] as number) ^ 1;
      const bad = await rejection(receiver.decrypt(alice, forged));
      expect(E2eeError.is(bad, 'INVALID_SIGNATURE')).toBe(true);
      expect(await hexOf(receiverStore, alice, DIST_A)).toBe(before);
    });

    it('decrypts concurrent deliveries exactly once each', async () => {
      const senderStore = await makeStore();
      const receiverStore = await makeStore();
      const sender = new GroupCipher(senderStore, opts);
      await new GroupCipher(receiverStore, opts).processDistributionMessage(
        alice,
        await sender.createDistributionMessage(alice, DIST_A),
      );
      const wires: Uint8Array[] = [];
      for (let i = 0; i < 12; i++) wires.push(await sender.encrypt(alice, DIST_A, utf8(`m${i}`)));
      // Two cipher instances on one store, every message delivered twice, all at once.
      const a = new GroupCipher(receiverStore, opts);
      const b = new GroupCipher(receiverStore, opts);
      const results = await Promise.allSettled(
        [...wires, ...wires].map((w, i) => (i % 2 ? a : b).decrypt(alice, w)),
      );
      const ok = results.filter((r) => r.status === 'fulfilled').length;
      const dup = results.filter(
        (r) => r.status === 'rejected' && E2eeError.is(r.reason, 'DUPLICATE_MESSAGE'),
      ).length;
      expect([ok, dup]).toEqual([12, 12]);
    });
  });
}
