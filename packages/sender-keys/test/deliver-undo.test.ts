// Atomic delivery without a store transaction: the record is stored, then `deliver` runs, and a throw
// re-stores the previous record so the message can be decrypted again. The app's write failing is
// often the store failing for a moment (a busy database), so that undo is retried, as the ratchet's
// undos are (`writes.ts`, 3 attempts); given up after one attempt, the message key stayed consumed
// and the redelivered message was a duplicate: lost.
import { type Address, utf8 } from '@e2ee-kit/core';
import { GroupCipher } from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';
import { describe, expect, it } from 'vitest';
import { thrown } from './helpers.js';

const D = '0de11e00-0000-4000-8000-0000000000d0';
const alice: Address = Object.freeze({ name: 'alice', deviceId: 1 });
const text = (b: Uint8Array) => new TextDecoder().decode(b);

async function receiving() {
  const sender = new GroupCipher(new InMemorySenderKeyStore());
  const store = new InMemorySenderKeyStore();
  const receiver = new GroupCipher(store);
  await receiver.processDistributionMessage(alice, await sender.createDistributionMessage(alice, D));
  const wire = await sender.encrypt(alice, D, utf8('hello'));
  return { store, receiver, wire, before: store.rawRecord(alice, D) };
}

describe('deliver throws, no store transaction', () => {
  it('the previous record is put back even if the store fails on the first tries; the message decrypts again', async () => {
    const { store, receiver, wire, before } = await receiving();
    const appError = new Error('the app database is busy');
    const err = await thrown(
      receiver.decrypt(alice, wire, {
        deliver: () => {
          // The same moment of failure hits the undo too: two failed writes, then it works.
          store.failNext('store');
          store.failNext('store');
          throw appError;
        },
      }),
    );
    expect(err).toBe(appError);
    expect(store.rawRecord(alice, D)).toEqual(before);
    const again = await receiver.decrypt(alice, wire);
    expect(text(again.plaintext)).toBe('hello');
  });

  it('a store that keeps failing: the app’s error, after a bounded number of undo attempts', async () => {
    const { store, receiver, wire } = await receiving();
    let storeCalls = 0;
    const storeSenderKey = store.storeSenderKey.bind(store);
    store.storeSenderKey = (...args) => {
      storeCalls++;
      return storeSenderKey(...args);
    };
    const appError = new Error('the app database is gone');
    const err = await thrown(
      receiver.decrypt(alice, wire, {
        deliver: () => {
          for (let i = 0; i < 10; i++) store.failNext('store');
          throw appError;
        },
      }),
    );
    expect(err).toBe(appError);
    expect(storeCalls).toBe(1 + 3); // the decrypt's own write, then three tries to undo it
  });
});
