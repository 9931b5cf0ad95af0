// prepareSend's rotation is two writes on a store without transactions: the new chain, then who was
// handed it. When the second one fails the app gets a StoreError, and its retry must report the
// rotation that is in effect (the chain did change), not `rotation: undefined` as if the members
// still held the key they had.
import { type Address, StoreError } from '@e2ee-kit/core';
import { GroupCipher, type SenderKeyStore } from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';
import { describe, expect, it } from 'vitest';
import { thrown } from './helpers.js';

const D = '0c6d7e8f-1111-4222-8333-44445555aaaa';
const alice: Address = { name: 'alice', deviceId: 1 };
const bob: Address = { name: 'bob', deviceId: 1 };
const carol: Address = { name: 'carol', deviceId: 1 };

/** A store without transactions whose holder write (the key-holder record, or the record's second write) can be made to fail once. */
function failingHolderWrites(holderMethods: boolean) {
  const bytes = new InMemorySenderKeyStore();
  let failRecordWrite = -1; // fail the n-th record write from now (in-state holders)
  const store: SenderKeyStore = {
    loadSenderKey: bytes.loadSenderKey.bind(bytes),
    storeSenderKey: (s, d, r) => {
      if (failRecordWrite >= 0 && failRecordWrite-- === 0) return Promise.reject(new Error('disk full'));
      return bytes.storeSenderKey(s, d, r);
    },
    ...(holderMethods
      ? {
          loadKeyHolders: bytes.loadKeyHolders.bind(bytes),
          storeKeyHolders: bytes.storeKeyHolders.bind(bytes),
        }
      : {}),
  };
  const failHolderWrite = () => {
    if (holderMethods) bytes.failNext('storeKeyHolders');
    else failRecordWrite = 1; // the rotation's record write goes through, the holder list's fails
  };
  return { store, failHolderWrite };
}

describe.each([
  ['with key-holder methods', true],
  ['holders inside the record', false],
])('a retry after the holder write of a rotation failed (%s)', (_, holderMethods) => {
  it('reports the member removal that rotated the chain', async () => {
    const { store, failHolderWrite } = failingHolderWrites(holderMethods);
    const c = new GroupCipher(store);
    const first = await c.prepareSend(alice, D, [bob, carol]);
    await c.markDelivered(alice, D, first.chainId, [bob, carol]);
    failHolderWrite();
    expect(await thrown(c.prepareSend(alice, D, [bob]))).toBeInstanceOf(StoreError);
    const retry = await c.prepareSend(alice, D, [bob]);
    expect(retry.chainId).not.toBe(first.chainId);
    expect([retry.rotation, retry.needsDistribution]).toEqual(['member-removed', [bob]]);
    // reported once: the next call sees bob handed the chain (not yet confirmed) and nothing new
    const after = await c.prepareSend(alice, D, [bob]);
    expect([after.rotation, after.chainId, after.needsDistribution]).toEqual([
      undefined,
      retry.chainId,
      [bob],
    ]);
  });

  it('reports the chain’s creation, also for a group with no other device', async () => {
    for (const members of [[bob], []]) {
      const { store, failHolderWrite } = failingHolderWrites(holderMethods);
      const c = new GroupCipher(store);
      // (an empty group has no holder to record: nothing to fail, and its creation is reported once)
      if (members.length > 0) {
        failHolderWrite();
        expect(await thrown(c.prepareSend(alice, D, members))).toBeInstanceOf(StoreError);
      }
      const retry = await c.prepareSend(alice, D, members);
      expect(retry.rotation).toBe('created');
      const again = await c.prepareSend(alice, D, members);
      expect([again.rotation, again.chainId]).toEqual([undefined, retry.chainId]);
    }
  });

  it('reports an age rotation', async () => {
    const clock = { now: 1_750_000_000_000 };
    const { store, failHolderWrite } = failingHolderWrites(holderMethods);
    const c = new GroupCipher(store, { now: () => clock.now });
    const first = await c.prepareSend(alice, D, [bob]);
    await c.markDelivered(alice, D, first.chainId, [bob]);
    clock.now += 1000;
    failHolderWrite();
    expect(await thrown(c.prepareSend(alice, D, [bob], { maxAgeMs: 500 }))).toBeInstanceOf(StoreError);
    const retry = await c.prepareSend(alice, D, [bob], { maxAgeMs: 500 });
    expect([retry.rotation, retry.needsDistribution]).toEqual(['expired', [bob]]);
  });
});
