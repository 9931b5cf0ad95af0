import { type Address, type CryptoProvider, createAddress, defaultProvider } from '@e2ee-kit/core';
import { deterministicProvider } from '@e2ee-kit/core/testing';
import {
  type CreatePreKeyBundleOptions,
  createPreKeyBundle,
  type PreKeyBundle,
  SessionCipher,
  type SessionCipherOptions,
} from '@e2ee-kit/ratchet';
import { InMemoryProtocolStore, type InMemoryProtocolStoreOptions } from './in-memory-store.js';

export interface TestPartyOptions {
  provider?: CryptoProvider;
  /** Make every random byte of this party deterministic (keys, registration id, ratchet keys). */
  seed?: string;
  store?: Omit<InMemoryProtocolStoreOptions, 'provider'>;
}

/** A user device for tests: an in-memory store with identity and registration id, plus shortcuts. */
export interface TestParty {
  readonly name: string;
  readonly deviceId: number;
  readonly address: Address;
  readonly store: InMemoryProtocolStore;
  readonly provider: CryptoProvider;
  /** A fresh bundle for this device (`createPreKeyBundle`). */
  bundle(options?: Omit<CreatePreKeyBundleOptions, 'deviceId' | 'provider'>): Promise<PreKeyBundle>;
  /** A `SessionCipher` from this party to `peer`; `localAddress` defaults to this party's address. */
  cipher(peer: TestParty | Address, options?: SessionCipherOptions): SessionCipher;
}

export async function createTestParty(
  name: string,
  deviceId = 1,
  options: TestPartyOptions = {},
): Promise<TestParty> {
  const address = createAddress(name, deviceId);
  const base = options.provider ?? defaultProvider;
  const provider = options.seed === undefined ? base : deterministicProvider(base, options.seed);
  const store = await InMemoryProtocolStore.create({ ...options.store, provider });
  return {
    name,
    deviceId,
    address,
    store,
    provider,
    bundle: (bundleOptions = {}) => createPreKeyBundle(store, { ...bundleOptions, deviceId, provider }),
    cipher: (peer, cipherOptions = {}) => {
      const remote = 'address' in peer ? peer.address : peer;
      return new SessionCipher(store, remote, { provider, localAddress: address, ...cipherOptions });
    },
  };
}
