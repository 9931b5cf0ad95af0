/**
 * Two tabs or processes on one database (two KvStores over one backend, each with its own locks)
 * saving the identity key of one peer at once: the in-store lock cannot order them, the commit's
 * compare-and-set on the identity row does — one commits, the other fails with StoreError and,
 * retried, sees the key already saved. Without it both reported `new`, or a `replaced` key and an
 * earlier one both "won" with the last writer's key kept.
 */
import { createAddress, defaultProvider, E2eeError, KeyPair, toHex } from '@e2ee-kit/core';
import * as ratchet from '@e2ee-kit/ratchet';
import { KvStore } from '@e2ee-kit/store-kv';
import { MemoryKvBackend } from '@e2ee-kit/store-kv/testing';
import { describe, expect, it } from 'vitest';

const peer = createAddress('peer', 1);

async function twoContexts() {
  const backend = new MemoryKvBackend();
  const a = await KvStore.open(backend, { ratchet });
  const b = await KvStore.open(backend, { ratchet });
  return { a, b };
}

describe('identity rows across contexts', () => {
  it('two contexts saving a new peer at once: one reports new, the other fails and on retry sees it', async () => {
    const { a, b } = await twoContexts();
    const key = (await KeyPair.generate(defaultProvider)).publicKey;
    const results = await Promise.allSettled([a, b].map((s) => s.protocol.saveIdentity(peer, key)));
    const kinds = results.map((r) => (r.status === 'fulfilled' ? r.value.kind : 'refused'));
    expect(kinds.sort()).toEqual(['new', 'refused']);
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(E2eeError.is(refused.reason, 'STORE')).toBe(true);
    const loser = results[0]?.status === 'rejected' ? a : b;
    expect((await loser.protocol.saveIdentity(peer, key)).kind).toBe('unchanged');
  });

  it('two contexts replacing one key with different keys: exactly one replacement commits', async () => {
    const { a, b } = await twoContexts();
    await a.protocol.saveIdentity(peer, (await KeyPair.generate(defaultProvider)).publicKey);
    const k1 = (await KeyPair.generate(defaultProvider)).publicKey;
    const k2 = (await KeyPair.generate(defaultProvider)).publicKey;
    const results = await Promise.allSettled([
      a.protocol.saveIdentity(peer, k1),
      b.protocol.saveIdentity(peer, k2),
    ]);
    const ok = results.flatMap((r, i) => (r.status === 'fulfilled' ? [[r.value.kind, i] as const] : []));
    expect(ok).toHaveLength(1);
    expect(ok[0]?.[0]).toBe('replaced');
    const kept = await a.protocol.getIdentity(peer);
    expect(toHex(kept!.serialize())).toBe(toHex((ok[0]?.[1] === 0 ? k1 : k2).serialize()));
  });
});
