// @e2ee-kit/ratchet/testing — helpers for tests (yours and ours). Not for production use.

export {
  type ConformanceOptions,
  type ConformanceTestApi,
  runProtocolStoreConformance,
} from './conformance.js';
export { InMemoryResendStore, type InMemoryResendStoreOptions } from './in-memory-resend-store.js';
export { InMemoryProtocolStore, type InMemoryProtocolStoreOptions } from './in-memory-store.js';
export { type Envelope, SimulatedNetwork, type SimulatedNetworkOptions } from './network.js';
export { createTestParty, type TestParty, type TestPartyOptions } from './party.js';
