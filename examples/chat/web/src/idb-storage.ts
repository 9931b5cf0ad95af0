/**
 * `ChatStorage` on IndexedDB: one object store of byte values; `commit` is one readwrite
 * transaction, so a batch lands whole or not at all. Everything the client keeps (identity, sessions,
 * prekeys, sender keys, messages) lives here, in this browser profile only.
 */
import type { ChatStorage } from '@e2ee-kit/chat-client';

const STORE = 'kv';

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

export class IndexedDbStorage implements ChatStorage {
  readonly #db: IDBDatabase;

  private constructor(db: IDBDatabase) {
    this.#db = db;
  }

  static async open(name = 'e2ee-kit-chat'): Promise<IndexedDbStorage> {
    const req = indexedDB.open(name, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    return new IndexedDbStorage(await request(req));
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const v = await request(this.#db.transaction(STORE).objectStore(STORE).get(key));
    return v instanceof Uint8Array ? v.slice() : undefined;
  }

  async keys(prefix: string): Promise<string[]> {
    const range = IDBKeyRange.bound(prefix, `${prefix}\uffff`);
    const keys = await request(this.#db.transaction(STORE).objectStore(STORE).getAllKeys(range));
    return (keys as string[]).filter((k) => k.startsWith(prefix)).sort();
  }

  commit(changes: ReadonlyMap<string, Uint8Array | null>): Promise<void> {
    return new Promise((resolve, reject) => {
      const tx = this.#db.transaction(STORE, 'readwrite');
      const store = tx.objectStore(STORE);
      for (const [k, v] of changes) {
        if (v === null) store.delete(k);
        else store.put(v.slice(), k);
      }
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
    });
  }
}
