// @e2ee-kit/sender-keys/testing — helpers for tests (yours and ours). Not for production use.
export { createDeterministicRandom, deterministicProvider } from '@e2ee-kit/core/testing';
export {
  type ConformanceHarness,
  type ConformanceOptions,
  senderKeyStoreConformance,
} from './conformance.js';
export { InMemorySenderKeyStore, type Operation as InMemorySenderKeyStoreOperation } from './memory-store.js';
export { type Delivery, type NetworkConditions, SimulatedNetwork } from './network.js';
