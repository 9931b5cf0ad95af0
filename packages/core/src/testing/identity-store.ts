// Public classes come through the package name so this entry shares them with the main entry.
import {
  type CryptoProvider,
  copyBytes,
  generateRegistrationId,
  type IdentityBackend,
  type IdentityChangeEvent,
  IdentityKeyPair,
  KeyValueIdentityKeyStore,
  type KeyValueIdentityKeyStoreOptions,
  redact,
  resolveProvider,
  type TrustPolicy,
} from '@e2ee-kit/core';

function checkKey(key: unknown): void {
  if (typeof key !== 'string') throw new TypeError('key must be a string');
}

/** An in-memory backend that stores copies of bytes, so tests exercise the real codecs. */
export class MemoryBackend implements IdentityBackend {
  readonly #map = new Map<string, Uint8Array>();
  async get(key: string): Promise<Uint8Array | undefined> {
    checkKey(key);
    const v = this.#map.get(key);
    return v && copyBytes(v);
  }
  async set(key: string, value: Uint8Array): Promise<void> {
    checkKey(key);
    if (!(value instanceof Uint8Array)) throw new TypeError('value must be a Uint8Array');
    this.#map.set(key, copyBytes(value));
  }
  async delete(key: string): Promise<void> {
    checkKey(key);
    this.#map.delete(key);
  }
  /** Writes `value` only if the record still holds `expected` (`undefined`: no record). */
  async compareAndSet(key: string, expected: Uint8Array | undefined, value: Uint8Array): Promise<boolean> {
    checkKey(key);
    if (!(value instanceof Uint8Array)) throw new TypeError('value must be a Uint8Array');
    const stored = this.#map.get(key);
    const same =
      stored === undefined || expected === undefined
        ? stored === expected
        : stored.length === expected.length && stored.every((b, i) => b === expected[i]);
    if (same) this.#map.set(key, copyBytes(value));
    return same;
  }
  /** Snapshot of every stored record (tests compare these byte for byte). */
  snapshot(): Map<string, Uint8Array> {
    return new Map([...this.#map].map(([k, v]) => [k, v.slice()]));
  }
}

redact(MemoryBackend, '[MemoryBackend]');

export interface InMemoryIdentityKeyStoreOptions {
  provider?: CryptoProvider;
  identityKeyPair?: IdentityKeyPair;
  registrationId?: number;
  policy?: TrustPolicy;
  onIdentityChange?: (event: IdentityChangeEvent) => void;
}

export class InMemoryIdentityKeyStore extends KeyValueIdentityKeyStore {
  readonly backend: MemoryBackend;

  private constructor(
    backend: MemoryBackend,
    options: InMemoryIdentityKeyStoreOptions & { identityKeyPair: IdentityKeyPair; registrationId: number },
  ) {
    if (!(backend instanceof MemoryBackend)) throw new TypeError('use InMemoryIdentityKeyStore.create()');
    // Fields are picked, never spread: a huge array passed as options must not be copied.
    const base: KeyValueIdentityKeyStoreOptions = {
      identityKeyPair: options.identityKeyPair,
      registrationId: options.registrationId,
      backend,
    };
    if (options.policy !== undefined) base.policy = options.policy;
    if (options.onIdentityChange !== undefined) base.onIdentityChange = options.onIdentityChange;
    super(base);
    this.backend = backend;
  }

  static async create(options: InMemoryIdentityKeyStoreOptions = {}): Promise<InMemoryIdentityKeyStore> {
    if (
      options === null ||
      typeof options !== 'object' ||
      Array.isArray(options) ||
      ArrayBuffer.isView(options)
    )
      throw new TypeError('options must be an object');
    const provider = resolveProvider(options.provider);
    const identityKeyPair = options.identityKeyPair ?? (await IdentityKeyPair.generate(provider));
    const registrationId = options.registrationId ?? generateRegistrationId((n) => provider.randomBytes(n));
    const { policy, onIdentityChange } = options;
    return new InMemoryIdentityKeyStore(new MemoryBackend(), {
      identityKeyPair,
      registrationId,
      ...(policy !== undefined ? { policy } : {}),
      ...(onIdentityChange !== undefined ? { onIdentityChange } : {}),
    });
  }
}
