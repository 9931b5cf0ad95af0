/**
 * The packages' store interfaces over the client's byte storage. Every record is persisted as the
 * bytes of its own `serialize()`; nothing here understands their contents.
 *
 * All methods read and write through the client's current `Transaction` (one per client operation),
 * so the writes of a decrypt are committed together with the decrypted message.
 */
import {
  type Address,
  addressToString,
  type Direction,
  type IdentityBackend,
  type IdentityChange,
  IdentityKeyPair,
  KeyValueIdentityKeyStore,
  type PublicKey,
  toHex,
} from '@e2ee-kit/core';
import {
  KyberPreKeyRecord,
  PreKeyRecord,
  PreKeyStateRecord,
  type ProtocolStore,
  SessionRecord,
  SignedPreKeyRecord,
} from '@e2ee-kit/ratchet';
import { SenderKeyRecord, type SenderKeyStore } from '@e2ee-kit/sender-keys';
import type { Transaction } from './storage.js';

export const KEY = {
  identityPair: 'local:identity-key-pair',
  registrationId: 'local:registration-id',
  session: (a: Address) => `session:${addressToString(a)}`,
  preKey: (id: number) => `prekey:${id}`,
  signed: (id: number) => `signed-prekey:${id}`,
  kyber: (id: number) => `kyber-prekey:${id}`,
  lastResortUse: (kyberId: number, signedId: number, baseKey: PublicKey) =>
    `kyber-last-resort-use:${kyberId}:${signedId}:${toHex(baseKey.serialize())}`,
  preKeyState: 'prekey-state',
  senderKey: (a: Address, distributionId: string) => `sender-key:${addressToString(a)}:${distributionId}`,
} as const;

export interface StoreHooks {
  /** The transaction of the operation that is running. */
  readonly tx: () => Transaction;
  /** Sending to `address` with `key` is allowed (the client's verification rule). */
  readonly trustedForSending: (address: Address, key: PublicKey) => Promise<boolean>;
  /** A contact's stored identity key was replaced by another one. */
  readonly onIdentityChange: (address: Address) => void;
}

/** `ProtocolStore` (ratchet) + `SenderKeyStore` (sender-keys) over the client's transaction. */
export class ClientProtocolStore implements ProtocolStore, SenderKeyStore {
  readonly #hooks: StoreHooks;
  readonly #identity: KeyValueIdentityKeyStore;

  constructor(identityKeyPair: IdentityKeyPair, registrationId: number, hooks: StoreHooks) {
    this.#hooks = hooks;
    const backend: IdentityBackend = {
      get: (key) => hooks.tx().get(`identity-store:${key}`),
      set: async (key, value) => hooks.tx().set(`identity-store:${key}`, value),
      delete: async (key) => hooks.tx().delete(`identity-store:${key}`),
    };
    this.#identity = new KeyValueIdentityKeyStore({
      identityKeyPair,
      registrationId,
      backend,
      onIdentityChange: (e) => hooks.onIdentityChange(e.address),
      // Receiving is always accepted (the change is reported and the safety number changes);
      // sending to a contact whose key differs from the one the user verified needs a new
      // verification first, as Signal does.
      policy: async (address, _stored, presented, direction: Direction) =>
        direction === 'receiving' ? true : hooks.trustedForSending(address, presented),
    });
  }

  static async loadIdentity(
    tx: Transaction,
  ): Promise<{ pair: IdentityKeyPair; registrationId: number } | null> {
    const pair = await tx.get(KEY.identityPair);
    const reg = await tx.get(KEY.registrationId);
    if (!pair || !reg) return null;
    return {
      pair: IdentityKeyPair.deserialize(pair),
      registrationId: new DataView(reg.buffer, reg.byteOffset, reg.byteLength).getUint32(0),
    };
  }

  static saveIdentity(tx: Transaction, pair: IdentityKeyPair, registrationId: number): void {
    tx.set(KEY.identityPair, pair.serialize());
    const reg = new Uint8Array(4);
    new DataView(reg.buffer).setUint32(0, registrationId);
    tx.set(KEY.registrationId, reg);
  }

  get #tx(): Transaction {
    return this.#hooks.tx();
  }

  // IdentityKeyStore
  getIdentityKeyPair(): Promise<IdentityKeyPair> {
    return this.#identity.getIdentityKeyPair();
  }
  getLocalRegistrationId(): Promise<number> {
    return this.#identity.getLocalRegistrationId();
  }
  saveIdentity(address: Address, identityKey: PublicKey): Promise<IdentityChange> {
    return this.#identity.saveIdentity(address, identityKey);
  }
  isTrustedIdentity(address: Address, identityKey: PublicKey, direction: Direction): Promise<boolean> {
    return this.#identity.isTrustedIdentity(address, identityKey, direction);
  }
  getIdentity(address: Address): Promise<PublicKey | null> {
    return this.#identity.getIdentity(address);
  }
  removeIdentity(address: Address): Promise<void> {
    return this.#identity.removeIdentity(address);
  }

  // SessionStore
  async getSession(address: Address): Promise<SessionRecord | null> {
    const b = await this.#tx.get(KEY.session(address));
    return b ? SessionRecord.deserialize(b) : null;
  }
  async saveSession(address: Address, record: SessionRecord): Promise<void> {
    this.#tx.set(KEY.session(address), record.serialize());
  }
  async removeSession(address: Address): Promise<void> {
    this.#tx.delete(KEY.session(address));
  }

  // PreKeyStore
  async getPreKey(id: number): Promise<PreKeyRecord | null> {
    const b = await this.#tx.get(KEY.preKey(id));
    return b ? PreKeyRecord.deserialize(b) : null;
  }
  async savePreKey(id: number, record: PreKeyRecord): Promise<void> {
    this.#tx.set(KEY.preKey(id), record.serialize());
  }
  async removePreKey(id: number): Promise<void> {
    this.#tx.delete(KEY.preKey(id));
  }

  // SignedPreKeyStore
  async getSignedPreKey(id: number): Promise<SignedPreKeyRecord | null> {
    const b = await this.#tx.get(KEY.signed(id));
    return b ? SignedPreKeyRecord.deserialize(b) : null;
  }
  async saveSignedPreKey(id: number, record: SignedPreKeyRecord): Promise<void> {
    this.#tx.set(KEY.signed(id), record.serialize());
  }
  async removeSignedPreKey(id: number): Promise<void> {
    this.#tx.delete(KEY.signed(id));
  }

  // KyberPreKeyStore
  async getKyberPreKey(id: number): Promise<KyberPreKeyRecord | null> {
    const b = await this.#tx.get(KEY.kyber(id));
    return b ? KyberPreKeyRecord.deserialize(b) : null;
  }
  async saveKyberPreKey(id: number, record: KyberPreKeyRecord): Promise<void> {
    this.#tx.set(KEY.kyber(id), record.serialize());
  }
  async removeKyberPreKey(id: number): Promise<void> {
    this.#tx.delete(KEY.kyber(id));
  }
  async markKyberPreKeyUsed(
    kyberPreKeyId: number,
    signedPreKeyId: number,
    baseKey: PublicKey,
  ): Promise<void> {
    const b = await this.#tx.get(KEY.kyber(kyberPreKeyId));
    if (!b) return;
    if (!KyberPreKeyRecord.deserialize(b).lastResort) {
      this.#tx.delete(KEY.kyber(kyberPreKeyId));
      return;
    }
    // Last-resort key: kept, but the same (key, signed prekey, base key) twice is a replay.
    const use = KEY.lastResortUse(kyberPreKeyId, signedPreKeyId, baseKey);
    if (await this.#tx.get(use)) throw new Error('replayed PreKey message on the last-resort Kyber key');
    this.#tx.set(use, new Uint8Array([1]));
  }

  // PreKeyStateStore
  async getPreKeyState(): Promise<PreKeyStateRecord | null> {
    const b = await this.#tx.get(KEY.preKeyState);
    return b ? PreKeyStateRecord.deserialize(b) : null;
  }
  async savePreKeyState(record: PreKeyStateRecord): Promise<void> {
    this.#tx.set(KEY.preKeyState, record.serialize());
  }

  // SenderKeyStore
  async loadSenderKey(sender: Address, distributionId: string): Promise<SenderKeyRecord | undefined> {
    const b = await this.#tx.get(KEY.senderKey(sender, distributionId));
    return b ? SenderKeyRecord.deserialize(b) : undefined;
  }
  async storeSenderKey(sender: Address, distributionId: string, record: SenderKeyRecord): Promise<void> {
    this.#tx.set(KEY.senderKey(sender, distributionId), record.serialize());
  }
}
