/**
 * Two tabs or processes on one database (one backend, each with its own locks) preparing a group send
 * at once, each to a member the other does not list: both read the key-holder list, each adds its
 * device. Without a compare-and-set on the key-holder row both commit and the later list drops the
 * earlier device — which was handed the chain, so removing it later no longer rotates: a removed
 * device keeps reading the group. Now one commits and the other fails with StoreError.
 */
import { createAddress, E2eeError, InProcessLockManager } from '@e2ee-kit/core';
import * as senderKeys from '@e2ee-kit/sender-keys';
import { GroupCipher } from '@e2ee-kit/sender-keys';
import { KvStore } from '@e2ee-kit/store-kv';
import { MemoryKvBackend } from '@e2ee-kit/store-kv/testing';
import { describe, expect, it } from 'vitest';

const alice = createAddress('alice', 1);
const dist = '6a1b2c3d-0000-4000-8000-0000000000dd';

describe('key-holder rows across contexts', () => {
  for (const sealed of [false, true]) {
    const o = { senderKeys, ...(sealed ? { encryptionKey: new Uint8Array(32).fill(4) } : {}) };
    it(`${sealed ? 'sealed' : 'plain'}: two racing prepareSends never forget a device handed the chain`, async () => {
      const backend = new MemoryKvBackend();
      const store = await KvStore.open(backend, o);
      await new GroupCipher(store.senderKeys).createDistributionMessage(alice, dist);
      // Two tabs: their own ciphers and locks over one database.
      const tabs = [1, 2].map(
        () => new GroupCipher(store.senderKeys, { lockManager: new InProcessLockManager() }),
      );
      // Both have read and buffered their writes before either commits.
      let arrived = 0;
      let release = () => {};
      const both = new Promise<void>((r) => {
        release = r;
      });
      backend.onCommit = async () => {
        if (++arrived === 2) release();
        await both;
      };
      const members = [createAddress('bob', 1), createAddress('carol', 1)];
      const plans = await Promise.allSettled(
        tabs.map((tab, i) => tab.prepareSend(alice, dist, [members[i] as (typeof members)[0]])),
      );
      backend.onCommit = undefined;
      const handed = plans.flatMap((p) => (p.status === 'fulfilled' ? p.value.needsDistribution : []));
      for (const p of plans) if (p.status === 'rejected') expect(E2eeError.is(p.reason, 'STORE')).toBe(true);
      expect(handed.length).toBeGreaterThan(0);
      // Every device a committed plan handed the chain to is removed now: the chain must rotate, and
      // name each of them.
      const after = await new GroupCipher(store.senderKeys).prepareSend(alice, dist, []);
      expect(after.rotation).toBe('member-removed');
      expect(after.removed.map((a) => a.name).sort()).toEqual(handed.map((a) => a.name).sort());
    });
  }
});
