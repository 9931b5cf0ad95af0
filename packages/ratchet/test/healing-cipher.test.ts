// HealingCipher scenarios between two of our devices: a restore from an older backup, a wiped
// session, a lost one-time pre-key and a corrupted session record each heal, and every message sent
// after the break is delivered exactly once or one side is told (never lost silently); two peers that
// stay broken stop after the policy's bounds; an old receipt cannot archive a newer session.
import { addressToString, platformProvider, utf8 } from '@e2ee-kit/core';
import {
  createRetryRequest,
  DecodeError,
  DeviceFanout,
  type EncryptedMessage,
  HealingCipher,
  InMemoryDeviceListStore,
  ResendCache,
  RetryPolicy,
  SessionCipher,
  SessionNotFoundError,
  SessionRecord,
} from '@e2ee-kit/ratchet';
import { createTestParty, InMemoryResendStore } from '@e2ee-kit/ratchet/testing';
import { describe, expect, it } from 'vitest';
import { conversation, Net } from './healing-peers.js';

/** Replaces the stored session record of `peer` in `store` with `damage(bytes)`. */
function corruptSession(
  party: { store: { snapshot(): Map<string, Uint8Array>; restore(s: Map<string, Uint8Array>): void } },
  peer: { name: string; deviceId: number },
  damage: (b: Uint8Array) => Uint8Array,
) {
  const snap = party.store.snapshot();
  const k = `session:${addressToString(peer)}`;
  const bytes = snap.get(k);
  if (!bytes) throw new Error('no session to corrupt');
  snap.set(k, damage(bytes));
  party.store.restore(snap);
}

describe('HealingCipher: every message after a break is delivered or someone is told', () => {
  it('a restore from an older backup: the receipt archives the sender’s session, the resend arrives', async () => {
    const { net, alice, bob } = await conversation();
    const backup = bob.party.store.snapshot();
    await net.talk(bob, alice, 'said after the backup');
    await net.talk(alice, bob, 'answer to that');
    await net.talk(bob, alice, 'and more');
    bob.party.store.restore(backup);
    const since = net.sent.length;
    expect(await net.talk(alice, bob, 'first after the restore')).toBe(3); // message, receipt, resend
    expect(bob.decrypts.at(-2)).toMatchObject({ kind: 'retry-requested' });
    expect(alice.answers).toMatchObject([{ kind: 'resent', archived: true, newSession: true }]);
    await net.talk(bob, alice, 'restored bob speaks');
    await net.talk(alice, bob, 'and is heard');
    expect(net.outcomes(since)).toEqual(['delivered', 'delivered', 'delivered']);
    expect(bob.inbox.at(-1)?.text).toBe('and is heard');
  });

  it('a wiped session on the receiver: SESSION_NOT_FOUND → receipt → resend over a new session', async () => {
    const { net, alice, bob } = await conversation();
    await bob.party.store.removeSession(alice.address);
    const since = net.sent.length;
    await net.send(alice, bob, 'one');
    await net.send(alice, bob, 'two'); // in flight before the receipt came back: both fail, both heal
    await net.run();
    const failed = bob.decrypts.filter((r) => r.kind === 'retry-requested');
    expect(failed.map((r) => r.kind === 'retry-requested' && r.error.code)).toEqual([
      'SESSION_NOT_FOUND',
      'SESSION_NOT_FOUND',
    ]);
    // the first receipt names the current ratchet key and archives; the second names the same key,
    // but by then it is the old session's: no second archive, the resend goes over the new session
    expect(alice.answers).toMatchObject([
      { kind: 'resent', archived: true, newSession: true },
      { kind: 'resent', archived: false, newSession: false },
    ]);
    await net.talk(bob, alice, 'back');
    expect(net.outcomes(since)).toEqual(['delivered', 'delivered', 'delivered']);
  });

  it('a wiped session on the sender: the next message starts over from a fresh bundle', async () => {
    const { net, alice, bob } = await conversation();
    await alice.party.store.removeSession(bob.address);
    const since = net.sent.length;
    expect(await net.talk(alice, bob, 'from scratch')).toBe(1);
    await net.talk(bob, alice, 'got it');
    expect(net.outcomes(since)).toEqual(['delivered', 'delivered']);
    expect(alice.answers).toEqual([]);
  });

  it('a bundle of another device from fetchBundle is refused before any session is made', async () => {
    // The relay answers a bundle request for bob.1 with bob.2's bundle (a mix-up or a server that
    // routes one device's messages to another): a session at bob.1 must not be built from it.
    const net = new Net();
    const alice = await net.add('alice', 1);
    const bob1 = await net.add('bob', 1);
    const bob2 = await net.add('bob', 2);
    const healer = new HealingCipher({
      store: alice.party.store,
      localAddress: alice.address,
      resendCache: alice.cache,
      policy: new RetryPolicy(),
      cipherOptions: { provider: platformProvider },
      fetchBundle: async () => bob2.party.bundle(),
      sendRetryRequest: async () => {},
      resend: async () => {},
    });
    await expect(healer.encrypt(bob1.address, utf8('for bob.1 only'), 1)).rejects.toThrow(
      /bundle of device 2.*device 1/,
    );
    expect(await healer.cipher(bob1.address).hasSession()).toBe(false);
  });

  it('a lost one-time pre-key: INVALID_PREKEY_ID → receipt → the resend uses a fresh bundle', async () => {
    const net = new Net();
    const alice = await net.add('alice', 1);
    const bob = await net.add('bob', 1);
    const stale = await bob.party.bundle();
    await bob.party.store.removePreKey(stale.toParts().preKeyId as number); // e.g. lost in a crash
    await alice.healer.cipher(bob.address).initiate(stale);
    await net.talk(alice, bob, 'hello from a stale bundle');
    await net.talk(bob, alice, 'hello back');
    expect(bob.decrypts[0]).toMatchObject({ kind: 'retry-requested', error: { code: 'INVALID_PREKEY_ID' } });
    expect(alice.answers).toMatchObject([{ kind: 'resent', archived: true, newSession: true }]);
    expect(net.outcomes(0)).toEqual(['delivered', 'delivered']);
  });

  describe('a corrupted session record (DecodeError on load)', () => {
    const damages: [string, (b: Uint8Array) => Uint8Array][] = [
      ['wrong record tag', (b) => Uint8Array.of(b[0] === 0x01 ? 0x02 : 0x01, ...b.subarray(1))],
      ['truncated mid-field', (b) => b.slice(0, b.length >> 1)],
    ];
    for (const [label, damage] of damages) {
      it(`receiver (${label}): the record is removed, a receipt makes the sender start over`, async () => {
        const { net, alice, bob } = await conversation();
        corruptSession(bob.party, alice.address, damage);
        await expect(bob.party.store.getSession(alice.address)).rejects.toBeInstanceOf(DecodeError);
        const since = net.sent.length;
        expect(await net.talk(alice, bob, 'after the corruption')).toBe(3);
        expect(bob.decrypts.at(-2)).toMatchObject({
          kind: 'retry-requested',
          unreadableSessionRemoved: true,
        });
        expect(bob.decrypts.at(-1)).toMatchObject({ kind: 'decrypted', unreadableSessionRemoved: false });
        await net.talk(bob, alice, 'reply');
        expect(net.outcomes(since)).toEqual(['delivered', 'delivered']);
      });
    }

    it('receiver, and the message is a PreKey message: removed, then that message starts the session', async () => {
      const net = new Net();
      const alice = await net.add('alice', 1);
      const bob = await net.add('bob', 2);
      await net.send(alice, bob, 'first'); // a PreKey message, not yet delivered
      // Bob had an (older) session with Alice whose record is now unreadable
      await bob.party.store.saveSession(alice.address, new SessionRecord());
      corruptSession(bob.party, alice.address, (b) => b.slice(0, 1));
      await net.run();
      expect(bob.decrypts).toMatchObject([{ kind: 'decrypted', unreadableSessionRemoved: true }]);
      expect(net.delivered).toBe(1);
      expect(net.outcomes(0)).toEqual(['delivered']);
    });

    it('receiver, PreKey message, and the app’s deliver throws: its error comes through, no receipt', async () => {
      const net = new Net();
      const alice = await net.add('alice', 1);
      const bob = await net.add('bob', 2);
      await net.send(alice, bob, 'first');
      await bob.party.store.saveSession(alice.address, new SessionRecord());
      corruptSession(bob.party, alice.address, (b) => b.slice(0, 1));
      const w = net.queue.shift();
      if (w?.kind !== 'message') throw new Error('expected a message');
      const deliver = () => {
        throw new Error('app database is full');
      };
      await expect(
        bob.healer.decrypt(alice.address, w.message, { timestamp: w.timestamp }, { deliver }),
      ).rejects.toThrow('app database is full');
      expect(net.queue).toEqual([]);
      // the unreadable record is gone; redelivered, the message arrives (this store has no
      // transaction, so the failed delivery used up the one-time Kyber pre-key: it heals by receipt)
      expect(await bob.party.store.getSession(alice.address)).toBeNull();
      net.queue.push(w);
      await net.run();
      expect(net.outcomes(0)).toEqual(['delivered']);
    });

    it('sender: encrypt removes the unreadable record and starts over from a fresh bundle', async () => {
      const { net, alice, bob } = await conversation();
      corruptSession(alice.party, bob.address, (b) => b.slice(0, 3));
      const since = net.sent.length;
      expect(await net.talk(alice, bob, 'sender healed')).toBe(1);
      await net.talk(bob, alice, 'fine');
      expect(net.outcomes(since)).toEqual(['delivered', 'delivered']);
    });
  });

  it('nothing cached (expired): the sender is told, with the timestamp, and the session still heals', async () => {
    const { net, alice, bob } = await conversation();
    await bob.party.store.removeSession(alice.address);
    const since = net.sent.length;
    const ts = await net.send(alice, bob, 'will expire');
    net.clock.now += 25 * 60 * 60 * 1000; // past the cache's 24 hours
    await net.run();
    expect(alice.answers).toEqual([
      { kind: 'not-cached', timestamp: ts, archived: true, nullMessageSent: false, reshareSenderKey: false },
    ]);
    await net.talk(alice, bob, 'new session');
    expect(net.outcomes(since)).toEqual(['sender-told', 'delivered']);
  });

  it('two peers that stay broken stop: bounded exchanges, every message told on one side', async () => {
    const { net, alice, bob } = await conversation({ maxRequestsPerAddress: 6, maxResponsesPerAddress: 4 });
    for (const p of [alice, bob]) {
      // every message fails for good (UNTRUSTED_IDENTITY on receiving), sending still works
      const store = p.party.store;
      const original = store.isTrustedIdentity.bind(store);
      store.isTrustedIdentity = async (a, k, direction) =>
        direction === 'sending' && original(a, k, direction);
    }
    const since = net.sent.length;
    for (let i = 0; i < 10; i++) {
      await net.send(alice, bob, `a${i}`);
      await net.send(bob, alice, `b${i}`);
    }
    const envelopes = await net.run(1000);
    // 20 messages; per direction at most 6 receipts (the receiver's address limit) and at most 4
    // resends (the sender's): 20 + 2 × (6 + 4)
    expect(envelopes).toBeLessThanOrEqual(20 + 2 * (6 + 4));
    expect(alice.answers.filter((a) => a.kind === 'resent')).toHaveLength(4);
    expect(alice.answers.filter((a) => a.kind === 'refused')).toMatchObject([
      { reason: 'address-limit' },
      { reason: 'address-limit' },
    ]);
    const outcomes = net.outcomes(since);
    expect(outcomes).not.toContain('LOST');
    expect(outcomes).not.toContain('delivered');
    expect(new Set(outcomes)).toEqual(new Set(['receiver-told', 'sender-told']));
  });

  it('a receiver that stays broken asks at most 5 times per message (Signal’s limit), then shows it', async () => {
    const { net, alice, bob } = await conversation();
    const store = bob.party.store;
    store.isTrustedIdentity = async () => false;
    const since = net.sent.length;
    const ts = await net.send(alice, bob, 'never');
    expect(await net.run()).toBe(1 + 2 * 5);
    expect(net.gaveUp).toEqual([{ from: alice.address, to: bob.address, timestamp: ts }]);
    expect(net.outcomes(since)).toEqual(['receiver-told']);
  });

  it('an old receipt replayed after the heal does not archive the new session (it resends over it)', async () => {
    const { net, alice, bob } = await conversation();
    await bob.party.store.removeSession(alice.address);
    await net.send(alice, bob, 'lost once');
    const first = net.queue.shift();
    if (first?.kind !== 'message') throw new Error('expected a message');
    const failed = await bob.healer.decrypt(first.from, first.message, { timestamp: first.timestamp });
    if (failed.kind !== 'retry-requested') throw new Error('expected a receipt');
    const receipt = net.queue.shift();
    if (receipt?.kind !== 'receipt') throw new Error('expected a receipt');
    await alice.healer.onRetryRequest(bob.address, receipt.bytes);
    await net.run();
    await net.talk(bob, alice, 'new session works');
    const before = alice.party.store.snapshot();
    const again = await alice.healer.onRetryRequest(bob.address, receipt.bytes);
    expect(again).toMatchObject({ kind: 'resent', archived: false, newSession: false });
    const session = `session:${addressToString(bob.address)}`;
    // the session moved on by one sending step only (the resend), it was not archived
    const record = SessionRecord.deserialize(alice.party.store.snapshot().get(session) as Uint8Array);
    expect(record.previousStates.length).toBe(
      SessionRecord.deserialize(before.get(session) as Uint8Array).previousStates.length,
    );
    expect(record.currentState).toBeDefined();
  });

  it('a receipt for another of our devices is not answered', async () => {
    const { alice, bob } = await conversation();
    const message = await new SessionCipher(alice.party.store, bob.address).encrypt(utf8('x'));
    const { createRetryRequest } = await import('@e2ee-kit/ratchet');
    const receipt = createRetryRequest({ ...message, timestamp: 5, senderDeviceId: 7 }).serialize();
    const before = alice.party.store.snapshot();
    expect(await alice.healer.onRetryRequest(bob.address, receipt)).toEqual({
      kind: 'other-device',
      timestamp: 5,
    });
    expect(alice.party.store.snapshot()).toEqual(before);
  });

  it('non-retryable failures reject unchanged (a duplicate, malformed bytes)', async () => {
    const { net, alice, bob } = await conversation();
    const ts = await net.send(alice, bob, 'once');
    const w = net.queue[0];
    if (w?.kind !== 'message') throw new Error('expected a message');
    await net.run();
    await expect(bob.healer.decrypt(alice.address, w.message, { timestamp: ts })).rejects.toMatchObject({
      code: 'DUPLICATE_MESSAGE',
    });
    await expect(
      bob.healer.decrypt(alice.address, { type: 'whisper', body: new Uint8Array(3) }, { timestamp: ts }),
    ).rejects.toBeInstanceOf(DecodeError);
    await expect(alice.healer.onRetryRequest(bob.address, new Uint8Array([0xc0, 1]))).rejects.toBeInstanceOf(
      DecodeError,
    );
    expect(net.queue).toEqual([]);
  });
});

describe('SessionCipher.archive', () => {
  it('archives the current state (the next encrypt has no session), false when there is none', async () => {
    const alice = await createTestParty('alice', 1);
    const bob = await createTestParty('bob', 1);
    const cipher = alice.cipher(bob);
    expect(await cipher.archive()).toBe(false);
    await cipher.initiate(await bob.bundle());
    expect(await cipher.archive()).toBe(true);
    expect(await cipher.hasSession()).toBe(false);
    await expect(cipher.encrypt(utf8('x'))).rejects.toBeInstanceOf(SessionNotFoundError);
    const record = await alice.store.getSession(bob.address);
    expect(record?.previousStates.length).toBe(1);
    expect(await cipher.archive()).toBe(false);
  });

  it('ifRatchetKey: only the current key archives; another leaves the store byte-identical', async () => {
    const alice = await createTestParty('alice', 1);
    const bob = await createTestParty('bob', 1);
    const cipher = alice.cipher(bob);
    await cipher.initiate(await bob.bundle());
    const m = await cipher.encrypt(utf8('x'));
    const { PreKeySignalMessage } = await import('@e2ee-kit/ratchet');
    const current = PreKeySignalMessage.deserialize(m.body).message.ratchetKey;
    const other = (await createTestParty('carol', 1)).store;
    const otherKey = (await other.getIdentityKeyPair()).publicKey;
    const before = alice.store.snapshot();
    expect(await cipher.archive({ ifRatchetKey: otherKey })).toBe(false);
    expect(alice.store.snapshot()).toEqual(before);
    expect(await cipher.archive({ ifRatchetKey: current })).toBe(true);
    expect(await cipher.hasSession()).toBe(false);
    expect(() => cipher.archive({ ifRatchetKey: utf8('no') as never })).toThrow(TypeError);
  });

  it('takes the per-address lock (of the lock manager given)', async () => {
    const alice = await createTestParty('alice', 1);
    const bob = await createTestParty('bob', 1);
    const order: string[] = [];
    const lockManager = {
      async run<T>(k: string, fn: () => Promise<T>): Promise<T> {
        order.push(`lock ${k}`);
        return fn();
      },
    };
    const cipher = new SessionCipher(alice.store, bob.address, { lockManager });
    await cipher.initiate(await bob.bundle());
    order.length = 0;
    await cipher.archive();
    expect(order).toEqual([`lock ${addressToString(bob.address)}`]);
  });

  it('with a transactional store, reads and writes inside one transaction', async () => {
    const alice = await createTestParty('alice', 1);
    const bob = await createTestParty('bob', 1);
    await alice.cipher(bob).initiate(await bob.bundle());
    const calls: string[] = [];
    const inner = alice.store;
    const tx = {
      protocol: new Proxy(inner, {
        get(t, k, r) {
          const v = Reflect.get(t, k, r);
          if (typeof v !== 'function') return v;
          return (...a: unknown[]) => {
            calls.push(`tx.${String(k)}`);
            return v.apply(t, a);
          };
        },
      }),
    };
    const store = Object.assign(Object.create(inner), {
      async transaction<T>(fn: (t: typeof tx) => Promise<T>): Promise<T> {
        calls.push('begin');
        const out = await fn(tx);
        calls.push('commit');
        return out;
      },
    });
    const cipher = new SessionCipher(store, bob.address);
    expect(await cipher.archive()).toBe(true);
    expect(calls).toEqual(['begin', 'tx.getSession', 'tx.saveSession', 'commit']);
  });

  it('discardUnreadableSession removes only an unreadable record', async () => {
    const alice = await createTestParty('alice', 1);
    const bob = await createTestParty('bob', 1);
    const cipher = alice.cipher(bob);
    expect(await cipher.discardUnreadableSession()).toBe(false);
    await cipher.initiate(await bob.bundle());
    const before = alice.store.snapshot();
    expect(await cipher.discardUnreadableSession()).toBe(false);
    expect(alice.store.snapshot()).toEqual(before);
    corruptSession(alice, bob.address, (b) => b.slice(0, 5));
    expect(await cipher.discardUnreadableSession()).toBe(true);
    expect(await alice.store.getSession(bob.address)).toBeNull();
  });
});

describe('DeviceFanout archives under the per-address lock', () => {
  it('removeDevices archives the session of the removed device inside that address’s lock', async () => {
    const alice = await createTestParty('alice', 1);
    const bob2 = await createTestParty('bob', 2);
    const inLock = new Set<string>();
    const lockManager = {
      async run<T>(k: string, fn: () => Promise<T>): Promise<T> {
        inLock.add(k);
        try {
          return await fn();
        } finally {
          inLock.delete(k);
        }
      },
    };
    await alice.cipher(bob2).initiate(await bob2.bundle());
    const store = alice.store;
    const saveSession = store.saveSession.bind(store);
    const savedInLock: boolean[] = [];
    store.saveSession = async (a, r) => {
      savedInLock.push(inLock.has(addressToString(a)));
      return saveSession(a, r);
    };
    const fanout = new DeviceFanout(store, {
      self: alice.address,
      deviceLists: new InMemoryDeviceListStore(),
      fetchBundles: async () => [],
      cipherOptions: { lockManager },
    });
    await fanout.removeDevices('bob', [2]);
    expect(savedInLock).toEqual([true]);
    expect(await alice.cipher(bob2).hasSession()).toBe(false);
  });
});

describe('HealingCipher failures', () => {
  it('encrypt: a failing fetchBundle leaves the store and the resend cache as they were', async () => {
    const alice = await createTestParty('alice', 1);
    const bob = await createTestParty('bob', 1);
    const cacheStore = new InMemoryResendStore();
    const healer = new HealingCipher({
      store: alice.store,
      localAddress: alice.address,
      resendCache: await ResendCache.create({ key: platformProvider.randomBytes(32), store: cacheStore }),
      fetchBundle: async () => {
        throw new Error('server unreachable');
      },
      sendRetryRequest: async () => {},
      resend: async () => {},
    });
    const before = alice.store.snapshot();
    await expect(healer.encrypt(bob.address, utf8('x'), 1_700_000_000_000)).rejects.toThrow(
      'server unreachable',
    );
    expect(alice.store.snapshot()).toEqual(before);
    expect(await cacheStore.list()).toEqual([]);
  });
});

describe('HealingCipher options', () => {
  it('checks its options', async () => {
    const alice = await createTestParty('alice', 1);
    const resendCache = await ResendCache.create({
      key: platformProvider.randomBytes(32),
      store: new InMemoryResendStore(),
    });
    const ok = {
      store: alice.store,
      localAddress: alice.address,
      resendCache,
      fetchBundle: async () => alice.bundle(),
      sendRetryRequest: async () => {},
      resend: async () => {},
    };
    expect(() => new HealingCipher(ok)).not.toThrow();
    expect(() => new HealingCipher({ ...ok, resendCache: {} as never })).toThrow(TypeError);
    expect(() => new HealingCipher({ ...ok, resend: undefined as never })).toThrow(TypeError);
    expect(() => new HealingCipher({ ...ok, policy: {} as never })).toThrow(TypeError);
    expect(() => new HealingCipher({ ...ok, nullMessage: 'x' as never })).toThrow(TypeError);
    const h = new HealingCipher(ok);
    await expect(
      h.decrypt(alice.address, { type: 'whisper', body: new Uint8Array(40) }, { timestamp: -1 }),
    ).rejects.toBeInstanceOf(RangeError);
  });

  it('keeps its own copy of nullMessage: a pooled Buffer the app reuses changes nothing sent', async () => {
    const alice = await createTestParty('alice', 1, { provider: platformProvider });
    const bob = await createTestParty('bob', 1, { provider: platformProvider });
    const pooled = Buffer.from(utf8('null message')); // a view into Node's shared pool
    expect(pooled.byteLength).toBeLessThan(pooled.buffer.byteLength);
    const resent: EncryptedMessage[] = [];
    const healer = new HealingCipher({
      store: alice.store,
      localAddress: alice.address,
      resendCache: await ResendCache.create({
        key: platformProvider.randomBytes(32),
        store: new InMemoryResendStore(),
      }),
      policy: new RetryPolicy({ now: () => 10_000 }),
      cipherOptions: { provider: platformProvider },
      fetchBundle: async () => bob.bundle(),
      sendRetryRequest: async () => {},
      resend: async (_to, message) => {
        resent.push(message);
      },
      nullMessage: pooled,
    });
    pooled.fill(0x58); // the app reuses its buffer (or the pool hands that memory to someone else)
    const first = await healer.encrypt(bob.address, utf8('hi'), 5_000);
    // Bob cannot read it and asks about a message that is not cached (another timestamp): Alice
    // archives the session the receipt names and sends the null message over a new one.
    const receipt = createRetryRequest({ ...first, timestamp: 4_000, senderDeviceId: 1 });
    expect(await healer.onRetryRequest(bob.address, receipt.serialize())).toMatchObject({
      kind: 'not-cached',
      archived: true,
      nullMessageSent: true,
    });
    expect(resent).toHaveLength(1);
    const got = await bob.cipher(alice.address).decrypt(resent[0] as EncryptedMessage);
    expect(new TextDecoder().decode(got.plaintext)).toBe('null message');
  });
});
