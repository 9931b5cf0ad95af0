// A bad count (a negative or fractional number from an app's arithmetic on server counts) must be a
// RangeError before anything is written — not a moved-back id counter that later reuses ids and
// overwrites keys the server holds.
import { PreKeyManager } from '@e2ee-kit/ratchet';
import { InMemoryProtocolStore } from '@e2ee-kit/ratchet/testing';
import { describe, expect, it } from 'vitest';
import { snap } from './helpers.js';

describe('PreKeyManager counts', () => {
  for (const method of ['generatePreKeys', 'generateKyberPreKeys'] as const)
    it(`${method}: a count outside 0..10000 is a RangeError and the store is unchanged`, async () => {
      const store = await InMemoryProtocolStore.create();
      const m = new PreKeyManager(store);
      const first = await m[method](2);
      const before = snap(store);
      for (const bad of [-5, 1.5, 10_001, Number.NaN])
        await expect(m[method](bad), String(bad)).rejects.toThrow(RangeError);
      expect(snap(store)).toBe(before);
      const next = await m[method](2);
      expect(next.map((k) => k.id)).toEqual([(first[1]?.id as number) + 1, (first[1]?.id as number) + 2]);
    });
});
