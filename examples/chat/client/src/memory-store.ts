/**
 * A client store in memory, for tests and one-off scripts (lost when the process ends): store-kv's
 * memory backend. Kept out of the package's main entry so browser bundles do not pull in the
 * store's test helpers.
 */
import { KvStore } from '@e2ee-kit/store-kv';
import { MemoryKvBackend } from '@e2ee-kit/store-kv/testing';
import type { StoreOpener } from './types.js';

/** Every call of the returned opener opens the same in-memory store. */
export function memoryStore(): StoreOpener {
  const backend = new MemoryKvBackend();
  return (options) => KvStore.open(backend, options);
}
