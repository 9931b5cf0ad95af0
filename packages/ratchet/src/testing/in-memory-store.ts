// Public classes come through the package name so this entry shares them with the main entry.
import {
  type Address,
  addressToString,
  type CryptoProvider,
  copyBytes,
  type Direction,
  defaultProvider,
  E2eeError,
  generateRegistrationId,
  type IdentityBackend,
  type IdentityChange,
  type IdentityChangeEvent,
  type IdentityEntry,
  IdentityKeyPair,
  KeyValueIdentityKeyStore,
  type PublicKey,
  redact,
  type SaveIdentityOptions,
  type TrustPolicy,
  toHex,
} from '@e2ee-kit/core';
import {
  KyberPreKeyRecord,
  MAX_LAST_RESORT_USES,
  PreKeyRecord,
  PreKeyStateRecord,
  type ProtocolStore,
  RatchetErrorCode,
  SessionRecord,
  SignedPreKeyRecord,
} from '@e2ee-kit/ratchet';

export interface InMemoryProtocolStoreOptions {
  provider?: CryptoProvider;
  identityKeyPair?: IdentityKeyPair;
  registrationId?: number;
  policy?: TrustPolicy;
  onIdentityChange?: (event: IdentityChangeEvent) => void;
  /**
   * Called (and awaited) before every store method runs, with the method name: throw to inject a store
   * failure, await to add latency. The method has no effect when this throws.
   */
  onCall?: (method: string) => void | Promise<void>;
  /** Replay markers kept per last-resort Kyber pre-key (default `MAX_LAST_RESORT_USES`; tests lower it). */
  maxLastResortUses?: number;
}

/**
 * A complete `ProtocolStore` in memory that keeps only **bytes**: every save serializes the record and
 * every get deserializes it, so tests exercise the real codecs and never share objects with the code
 * under test. `snapshot()` returns every stored record for byte-for-byte comparisons.
 */
export class InMemoryProtocolStore implements ProtocolStore {
  readonly #data = new Map<string, Uint8Array>();
  readonly #identity: KeyValueIdentityKeyStore;
  readonly #onCall: ((method: string) => void | Promise<void>) | undefined;
  /** `(kyberId, signedId, baseKey)` triples seen for last-resort Kyber keys. */
  readonly #usedLastResort = new Set<string>();
  readonly #maxLastResortUses: number;

  private constructor(
    options: InMemoryProtocolStoreOptions & { identityKeyPair: IdentityKeyPair; registrationId: number },
  ) {
    const data = this.#data;
    const backend: IdentityBackend = {
      async get(key) {
        return data.get(key)?.slice();
      },
      async set(key, value) {
        data.set(key, copyBytes(value));
      },
      async delete(key) {
        data.delete(key);
      },
    };
    const idOptions: ConstructorParameters<typeof KeyValueIdentityKeyStore>[0] = {
      identityKeyPair: options.identityKeyPair,
      registrationId: options.registrationId,
      backend,
    };
    if (options.policy !== undefined) idOptions.policy = options.policy;
    if (options.onIdentityChange !== undefined) idOptions.onIdentityChange = options.onIdentityChange;
    this.#identity = new KeyValueIdentityKeyStore(idOptions);
    this.#onCall = options.onCall;
    this.#maxLastResortUses = options.maxLastResortUses ?? MAX_LAST_RESORT_USES;
  }

  static async create(options: InMemoryProtocolStoreOptions = {}): Promise<InMemoryProtocolStore> {
    const provider = options.provider ?? defaultProvider;
    const identityKeyPair = options.identityKeyPair ?? (await IdentityKeyPair.generate(provider));
    const registrationId = options.registrationId ?? generateRegistrationId((n) => provider.randomBytes(n));
    return new InMemoryProtocolStore({ ...options, identityKeyPair, registrationId });
  }

  /** Copies of every stored record (identities, sessions, pre-keys, pre-key state), keyed by kind and id. */
  snapshot(): Map<string, Uint8Array> {
    const out = new Map<string, Uint8Array>();
    for (const [k, v] of this.#data) out.set(k, v.slice());
    for (const k of this.#usedLastResort) out.set(`used-last-resort:${k}`, new Uint8Array(0));
    return out;
  }

  /** Replaces every stored record with those of a `snapshot()` (of this store or one with the same identity). */
  restore(snapshot: ReadonlyMap<string, Uint8Array>): void {
    this.#data.clear();
    this.#usedLastResort.clear();
    for (const [k, v] of snapshot) {
      if (k.startsWith('used-last-resort:')) this.#usedLastResort.add(k.slice('used-last-resort:'.length));
      else this.#data.set(k, copyBytes(v));
    }
  }

  async #call(method: string): Promise<void> {
    if (this.#onCall) await this.#onCall(method);
  }

  // Identity (delegates to core's KeyValueIdentityKeyStore over the same byte map).
  async getIdentityKeyPair(): Promise<IdentityKeyPair> {
    await this.#call('getIdentityKeyPair');
    return this.#identity.getIdentityKeyPair();
  }
  async getLocalRegistrationId(): Promise<number> {
    await this.#call('getLocalRegistrationId');
    return this.#identity.getLocalRegistrationId();
  }
  async saveIdentity(
    address: Address,
    identityKey: PublicKey,
    options?: SaveIdentityOptions,
  ): Promise<IdentityChange> {
    await this.#call('saveIdentity');
    return this.#identity.saveIdentity(address, identityKey, options);
  }
  async getIdentityEntry(address: Address): Promise<IdentityEntry> {
    await this.#call('getIdentityEntry');
    return this.#identity.getIdentityEntry(address);
  }
  async restoreIdentityEntry(address: Address, entry: IdentityEntry, saved?: PublicKey): Promise<void> {
    await this.#call('restoreIdentityEntry');
    return this.#identity.restoreIdentityEntry(address, entry, saved);
  }
  notifyIdentityChange(event: IdentityChangeEvent): void {
    this.#identity.notifyIdentityChange(event);
  }
  async isTrustedIdentity(address: Address, identityKey: PublicKey, direction: Direction): Promise<boolean> {
    await this.#call('isTrustedIdentity');
    return this.#identity.isTrustedIdentity(address, identityKey, direction);
  }
  async getIdentity(address: Address): Promise<PublicKey | null> {
    await this.#call('getIdentity');
    return this.#identity.getIdentity(address);
  }
  async removeIdentity(address: Address): Promise<void> {
    await this.#call('removeIdentity');
    return this.#identity.removeIdentity(address);
  }
  /** Under `blockOnChange`: mark `identityKey` as verified for `address`. */
  async approve(address: Address, identityKey: PublicKey): Promise<void> {
    return this.#identity.approve(address, identityKey);
  }

  // Sessions
  async getSession(address: Address): Promise<SessionRecord | null> {
    await this.#call('getSession');
    const b = this.#data.get(`session:${addressToString(address)}`);
    return b ? SessionRecord.deserialize(b) : null;
  }
  async saveSession(address: Address, record: SessionRecord): Promise<void> {
    await this.#call('saveSession');
    this.#data.set(`session:${addressToString(address)}`, record.serialize());
  }
  async removeSession(address: Address): Promise<void> {
    await this.#call('removeSession');
    this.#data.delete(`session:${addressToString(address)}`);
  }

  // One-time pre-keys
  async getPreKey(id: number): Promise<PreKeyRecord | null> {
    await this.#call('getPreKey');
    const b = this.#data.get(`prekey:${id}`);
    return b ? PreKeyRecord.deserialize(b) : null;
  }
  async savePreKey(id: number, record: PreKeyRecord): Promise<void> {
    await this.#call('savePreKey');
    this.#data.set(`prekey:${id}`, record.serialize());
  }
  async removePreKey(id: number): Promise<void> {
    await this.#call('removePreKey');
    this.#data.delete(`prekey:${id}`);
  }

  // Signed pre-keys
  async getSignedPreKey(id: number): Promise<SignedPreKeyRecord | null> {
    await this.#call('getSignedPreKey');
    const b = this.#data.get(`signed:${id}`);
    return b ? SignedPreKeyRecord.deserialize(b) : null;
  }
  async saveSignedPreKey(id: number, record: SignedPreKeyRecord): Promise<void> {
    await this.#call('saveSignedPreKey');
    this.#data.set(`signed:${id}`, record.serialize());
  }
  async removeSignedPreKey(id: number): Promise<void> {
    await this.#call('removeSignedPreKey');
    this.#data.delete(`signed:${id}`);
    this.#forgetUsed((_kyber, signed) => signed === id);
  }

  /** Last-resort triples naming a removed signed or Kyber pre-key can never match again. */
  #forgetUsed(match: (kyber: number, signed: number) => boolean): void {
    for (const key of this.#usedLastResort) {
      const [kyber, signed] = key.split(':', 2).map(Number);
      if (match(kyber as number, signed as number)) this.#usedLastResort.delete(key);
    }
  }

  // Kyber pre-keys
  async getKyberPreKey(id: number): Promise<KyberPreKeyRecord | null> {
    await this.#call('getKyberPreKey');
    const b = this.#data.get(`kyber:${id}`);
    return b ? KyberPreKeyRecord.deserialize(b) : null;
  }
  async saveKyberPreKey(id: number, record: KyberPreKeyRecord): Promise<void> {
    await this.#call('saveKyberPreKey');
    this.#data.set(`kyber:${id}`, record.serialize());
  }
  async removeKyberPreKey(id: number): Promise<void> {
    await this.#call('removeKyberPreKey');
    this.#data.delete(`kyber:${id}`);
    this.#forgetUsed((kyber) => kyber === id);
  }
  /** One-time keys are deleted; for last-resort keys a repeated (ids, base key) triple is refused. */
  async markKyberPreKeyUsed(
    kyberPreKeyId: number,
    signedPreKeyId: number,
    baseKey: PublicKey,
  ): Promise<void> {
    await this.#call('markKyberPreKeyUsed');
    const b = this.#data.get(`kyber:${kyberPreKeyId}`);
    if (!b) return;
    if (!KyberPreKeyRecord.deserialize(b).lastResort) {
      this.#data.delete(`kyber:${kyberPreKeyId}`);
      return;
    }
    const key = `${kyberPreKeyId}:${signedPreKeyId}:${toHex(baseKey.serialize())}`;
    if (this.#usedLastResort.has(key))
      throw new Error('last-resort Kyber pre-key reused with the same base key');
    // Bounded: anyone with the public bundle can add a triple per message. Refuse, never forget one.
    let uses = 0;
    for (const k of this.#usedLastResort) if (k.startsWith(`${kyberPreKeyId}:`)) uses++;
    if (uses >= this.#maxLastResortUses)
      throw new E2eeError(
        RatchetErrorCode.LastResortKyberPreKeyExhausted,
        `last-resort Kyber pre-key ${kyberPreKeyId} has ${uses} uses: rotate it`,
      );
    this.#usedLastResort.add(key);
  }

  // Pre-key manager state
  async getPreKeyState(): Promise<PreKeyStateRecord | null> {
    await this.#call('getPreKeyState');
    const b = this.#data.get('prekey-state');
    return b ? PreKeyStateRecord.deserialize(b) : null;
  }
  async savePreKeyState(record: PreKeyStateRecord): Promise<void> {
    await this.#call('savePreKeyState');
    this.#data.set('prekey-state', record.serialize());
  }
}
redact(InMemoryProtocolStore, '[InMemoryProtocolStore]');
