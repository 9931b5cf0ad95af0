// The retry-receipt flow over stores whose `transaction` runs its callback twice (the first attempt
// thrown away, as after a write conflict or SQLITE_BUSY): one receipt per failure, one resend per
// receipt, the message delivered once, and a corrupted record removed once.
import type { InMemoryProtocolStore } from '@e2ee-kit/ratchet/testing';
import { describe, expect, it } from 'vitest';
import { conversation } from './healing-peers.js';
import { retryingOnce } from './helpers.js';

describe('HealingCipher over transactions that run twice', () => {
  it('a lost session heals with one receipt and one resend, and the message arrives once', async () => {
    const { net, alice, bob } = await conversation();
    const a = retryingOnce(alice.party.store as InMemoryProtocolStore);
    const b = retryingOnce(bob.party.store as InMemoryProtocolStore);
    await bob.party.store.removeSession(alice.address); // Bob lost the session (a restore)
    const since = net.sent.length;
    const receipts = () => net.queue.filter((w) => w.kind === 'receipt').length;
    await net.send(alice, bob, 'are you there');
    const first = net.queue.shift();
    if (first?.kind !== 'message') throw new Error('expected the message');
    const r = await bob.healer.decrypt(first.from, first.message, { timestamp: first.timestamp });
    expect(r.kind).toBe('retry-requested');
    expect(receipts()).toBe(1);
    await net.run();
    expect(alice.answers.map((x) => x.kind)).toEqual(['resent']);
    expect(alice.answers[0]).toMatchObject({ archived: true, newSession: true });
    expect(bob.inbox.filter((m) => m.text === 'are you there')).toHaveLength(1);
    expect(net.outcomes(since)).toEqual(['delivered']);
    expect(a.attempts).toBeGreaterThan(0);
    expect(b.attempts).toBeGreaterThan(0);
    // The new session works both ways, still over retried transactions.
    await net.talk(bob, alice, 'yes');
    await net.talk(alice, bob, 'good');
    expect(net.outcomes(since)).toEqual(['delivered', 'delivered', 'delivered']);
  });

  it('a corrupted record is removed once and a PreKey resend starts the new session', async () => {
    const { net, alice, bob } = await conversation();
    const bobStore = bob.party.store as InMemoryProtocolStore;
    retryingOnce(bobStore);
    retryingOnce(alice.party.store as InMemoryProtocolStore);
    const snap = bobStore.snapshot();
    const key = [...snap.keys()].find((k) => k.startsWith('session') && k.includes('alice'));
    expect(key).toBeDefined();
    bobStore.restore(new Map([...snap].map(([k, v]) => [k, k === key ? v.subarray(0, 7) : v])));
    const since = net.sent.length;
    await net.send(alice, bob, 'after the damage');
    await net.run();
    expect(bob.decrypts.at(-2)).toMatchObject({ kind: 'retry-requested', unreadableSessionRemoved: true });
    expect(net.outcomes(since)).toEqual(['delivered']);
  });
});
