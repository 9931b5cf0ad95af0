// Real stores run a transaction's callback again when the first attempt is thrown away (a write
// conflict, SQLITE_BUSY): what an attempt queued for after the commit (the identity-change report)
// must then be what the committed attempt queued — not that plus every discarded attempt's.
import { type IdentityChangeEvent, platformProvider } from '@e2ee-kit/core';
import { createTestParty } from '@e2ee-kit/ratchet/testing';
import { expect, it } from 'vitest';
import { fromUtf8, retryingOnce, utf8 } from './helpers.js';

const provider = platformProvider;

it('decrypt in a transaction run twice reports a replaced identity once, after the commit', async () => {
  const events: IdentityChangeEvent[] = [];
  const bob = await createTestParty('bob', 1, {
    provider,
    store: { onIdentityChange: (e) => events.push(e) },
  });
  const alice = await createTestParty('alice', 1, { provider });
  const toBob = alice.cipher(bob);
  await toBob.initiate(await bob.bundle());
  const b = bob.cipher(alice);
  await b.decrypt(await toBob.encrypt(utf8('first')));
  // Alice reinstalls: a new identity key.
  const alice2 = await createTestParty('alice', 1, { provider });
  const toBob2 = alice2.cipher(bob);
  await toBob2.initiate(await bob.bundle());
  const wire = await toBob2.encrypt(utf8('new identity'));
  const seen = retryingOnce(bob.store);
  const delivered: string[] = [];
  const m = await b.decrypt(wire, { deliver: (d) => void delivered.push(fromUtf8(d.plaintext)) });
  expect(seen.attempts).toBe(2);
  expect(delivered).toEqual(['new identity', 'new identity']); // each attempt delivers (its tx writes)
  expect(m.identityChange.kind).toBe('replaced');
  expect(events).toHaveLength(1);
  expect(events[0]?.current.equals((await alice2.store.getIdentityKeyPair()).publicKey)).toBe(true);
});

it('encrypt in a transaction run twice reports a replaced identity once', async () => {
  const events: IdentityChangeEvent[] = [];
  const bob = await createTestParty('bob', 1, {
    provider,
    store: { onIdentityChange: (e) => events.push(e) },
  });
  const alice = await createTestParty('alice', 1, { provider });
  const toAlice = bob.cipher(alice);
  await toAlice.initiate(await alice.bundle());
  // The stored identity differs from the session's (e.g. an old backup restored): encrypt puts the
  // session's back, a replacement.
  const other = await createTestParty('alice', 1, { provider });
  await bob.store.saveIdentity(alice.address, (await other.store.getIdentityKeyPair()).publicKey);
  events.length = 0;
  const seen = retryingOnce(bob.store);
  const wire = await toAlice.encrypt(utf8('hi'));
  expect(seen.attempts).toBe(2);
  expect(events).toHaveLength(1);
  expect(fromUtf8((await alice.cipher(bob).decrypt(wire)).plaintext)).toBe('hi');
});
