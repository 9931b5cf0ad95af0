/**
 * The conformance suite is the README's checklist for a new backend, so it must fail a backend that
 * breaks the contract. The contract's first promise is that a batch is all or nothing, also when one
 * of its writes is refused by its condition (`ifAbsent`, `ifPresent`, `ifValue`): here a backend that
 * checks each write's condition only when it gets to it, after applying the writes before it.
 */
import { copyBytes } from '@e2ee-kit/core';
import * as ratchet from '@e2ee-kit/ratchet';
import * as senderKeys from '@e2ee-kit/sender-keys';
import { type KvBackend, KvStore, type KvWrite, sameRow, type Table, valueTooLong } from '@e2ee-kit/store-kv';
import { type KvConformanceApi, MemoryKvBackend, runKvStoreConformance } from '@e2ee-kit/store-kv/testing';
import { describe, expect, it } from 'vitest';

/** Applies a batch write by write; a refused write stops the batch with the earlier ones applied. */
class PiecemealBackend implements KvBackend {
  readonly #rows = new Map<string, Uint8Array>();

  async get(table: Table, key: string, maxBytes = Infinity): Promise<Uint8Array | undefined> {
    const v = this.#rows.get(`${table}\u0000${key}`);
    if (v !== undefined && v.length > maxBytes) throw valueTooLong(table, maxBytes);
    return v && copyBytes(v);
  }

  async list(table: Table, maxBytes = Infinity): Promise<ReadonlyArray<readonly [string, Uint8Array]>> {
    const prefix = `${table}\u0000`;
    return [...this.#rows]
      .filter(([k, v]) => k.startsWith(prefix) && v.length <= maxBytes)
      .map(([k, v]) => [k.slice(prefix.length), copyBytes(v)] as const);
  }

  async commit(writes: readonly KvWrite[]): Promise<void> {
    for (const w of writes) {
      const k = `${w.table}\u0000${w.key}`;
      const has = this.#rows.has(k);
      if ((w.ifAbsent && has) || (w.ifPresent && !has)) throw new Error('refused');
      if (w.ifValue !== undefined && !sameRow(this.#rows.get(k), w.ifValue)) throw new Error('refused');
      if (w.value === null) this.#rows.delete(k);
      else this.#rows.set(k, copyBytes(w.value));
    }
  }
}

/** Runs the suite's `KvStore conformance` tests against `open`; the names of those that fail. */
async function failures(open: () => KvBackend): Promise<string[]> {
  const tests: [string, () => Promise<void>][] = [];
  const path: string[] = [];
  const api: KvConformanceApi = {
    describe: (name, fn) => {
      path.push(name);
      fn();
      path.pop();
    },
    it: (name, fn) => {
      if (path.includes('KvStore conformance')) tests.push([name, fn]);
    },
    expect: expect as unknown as KvConformanceApi['expect'],
  };
  runKvStoreConformance(api, (o) => KvStore.open(open(), o), { ratchet, senderKeys });
  const failed: string[] = [];
  for (const [name, fn] of tests) await fn().catch(() => failed.push(name));
  return failed;
}

describe('runKvStoreConformance', () => {
  it('fails a backend that applies part of a refused batch', async () => {
    expect(await failures(() => new PiecemealBackend())).toContain(
      'transaction: a batch refused by one of its writes writes none of them',
    );
  });

  it('passes the memory backend (whose batches are all or nothing)', async () => {
    expect(await failures(() => new MemoryKvBackend())).toEqual([]);
  });
});
