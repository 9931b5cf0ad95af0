// A plaintext in a pooled Node Buffer (a socket's read buffer) is reused by the caller as soon as the
// event loop runs: what a send encrypts after its first await must still be what it was given.
import { DeviceFanout, HealingCipher, InMemoryDeviceListStore, ResendCache } from '@e2ee-kit/ratchet';
import { createTestParty, InMemoryResendStore } from '@e2ee-kit/ratchet/testing';
import { describe, expect, it } from 'vitest';
import { ALICE, alicePhoneLaptopAndBob, BOB } from './devices-relay.js';

describe('the caller reuses its plaintext buffer while a send is waiting', () => {
  it('DeviceFanout.send: the sync copy (encrypted after the recipient’s deliver) is the message sent', async () => {
    const { relay, phone, laptop, bob } = await alicePhoneLaptopAndBob();
    await phone.fanout.send(BOB, Buffer.from('hi'), relay.deliverFrom(phone.party.address));
    await bob.read();
    await laptop.read();
    const pooled = Buffer.from('meet at noon');
    const real = relay.deliverFrom(phone.party.address);
    await phone.fanout.send(BOB, pooled, async (d) => {
      const answer = await real(d);
      pooled.write('XXXXXXXXXXXX'); // the socket pool reuses the memory meanwhile
      return answer;
    });
    expect(await bob.read()).toEqual(['meet at noon']);
    expect(await laptop.read()).toEqual(['meet at noon']);
  });

  it('DeviceFanout.encryptFor: the message encrypted after the bundle fetch is of the bytes given', async () => {
    const { relay, phone, bob } = await alicePhoneLaptopAndBob();
    const pooled = Buffer.from('see you');
    const fanout = new DeviceFanout(bob.party.store, {
      self: bob.party.address,
      deviceLists: new InMemoryDeviceListStore(),
      fetchBundles: async (account, ids) => {
        const bundles = await relay.bundles(account, ids);
        pooled.write('XXXXXXX'); // reused while the bundles were on their way
        return bundles;
      },
    });
    const { messages } = await fanout.encryptFor(ALICE, pooled); // first contact: the primary's bundle
    expect(messages.map((m) => m.address.deviceId)).toEqual([1]);
    const { plaintext } = await phone.party.cipher(bob.party.address).decrypt(messages[0] as never);
    expect(new TextDecoder().decode(plaintext)).toBe('see you');
  });

  it('HealingCipher.encrypt: the message encrypted after fetchBundle is the one kept for a resend', async () => {
    const alice = await createTestParty(ALICE, 1);
    const bob = await createTestParty(BOB, 1);
    const pooled = Buffer.from('the plan');
    const healer = new HealingCipher({
      store: alice.store,
      localAddress: alice.address,
      resendCache: await ResendCache.create({
        key: new Uint8Array(32).fill(7),
        store: new InMemoryResendStore(),
      }),
      fetchBundle: async () => {
        const bundle = await bob.bundle();
        pooled.write('XXXXXXXX'); // reused while the bundle was on its way
        return bundle;
      },
      sendRetryRequest: async () => undefined,
      resend: async () => undefined,
    });
    const wire = await healer.encrypt(bob.address, pooled, 1_700_000_000_000);
    const { plaintext } = await bob.cipher(alice.address).decrypt(wire);
    expect(new TextDecoder().decode(plaintext)).toBe('the plan');
  });
});
