// Atomic delivery survives a crash at every commit (memory backend): ≥ 1,000 crash points of mixed
// 1:1, PreKey and group traffic, every message delivered exactly once; without transactions the
// same crashes lose messages.
import { MemoryKvBackend } from '../src/testing/index.js';
import { type CrashDatabase, testCrashDelivery } from './delivery-crash.js';

type Rows = Map<string, Uint8Array>;

function memoryDatabase(): CrashDatabase<Rows> {
  let live: MemoryKvBackend | undefined;
  const wrap = (b: MemoryKvBackend, afterCommit?: () => void): MemoryKvBackend => {
    const commit = b.commit.bind(b);
    b.commit = async (writes) => {
      await commit(writes);
      afterCommit?.();
    };
    return b;
  };
  return {
    live: (afterCommit) => {
      live = wrap(new MemoryKvBackend(), afterCommit);
      return live;
    },
    snapshot: () => (live as MemoryKvBackend).snapshot(),
    restore: async (rows) => {
      // A fresh backend (a restarted process) over a copy of the rows.
      const b = new MemoryKvBackend();
      await b.commit(
        [...rows].map(([k, value]) => {
          const at = k.indexOf('\u0000');
          return { table: k.slice(0, at) as never, key: k.slice(at + 1), value: value.slice() };
        }),
      );
      return b;
    },
  };
}

testCrashDelivery(memoryDatabase);
