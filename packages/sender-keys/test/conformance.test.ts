// The store conformance suite from ./testing, run against our in-memory store on two providers, and
// a check that the suite fails on a store that breaks the contract.
import { nobleProvider } from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import type { KeyHolderRecord, SenderKeyRecord, SenderKeyStore } from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore, senderKeyStoreConformance } from '@e2ee-kit/sender-keys/testing';
import { describe, expect, it } from 'vitest';

senderKeyStoreConformance({ describe, it, expect }, () => new InMemorySenderKeyStore(), {
  name: 'InMemorySenderKeyStore (node provider)',
  provider: nodeProvider,
});
senderKeyStoreConformance({ describe, it, expect }, () => new InMemorySenderKeyStore(), {
  name: 'InMemorySenderKeyStore (noble provider)',
  provider: nobleProvider,
});

/** A store without the optional key-holder methods: the holder list lives in the sender-key record. */
class TwoMethodStore implements SenderKeyStore {
  readonly #inner = new InMemorySenderKeyStore();
  loadSenderKey(sender: { name: string; deviceId: number }, id: string) {
    return this.#inner.loadSenderKey(sender, id);
  }
  storeSenderKey(sender: { name: string; deviceId: number }, id: string, record: SenderKeyRecord) {
    return this.#inner.storeSenderKey(sender, id, record);
  }
}
senderKeyStoreConformance({ describe, it, expect }, () => new TwoMethodStore(), {
  name: 'a store without key-holder methods (node provider)',
  provider: nodeProvider,
});

/** A store that ignores the device id: records of two devices of one user collide. */
class DeviceBlindStore implements SenderKeyStore {
  readonly #map = new Map<string, SenderKeyRecord>();
  readonly #holders = new Map<string, KeyHolderRecord>();
  async loadSenderKey(sender: { name: string }, id: string) {
    return this.#map.get(`${sender.name}|${id}`);
  }
  async storeSenderKey(sender: { name: string }, id: string, record: SenderKeyRecord) {
    this.#map.set(`${sender.name}|${id}`, record);
  }
  async loadKeyHolders(sender: { name: string }, id: string) {
    return this.#holders.get(`${sender.name}|${id}`);
  }
  async storeKeyHolders(sender: { name: string }, id: string, record: KeyHolderRecord) {
    this.#holders.set(`${sender.name}|${id}`, record);
  }
}

describe('the conformance suite can fail', () => {
  it('catches a store that ignores the device id', async () => {
    const failures: string[] = [];
    const tests: Array<[string, () => Promise<void>]> = [];
    senderKeyStoreConformance(
      {
        describe: (_n, fn) => fn(),
        it: (n, fn) => tests.push([n, fn]),
        expect: (actual) => ({
          toBe: (e) => {
            if (!Object.is(actual, e)) throw new Error(`${String(actual)} !== ${String(e)}`);
          },
          toEqual: (e) => {
            if (JSON.stringify(actual) !== JSON.stringify(e)) throw new Error('not equal');
          },
          toBeUndefined: () => {
            if (actual !== undefined) throw new Error('defined');
          },
        }),
      },
      () => new DeviceBlindStore(),
      { provider: nodeProvider },
    );
    for (const [name, fn] of tests) {
      try {
        await fn();
      } catch {
        failures.push(name);
      }
    }
    expect(failures).toEqual([
      'keys records by sender name, device id and distribution id',
      'keeps key-holder records apart from sender-key records, keyed the same way',
    ]);
  });
});
