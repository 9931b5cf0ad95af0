// SessionCipher / GroupCipher `deliver` over a transactional store: the app's row commits with the
// state or neither does, its error comes through unchanged, an identity change is reported only
// after the commit, and a `lockManager` passed in is the lock taken.
import { createAddress, type LockManager } from '@e2ee-kit/core';
import * as ratchet from '@e2ee-kit/ratchet';
import { SessionCipher } from '@e2ee-kit/ratchet';
import { createTestParty } from '@e2ee-kit/ratchet/testing';
import * as senderKeys from '@e2ee-kit/sender-keys';
import { GroupCipher } from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';
import { describe, expect, it } from 'vitest';
import { KvStore } from '../src/index.js';
import { MemoryKvBackend } from '../src/testing/index.js';

const BOB = createAddress('bob', 1);
const utf8 = (s: string) => new TextEncoder().encode(s);

async function firstContact() {
  const backend = new MemoryKvBackend();
  const events: string[] = [];
  const bob = await KvStore.open(backend, {
    ratchet,
    senderKeys,
    onIdentityChange: (e) => events.push(`identity ${e.address.name}`),
  });
  const alice = await createTestParty('alice', 1);
  const toBob = alice.cipher(BOB);
  await toBob.initiate(await ratchet.createPreKeyBundle(bob.protocol, { deviceId: 1 }));
  return { backend, bob, alice, toBob, events };
}

describe('SessionCipher.decrypt with deliver, on a KvStore', () => {
  it('the app row, session, pre-key removal, identity and Kyber mark land in one commit', async () => {
    const { backend, bob, alice, toBob } = await firstContact();
    const wire = await toBob.encrypt(utf8('hi'));
    const commits: string[][] = [];
    backend.onCommit = (w) => {
      commits.push([...new Set(w.map((x) => `${x.table}${x.value === null ? ' (delete)' : ''}`))].sort());
    };
    const m = await new SessionCipher(bob.protocol, alice.address).decrypt(wire, {
      deliver: (msg, tx) => tx.app.put('inbox:1', msg.plaintext),
    });
    expect(new TextDecoder().decode(m.plaintext)).toBe('hi');
    expect(commits).toEqual([['app', 'identity', 'kyber_prekey (delete)', 'prekey (delete)', 'session']]);
    expect(await bob.app.get('inbox:1')).toEqual(utf8('hi'));
    expect(await bob.protocol.getSession(alice.address)).not.toBeNull();
  });

  it('a callback that throws writes nothing and its own error comes through; a retry then works', async () => {
    const { backend, bob, alice, toBob } = await firstContact();
    const wire = await toBob.encrypt(utf8('hi'));
    const before = backend.snapshot();
    const boom = new Error('disk full in the app');
    const cipher = new SessionCipher(bob.protocol, alice.address);
    await expect(
      cipher.decrypt(wire, {
        deliver: async (_m, tx) => {
          await tx.app.put('inbox:1', utf8('x'));
          throw boom;
        },
      }),
    ).rejects.toBe(boom);
    expect(backend.snapshot()).toEqual(before);
    const again = await cipher.decrypt(wire, { deliver: (m, tx) => tx.app.put('inbox:1', m.plaintext) });
    expect(again.newSession).toBe(true);
    expect(await bob.app.get('inbox:1')).toEqual(utf8('hi'));
  });

  it('an identity replacement is reported after the commit, never for a rolled-back decrypt', async () => {
    const { bob, alice, events } = await firstContact();
    await new SessionCipher(bob.protocol, alice.address).decrypt(
      await alice.cipher(BOB).encrypt(utf8('one')),
    );
    // Alice reinstalls: a new identity key, a new session from a new bundle.
    const alice2 = await createTestParty('alice', 1);
    const c2 = alice2.cipher(BOB);
    await c2.initiate(await ratchet.createPreKeyBundle(bob.protocol, { deviceId: 1 }));
    const wire = await c2.encrypt(utf8('two'));
    const cipher = new SessionCipher(bob.protocol, alice.address);
    const seen: string[] = [];
    await expect(
      cipher.decrypt(wire, {
        deliver: () => {
          seen.push(`deliver, events so far: ${events.length}`);
          throw new Error('app fails');
        },
      }),
    ).rejects.toThrow('app fails');
    expect(events).toEqual([]);
    const m = await cipher.decrypt(wire, {
      deliver: () => {
        seen.push(`deliver, events so far: ${events.length}`);
      },
    });
    expect(m.identityChange.kind).toBe('replaced');
    expect(seen).toEqual(['deliver, events so far: 0', 'deliver, events so far: 0']);
    expect(events).toEqual(['identity alice']);
  });

  it('takes the lockManager it is given: the address lock, then the pre-key lock inside it', async () => {
    const { bob, alice, toBob } = await firstContact();
    const taken: string[] = [];
    const held = new Set<string>();
    const locks: LockManager = {
      run: async (key, fn) => {
        taken.push(`${[...held].map((k) => JSON.stringify(k)).join(',')}>${JSON.stringify(key)}`);
        held.add(key);
        try {
          return await fn();
        } finally {
          held.delete(key);
        }
      },
    };
    await new SessionCipher(bob.protocol, alice.address, { lockManager: locks }).decrypt(
      await toBob.encrypt(utf8('hi')),
    );
    expect(taken).toEqual(['>"alice.1"', '"alice.1">"\\u0000prekey-state"']);
    expect(() => new SessionCipher(bob.protocol, alice.address, { lockManager: {} as never })).toThrow(
      TypeError,
    );
  });
});

describe('GroupCipher.decrypt with deliver, on a KvStore', () => {
  it('the sender-key state and the app row commit together; a throw writes neither', async () => {
    const backend = new MemoryKvBackend();
    const bob = await KvStore.open(backend, { ratchet, senderKeys });
    const dave = createAddress('dave', 1);
    const daveGroup = new GroupCipher(new InMemorySenderKeyStore());
    const dist = 'c4b0d3b2-6a8e-4f1e-9a54-1f6d3e1f2a77';
    const group = new GroupCipher(bob.senderKeys);
    await group.processDistributionMessage(dave, await daveGroup.createDistributionMessage(dave, dist));
    const wire = await daveGroup.encrypt(dave, dist, utf8('to all'));
    const before = backend.snapshot();
    const boom = new Error('app');
    await expect(group.decrypt(dave, wire, { deliver: () => Promise.reject(boom) })).rejects.toBe(boom);
    expect(backend.snapshot()).toEqual(before);
    let commits = 0;
    backend.onCommit = () => {
      commits++;
    };
    await group.decrypt(dave, wire, { deliver: (m, tx) => tx.app.put('group:1', m.plaintext) });
    expect(commits).toBe(1);
    expect(await bob.app.get('group:1')).toEqual(utf8('to all'));
  });
});
