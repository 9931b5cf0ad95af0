/**
 * Pluggable persistence. A `ChatStorage` keeps bytes under string keys and applies a batch of changes
 * atomically. The client never writes piecemeal: each operation (receive one envelope, send one
 * message, …) runs against a `Transaction` overlay and commits its writes in one `commit`, so the
 * ratchet state, the sender-key state and the decrypted message land together or not at all.
 */

export interface ChatStorage {
  get(key: string): Promise<Uint8Array | undefined>;
  /** Keys starting with `prefix`, sorted. */
  keys(prefix: string): Promise<string[]>;
  /** Applies every change at once (`null` deletes). Must be atomic: all or nothing. */
  commit(changes: ReadonlyMap<string, Uint8Array | null>): Promise<void>;
}

/** The default storage: a Map of byte copies (lost when the process ends). */
export class MemoryStorage implements ChatStorage {
  readonly #data = new Map<string, Uint8Array>();

  async get(key: string): Promise<Uint8Array | undefined> {
    return this.#data.get(key)?.slice();
  }

  async keys(prefix: string): Promise<string[]> {
    return [...this.#data.keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  async commit(changes: ReadonlyMap<string, Uint8Array | null>): Promise<void> {
    for (const [k, v] of changes) {
      if (v === null) this.#data.delete(k);
      else this.#data.set(k, v.slice());
    }
  }

  /** Every stored entry (tests search these bytes). */
  entries(): [string, Uint8Array][] {
    return [...this.#data].map(([k, v]) => [k, v.slice()]);
  }
}

/** Writes buffered over a storage; reads see them. `commit()` hands them to the storage at once. */
export class Transaction {
  readonly #base: ChatStorage;
  readonly #changes = new Map<string, Uint8Array | null>();

  constructor(base: ChatStorage) {
    this.#base = base;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    if (this.#changes.has(key)) return this.#changes.get(key)?.slice() ?? undefined;
    return this.#base.get(key);
  }

  async keys(prefix: string): Promise<string[]> {
    const base = await this.#base.keys(prefix);
    const set = new Set(base);
    for (const [k, v] of this.#changes) {
      if (!k.startsWith(prefix)) continue;
      if (v === null) set.delete(k);
      else set.add(k);
    }
    return [...set].sort();
  }

  set(key: string, value: Uint8Array): void {
    this.#changes.set(key, value.slice());
  }

  delete(key: string): void {
    this.#changes.set(key, null);
  }

  get size(): number {
    return this.#changes.size;
  }

  async commit(): Promise<void> {
    if (this.#changes.size > 0) await this.#base.commit(this.#changes);
    this.#changes.clear();
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export function jsonBytes(value: unknown): Uint8Array {
  return enc.encode(JSON.stringify(value));
}

export function parseJsonBytes<T>(bytes: Uint8Array | undefined): T | undefined {
  return bytes === undefined ? undefined : (JSON.parse(dec.decode(bytes)) as T);
}
