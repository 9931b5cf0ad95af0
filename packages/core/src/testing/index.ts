// @e2ee-kit/core/testing — helpers for tests (yours and ours). Not for production use.

export {
  InMemoryIdentityKeyStore,
  type InMemoryIdentityKeyStoreOptions,
  MemoryBackend,
} from './identity-store.js';
export { createDeterministicRandom, deterministicProvider } from './random.js';
