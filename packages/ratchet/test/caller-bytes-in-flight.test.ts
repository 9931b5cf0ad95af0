// The bytes an app passes are the bytes of the call: an app may reuse its buffer (a socket's pooled
// read buffer, a reused send buffer) or transfer it to a worker as soon as the call returns its
// promise. Every entry point copies what it was given before its first await, so a call waiting for
// its address lock or a store read neither sees later writes to the caller's memory nor fails on a
// detached buffer (before, encrypt sent the rewritten plaintext, a detached one threw a TypeError,
// and decrypt reported a good message as empty).
import { createAddress, platformProvider } from '@e2ee-kit/core';
import { DeviceFanout, HealingCipher, InMemoryDeviceListStore, ResendCache } from '@e2ee-kit/ratchet';
import { createTestParty, InMemoryResendStore } from '@e2ee-kit/ratchet/testing';
import { GroupCipher } from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';
import { describe, expect, it } from 'vitest';
import { fromUtf8, utf8 } from './helpers.js';

const detach = (u: Uint8Array) => structuredClone(u.buffer, { transfer: [u.buffer as ArrayBuffer] });
/** What an app does to its buffer right after the call: rewrite it, or hand it to a worker. */
const afterCall = { rewrite: (u: Uint8Array) => u.fill(0x41), detach };

async function session() {
  const a = await createTestParty('alice', 1);
  const b = await createTestParty('bob', 1);
  const ab = a.cipher(b);
  await ab.initiate(await b.bundle());
  return { a, b, ab, ba: b.cipher(a) };
}

describe.each(Object.entries(afterCall))('the caller’s buffer is %s right after the call', (_, spoil) => {
  it('SessionCipher.encrypt sends the plaintext of the call', async () => {
    const { ab, ba } = await session();
    const pt = utf8('the words of the call');
    const p = ab.encrypt(pt);
    spoil(pt);
    expect(fromUtf8((await ba.decrypt(await p)).plaintext)).toBe('the words of the call');
  });

  it('SessionCipher.decrypt reads the message of the call', async () => {
    const { ab, ba } = await session();
    const wire = await ab.encrypt(utf8('x'));
    const body = wire.body.slice();
    const p = ba.decrypt({ type: wire.type, body });
    spoil(body);
    expect(fromUtf8((await p).plaintext)).toBe('x');
  });

  it('GroupCipher.encrypt sends the plaintext of the call', async () => {
    const alice = createAddress('alice', 1);
    const s = new GroupCipher(new InMemorySenderKeyStore());
    const r = new GroupCipher(new InMemorySenderKeyStore());
    const d = '5e1f0000-aaaa-4bbb-8ccc-000000000001';
    await r.processDistributionMessage(alice, await s.createDistributionMessage(alice, d));
    const pt = utf8('group words');
    const p = s.encrypt(alice, d, pt);
    spoil(pt);
    expect(fromUtf8((await r.decrypt(alice, await p)).plaintext)).toBe('group words');
  });

  it('HealingCipher.encrypt sends (and caches for a resend) the plaintext of the call', async () => {
    const { a, b, ba } = await session();
    const resendStore = new InMemoryResendStore();
    const resendCache = await ResendCache.create({
      key: platformProvider.randomBytes(32),
      store: resendStore,
    });
    const healer = new HealingCipher({
      store: a.store,
      localAddress: a.address,
      resendCache,
      fetchBundle: () => b.bundle(),
      sendRetryRequest: async () => {},
      resend: async () => {},
    });
    const pt = utf8('healing words');
    const p = healer.encrypt(b.address, pt, 1_000);
    spoil(pt);
    expect(fromUtf8((await ba.decrypt(await p)).plaintext)).toBe('healing words');
  });

  it('DeviceFanout.send encrypts the plaintext of the call for every account', async () => {
    const { a, b } = await session();
    const fanout = new DeviceFanout(a.store, {
      self: a.address,
      deviceLists: new InMemoryDeviceListStore(),
      fetchBundles: async () => [await b.bundle()],
    });
    const pt = utf8('fan-out words');
    const seen: string[] = [];
    const p = fanout.send('bob', pt, async (d) => {
      for (const m of d.messages) seen.push(fromUtf8((await b.cipher(a).decrypt(m)).plaintext));
      return { status: 'ok' };
    });
    spoil(pt);
    await p;
    expect(seen).toEqual(['fan-out words']);
  });
});
