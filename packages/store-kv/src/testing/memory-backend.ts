import { copyBytes } from '@e2ee-kit/core';
import { type KvBackend, type KvWrite, sameRow, type Table, valueTooLong } from '@e2ee-kit/store-kv';

/**
 * A `KvBackend` in a Map (copies in, copies out; a batch applies at once). `onCommit` runs before a
 * batch is applied — throw there to inject a failed commit, which then changes nothing.
 */
export class MemoryKvBackend implements KvBackend {
  readonly #rows = new Map<string, Uint8Array>();
  onCommit: ((writes: readonly KvWrite[]) => void | Promise<void>) | undefined;

  async get(table: Table, key: string, maxBytes = Infinity): Promise<Uint8Array | undefined> {
    const v = this.#rows.get(`${table}\u0000${key}`);
    // Checked before the copy: an oversized row is refused without allocating its size again.
    if (v !== undefined && v.length > maxBytes) throw valueTooLong(table, maxBytes);
    return v?.slice();
  }

  async list(table: Table, maxBytes = Infinity): Promise<ReadonlyArray<readonly [string, Uint8Array]>> {
    const prefix = `${table}\u0000`;
    const out: [string, Uint8Array][] = [];
    for (const [k, v] of this.#rows)
      if (k.startsWith(prefix) && v.length <= maxBytes) out.push([k.slice(prefix.length), v.slice()]);
    return out;
  }

  async commit(batch: readonly KvWrite[]): Promise<void> {
    // Copied before the first await (`onCommit`'s): the contract lets a caller reuse its arrays as
    // soon as the call returns, and the bytes applied and compared must be those it passed.
    const writes = batch.map((w) => ({
      ...w,
      value: w.value === null ? null : copyBytes(w.value),
      ...(w.ifValue instanceof Uint8Array ? { ifValue: copyBytes(w.ifValue) } : {}),
    }));
    await this.onCommit?.(writes);
    for (const w of writes) {
      const has = this.#rows.has(`${w.table}\u0000${w.key}`);
      if (w.ifAbsent && has) throw new Error(`row ${w.table} ${w.key} already exists`);
      if (w.ifPresent && !has) throw new Error(`row ${w.table} ${w.key} is gone`);
      if (w.ifValue !== undefined && !sameRow(this.#rows.get(`${w.table}\u0000${w.key}`), w.ifValue))
        throw new Error(`row ${w.table} ${w.key} changed since it was read`);
    }
    for (const w of writes) {
      const k = `${w.table}\u0000${w.key}`;
      if (w.value === null) this.#rows.delete(k);
      else this.#rows.set(k, w.value);
    }
  }

  /** Copies of every row, keyed `table\0key` (tests compare and grep these). */
  snapshot(): Map<string, Uint8Array> {
    return new Map([...this.#rows].map(([k, v]) => [k, v.slice()]));
  }
}
