// @e2ee-kit/sealed-sender/testing — helpers for tests (yours and ours). Not for production use.
export { createDeterministicRandom, deterministicProvider } from '@e2ee-kit/core/testing';
export { createTestIssuer, type TestIssuer } from './issuer.js';
