// An attempt store whose `get` answers with a view into one buffer it reuses for every answer (a
// native bridge or a database driver with a row pool, like Node's pooled Buffers). The policy must
// keep its own copy of what it read: it hands that back as `compareAndSet`'s `expected`, after an
// await, and a view would by then hold whatever the store read last — another context's write —
// so the compare would pass and that context's failure would be overwritten.
import { type AttemptStore, LocalBackoffPolicy, MemoryAttemptStore } from '@e2ee-kit/backup-kdf';
import { constantTimeEqual } from '@e2ee-kit/core';
import { describe, expect, it } from 'vitest';

const now = () => Date.UTC(2026, 0, 1);
const slot = (n: number) => n.toString(16).padStart(32, '0');

/** Answers `get` from one reused buffer; `compareAndSet` waits on `hold()` when armed. */
function pooledStore() {
  const rows = new MemoryAttemptStore();
  const pool = new Uint8Array(4096);
  let gate: Promise<void> | undefined;
  const store: AttemptStore & { hold(): () => void } = {
    async get(key) {
      const v = await rows.get(key);
      if (v === undefined) return undefined;
      pool.set(v);
      return pool.subarray(0, v.length);
    },
    set: (key, value) => rows.set(key, value),
    async compareAndSet(key, expected, value) {
      const wait = gate;
      gate = undefined;
      if (wait) await wait;
      const stored = await rows.get(key);
      const same =
        stored === undefined || expected === undefined
          ? stored === expected
          : stored.length === expected.length && constantTimeEqual(stored, expected);
      if (same) await rows.set(key, value);
      return same;
    },
    hold() {
      let release!: () => void;
      gate = new Promise((r) => {
        release = r;
      });
      return release;
    },
  };
  return store;
}

describe('a store that answers get() with a reused buffer', () => {
  it.each(['recordFailure', 'reserve'] as const)(
    'two contexts charging one slot at once (%s; records of one length): both charges count',
    async (op) => {
      const store = pooledStore();
      // Two policies on one store: two tabs (each has its own lock; only compareAndSet orders them).
      const a = new LocalBackoffPolicy({ store, now });
      const b = new LocalBackoffPolicy({ store, now });
      await a[op]('password', [slot(1)]); // a record exists: get() now answers from the pool
      const release = store.hold(); // a's next compare-and-set waits…
      const first = a[op]('password', [slot(1)]);
      await new Promise((r) => setTimeout(r, 0));
      await b[op]('password', [slot(1)]); // …while b reads and writes
      await b.check('password'); // a read refills the pool with b's record
      release();
      await first;
      expect((await a.check('password')).failures).toBe(3);
    },
  );
});
