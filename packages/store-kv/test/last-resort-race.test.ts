/**
 * Two tabs or processes on one database (one backend, each its own `KvStore` and locks) marking two
 * different triples of one last-resort Kyber key at once: both read the key's use count n. Without a
 * compare-and-set on the count row both commit n + 1 — two replay rows counted as one, so the
 * MAX_LAST_RESORT_USES cap is passed by as many rows as contexts race. Now one commits and the other
 * fails with StoreError (retry it), and the count stays the number of rows.
 */
import { defaultProvider, E2eeError, KeyPair } from '@e2ee-kit/core';
import * as ratchet from '@e2ee-kit/ratchet';
import { KvStore, type KvWrite } from '@e2ee-kit/store-kv';
import { MemoryKvBackend } from '@e2ee-kit/store-kv/testing';
import { describe, expect, it } from 'vitest';

const text = (b: Uint8Array) => String.fromCharCode(...b);

describe('the last-resort use count across contexts', () => {
  for (const sealed of [false, true]) {
    it(`${sealed ? 'sealed' : 'plain'}: two racing marks never count two rows as one`, async () => {
      const backend = new MemoryKvBackend();
      const o = { ratchet, ...(sealed ? { encryptionKey: new Uint8Array(32).fill(5) } : {}) };
      const first = await KvStore.open(backend, o);
      const kyber = await ratchet.generateKyberPreKey(await first.protocol.getIdentityKeyPair(), 7, {
        lastResort: true,
      });
      await first.protocol.saveKyberPreKey(7, kyber);
      await first.protocol.markKyberPreKeyUsed(7, 1, (await KeyPair.generate(defaultProvider)).publicKey);
      const tabs = [first, await KvStore.open(backend, o)];
      const bases = await Promise.all(
        [1, 2].map(async () => (await KeyPair.generate(defaultProvider)).publicKey),
      );
      await oneCommits(
        backend,
        tabs.map((tab, i) => () => tab.protocol.markKyberPreKeyUsed(7, 1, bases[i] as (typeof bases)[0])),
      );
      const rows = usedRows(backend);
      // Two triples and the count row.
      expect(rows).toHaveLength(3);
      if (!sealed) expect(rows.get('n:7')).toBe('n:7:2');
    });
  }

  for (const markFirst of [false, true])
    it(`a recount (removing a signed pre-key) racing a mark never overwrites the mark (${markFirst ? 'mark' : 'recount'} commits first)`, async () => {
      const backend = new MemoryKvBackend();
      const first = await KvStore.open(backend, { ratchet });
      const kyber = await ratchet.generateKyberPreKey(await first.protocol.getIdentityKeyPair(), 7, {
        lastResort: true,
      });
      await first.protocol.saveKyberPreKey(7, kyber);
      await first.protocol.markKyberPreKeyUsed(7, 1, (await KeyPair.generate(defaultProvider)).publicKey);
      const second = await KvStore.open(backend, { ratchet });
      const base = (await KeyPair.generate(defaultProvider)).publicKey;
      await oneCommits(
        backend,
        [() => first.protocol.removeSignedPreKey(1), () => second.protocol.markKyberPreKeyUsed(7, 2, base)],
        (writes) => writes.some((w) => w.ifAbsent === true) === markFirst,
      );
      const rows = usedRows(backend);
      const triples = [...rows.keys()].filter((k) => !k.startsWith('n:'));
      // The count row says how many triples there are (no row: none).
      expect(rows.get('n:7') ?? 'n:7:0').toBe(`n:7:${triples.length}`);
    });
});

/**
 * Runs `ops` at once, holding every commit until all have arrived (so each has read before any
 * commits); the batch `first` picks commits first, then the others in turn. Exactly one may commit.
 */
async function oneCommits(
  backend: MemoryKvBackend,
  ops: ReadonlyArray<() => Promise<unknown>>,
  first: (writes: readonly KvWrite[]) => boolean = () => false,
) {
  const waiting: { writes: readonly KvWrite[]; go: () => void }[] = [];
  backend.onCommit = (writes) =>
    new Promise<void>((go) => {
      waiting.push({ writes, go });
      if (waiting.length < ops.length) return;
      void (async () => {
        for (const w of [...waiting].sort((a, b) => Number(first(b.writes)) - Number(first(a.writes)))) {
          w.go();
          await new Promise((r) => setTimeout(r, 0)); // its batch applies before the next is let go
        }
      })();
    });
  const results = await Promise.allSettled(ops.map((op) => op()));
  backend.onCommit = undefined;
  expect(results.filter((m) => m.status === 'fulfilled')).toHaveLength(1);
  for (const m of results) if (m.status === 'rejected') expect(E2eeError.is(m.reason, 'STORE')).toBe(true);
}

/** The `kyber_used` rows by key, values as text (plain stores: keys and values in clear). */
function usedRows(backend: MemoryKvBackend): Map<string, string> {
  const prefix = 'kyber_used\u0000';
  return new Map(
    [...backend.snapshot()]
      .filter(([k]) => k.startsWith(prefix))
      .map(([k, v]) => [k.slice(prefix.length), text(v)] as const),
  );
}
