// `DecryptedMessage.identityChange` and `onIdentityChange` report a real change of the peer's identity
// key once, and a late message of an archived session whose peer identity has since been replaced
// reports nothing and does not switch the stored key (or the current session) back — for a repeated
// PreKey message (one sent before the peer answered) as for a SignalMessage.
import { type IdentityChangeEvent, platformProvider } from '@e2ee-kit/core';
import { createTestParty } from '@e2ee-kit/ratchet/testing';
import { describe, expect, it } from 'vitest';
import { fromUtf8, roundTrip, utf8 } from './helpers.js';

const provider = platformProvider;

async function setup(policy: 'tofu' | 'blockOnChange') {
  const events: IdentityChangeEvent[] = [];
  const bob = await createTestParty('bob', 1, {
    provider,
    store: { policy, onIdentityChange: (e) => events.push(e) },
  });
  const alice = await createTestParty('alice', 1, { provider });
  const a = alice.cipher(bob);
  await a.initiate(await bob.bundle());
  // Two PreKey messages before Bob answers: the second is late.
  const first = await a.encrypt(utf8('first'));
  const late = await a.encrypt(utf8('late, old identity'));
  expect(late.type).toBe('prekey');
  const b = bob.cipher(alice);
  expect((await b.decrypt(first)).identityChange.kind).toBe('new');
  // Alice reinstalls: a new identity key, a new session.
  const alice2 = await createTestParty('alice', 1, { provider });
  const a2 = alice2.cipher(bob);
  await a2.initiate(await bob.bundle());
  const newKey = (await alice2.store.getIdentityKeyPair()).publicKey;
  return { bob, alice, b, a2, late, newKey, events };
}

describe('a late PreKey message of an archived session whose identity was replaced', () => {
  it('tofu: it decrypts, reports no change, and leaves the new identity and its session current', async () => {
    const { bob, alice, b, a2, late, newKey, events } = await setup('tofu');
    const r1 = await b.decrypt(await a2.encrypt(utf8('new identity')));
    expect(r1.identityChange.kind).toBe('replaced');
    expect(events).toHaveLength(1);

    const r2 = await b.decrypt(late);
    expect(fromUtf8(r2.plaintext)).toBe('late, old identity');
    expect(r2.identityChange).toEqual({ kind: 'none' });
    expect(r2.newSession).toBe(false);
    expect(events).toHaveLength(1);
    expect((await bob.store.getIdentity(alice.address))?.equals(newKey)).toBe(true);
    await roundTrip(b, a2, 'still to the new identity');
    // Read once: a second copy is a duplicate of the archived state, not a new session.
    await expect(b.decrypt(late)).rejects.toMatchObject({ code: 'DUPLICATE_MESSAGE' });
    expect(events).toHaveLength(1);
  });

  it('blockOnChange: refused as untrusted, nothing changes; after approval of the new key it is the same', async () => {
    const { bob, alice, b, a2, late, newKey, events } = await setup('blockOnChange');
    const fromNew = await a2.encrypt(utf8('new identity'));
    await expect(b.decrypt(fromNew)).rejects.toMatchObject({ code: 'UNTRUSTED_IDENTITY' });
    expect(events).toHaveLength(0);
    await bob.store.approve(alice.address, newKey);
    expect((await b.decrypt(fromNew)).identityChange.kind).toBe('replaced');
    expect(events).toHaveLength(1);
    // The old key is no longer the trusted one: its late message is refused, and changes nothing.
    await expect(b.decrypt(late)).rejects.toMatchObject({ code: 'UNTRUSTED_IDENTITY' });
    expect(events).toHaveLength(1);
    expect((await bob.store.getIdentity(alice.address))?.equals(newKey)).toBe(true);
    await roundTrip(b, a2, 'still to the new identity');
  });
});
