// Chain walks take the provider's optional synchronous HMAC/HKDF (`hmacSha256Sync`, `hkdfSha256Sync`)
// when it has them and the async methods otherwise. Both paths must leave the same chain state and
// return the same key, on every provider; a provider object without the sync methods still works.
// (The KDF bytes themselves are checked against Wycheproof in core's provider-sync-kdf.test.ts and
// against libsignal by the interop tests.)
import type { CryptoProvider } from '@e2ee-kit/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { providersWithoutAeadUse } from '../../../tools/providers.js';
import { consumeMessageKey } from '../src/message-keys.js';
import type { ReceiverChain, SpqrLite } from '../src/records/session-state.js';
import { spqrInit, spqrRecv } from '../src/spqr-lite.js';

/** `provider` with the sync KDFs hidden, so the walks take the async path. */
function asyncOnly(provider: CryptoProvider): CryptoProvider {
  const p = Object.create(provider) as CryptoProvider;
  Object.defineProperty(p, 'hmacSha256Sync', { value: undefined });
  Object.defineProperty(p, 'hkdfSha256Sync', { value: undefined });
  return p;
}

function chain(key: Uint8Array, index: number): ReceiverChain {
  return { ratchetKey: new Uint8Array(33), chainKey: { index, key: key.slice() }, messageKeys: [] };
}

const cloneSpqr = (q: SpqrLite): SpqrLite => ({ ...q, recvPrev: new Map(q.recvPrev) });

for (const { label, provider } of providersWithoutAeadUse) {
  describe(`chain walks via ${label}`, () => {
    it('offers the sync KDFs (so the fast path is what runs)', () => {
      expect(typeof provider.hmacSha256Sync).toBe('function');
      expect(typeof provider.hkdfSha256Sync).toBe('function');
    });

    it('sync and async walks give the same message keys and chain state', async () => {
      const slow = asyncOnly(provider);
      await fc.assert(
        fc.asyncProperty(
          fc.uint8Array({ minLength: 32, maxLength: 32 }),
          fc.integer({ min: 0, max: 50 }),
          fc.array(fc.integer({ min: 0, max: 2_300 }), { minLength: 1, maxLength: 3 }),
          async (key, start, jumps) => {
            const fast = chain(key, start);
            const ref = chain(key, start);
            let counter = start;
            for (const j of jumps) {
              counter += j;
              expect(await consumeMessageKey(fast, counter, provider)).toEqual(
                await consumeMessageKey(ref, counter, slow),
              );
              counter++;
            }
            expect(fast).toEqual(ref);
          },
        ),
        { numRuns: 6 },
      );
    });

    it('sync and async SPQR walks give the same keys and state', async () => {
      const slow = asyncOnly(provider);
      const q = await spqrInit(new Uint8Array(32).fill(9), false, provider);
      const fast = cloneSpqr(q);
      const ref = cloneSpqr(q);
      for (const at of [3, 2_200, 2_150, 4_500]) {
        expect(await spqrRecv(fast, at, provider)).toEqual(await spqrRecv(ref, at, slow));
      }
      expect(fast).toEqual(ref);
    });
  });
}
