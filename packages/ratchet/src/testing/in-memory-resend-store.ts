import type { ResendStore, ResendStoreChange, ResendStoreEntry } from '@e2ee-kit/ratchet';

export interface InMemoryResendStoreOptions {
  /**
   * Called (and awaited) before every store method runs, with the method name: throw to inject a store
   * failure. A method that throws here changes nothing.
   */
  onCall?: (method: 'get' | 'list' | 'apply') => void | Promise<void>;
}

/** A `ResendStore` in memory that keeps copies of the bytes; `snapshot()` for byte-for-byte comparisons. */
export class InMemoryResendStore implements ResendStore {
  readonly #rows = new Map<string, { savedAt: number; record: Uint8Array }>();
  readonly #onCall: InMemoryResendStoreOptions['onCall'];

  constructor(options: InMemoryResendStoreOptions = {}) {
    this.#onCall = options.onCall;
  }

  async get(id: string): Promise<Uint8Array | undefined> {
    await this.#onCall?.('get');
    return this.#rows.get(id)?.record.slice();
  }

  async list(): Promise<readonly ResendStoreEntry[]> {
    await this.#onCall?.('list');
    return [...this.#rows].map(([id, row]) => ({ id, savedAt: row.savedAt }));
  }

  async apply(change: ResendStoreChange): Promise<void> {
    await this.#onCall?.('apply');
    for (const id of change.remove) this.#rows.delete(id);
    if (change.put)
      this.#rows.set(change.put.id, {
        savedAt: change.put.savedAt,
        record: new Uint8Array(change.put.record),
      });
  }

  get size(): number {
    return this.#rows.size;
  }

  /** Copies of every row: id → `savedAt` and record bytes. */
  snapshot(): Map<string, { savedAt: number; record: Uint8Array }> {
    return new Map([...this.#rows].map(([id, r]) => [id, { savedAt: r.savedAt, record: r.record.slice() }]));
  }

  /** Overwrites a row as is (tests: tampering, records moved between ids). */
  setRaw(id: string, savedAt: number, record: Uint8Array): void {
    this.#rows.set(id, { savedAt, record: new Uint8Array(record) });
  }
}
