// @e2ee-kit/store-kv/testing — a backend in memory and a checker for your own backend.

export { type KvConformanceApi, type OpenKvStore, runKvStoreConformance } from './conformance.js';
export { runFailingCommit } from './failed-commit.js';
export { MemoryKvBackend } from './memory-backend.js';
export { countLeaks, fillWithSecrets } from './secrets.js';
