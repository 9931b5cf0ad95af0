// Version-adaptive harness around @signalapp/libsignal-client 0.72.1, 0.90.0 and 0.103.0: in-memory
// stores (keeping serialized bytes, like ours), a "party" with identity, registration id and prekeys,
// bundles exported as raw parts (plain bytes, so our own PreKeyBundle can be built from them and
// theirs from ours), and encrypt/decrypt with the argument list each version expects (spec §7).
//
// The three builds have different TypeScript types (Buffer before 0.75, extra arguments since
// 0.91/0.93, a 1-argument markKyberPreKeyUsed before 0.81), so the harness types every build as the
// 0.103.0 module and dispatches the differing calls through `LibFeatures`.
import type {
  CiphertextMessage,
  Direction,
  IdentityKeyPair,
  KyberPreKeyRecord,
  PreKeyBundle,
  PreKeyRecord,
  PrivateKey,
  ProtocolAddress,
  PublicKey,
  SessionRecord,
  SignedPreKeyRecord,
} from '@signalapp/libsignal-client';
import { lib72, lib90, lib103 } from './builds.js';

/** The 0.103.0 module type, used as the structural type of every build. */
export type LibsignalModule = typeof lib103;

export type LibVersion = '0.103.0' | '0.90.0' | '0.72.1';

/** What differs between the builds (spec §7). */
export interface LibFeatures {
  /** `signalEncrypt` takes the local address after the remote one (0.91+). */
  readonly encryptLocalAddress: boolean;
  /** `processPreKeyBundle`, `signalDecrypt`, `signalDecryptPreKey` take the local address (0.93+ / 0.91+). */
  readonly bundleLocalAddress: boolean;
  readonly decryptLocalAddress: boolean;
  /** A Kyber prekey is mandatory in bundles (0.75+); X3DH (version 3) is refused. */
  readonly kyberRequired: boolean;
  /** SPQR is mandatory (0.92+). */
  readonly spqrRequired: boolean;
  /** `markKyberPreKeyUsed(kyberId, signedPreKeyId, baseKey)` (0.81+) instead of `(kyberId)`. */
  readonly markKyberThreeArgs: boolean;
  /** The build wants Node `Buffer`s (before 0.75). */
  readonly wantsBuffer: boolean;
}

export interface LibHandle {
  readonly version: LibVersion;
  /** e.g. `lib103` — short label for test names. */
  readonly label: string;
  readonly mod: LibsignalModule;
  readonly features: LibFeatures;
}

function featuresOf(minor: number): LibFeatures {
  return {
    encryptLocalAddress: minor >= 91,
    decryptLocalAddress: minor >= 91,
    bundleLocalAddress: minor >= 93,
    kyberRequired: minor >= 75,
    spqrRequired: minor >= 92,
    markKyberThreeArgs: minor >= 81,
    wantsBuffer: minor < 75,
  };
}

function handle(version: LibVersion, label: string, mod: unknown): LibHandle {
  const minor = Number(version.split('.')[1]);
  return { version, label, mod: mod as LibsignalModule, features: featuresOf(minor) };
}

export const libs: Readonly<Record<'lib103' | 'lib90' | 'lib72', LibHandle>> = {
  lib103: handle('0.103.0', 'lib103', lib103),
  lib90: handle('0.90.0', 'lib90', lib90),
  lib72: handle('0.72.1', 'lib72', lib72),
};

/** Every build, newest first. */
export const allLibs: readonly LibHandle[] = [libs.lib103, libs.lib90, libs.lib72];

// ---------------------------------------------------------------------------------------------
// Raw parts (plain bytes; no libsignal or e2ee-kit types)

export interface AddressLike {
  readonly name: string;
  readonly deviceId: number;
}

/** A bundle as a server would return it: registration id, device id and public keys as bytes. */
export interface RawPreKeyBundle {
  readonly registrationId: number;
  readonly deviceId: number;
  /** 33 bytes, `0x05 ‖ u`. */
  readonly identityKey: Uint8Array;
  readonly preKey?: { readonly id: number; readonly publicKey: Uint8Array } | undefined;
  readonly signedPreKey: {
    readonly id: number;
    readonly publicKey: Uint8Array;
    readonly signature: Uint8Array;
  };
  /** Kyber-1024 (`0x08 ‖ 1568 bytes`); absent for a legacy X3DH bundle. */
  readonly kyberPreKey?:
    | { readonly id: number; readonly publicKey: Uint8Array; readonly signature: Uint8Array }
    | undefined;
}

/** A message as it travels: the type tag goes outside the bytes (spec §4.1). */
export interface RawWireMessage {
  readonly type: 'prekey' | 'whisper';
  readonly body: Uint8Array;
}

/** A fresh plain `Uint8Array` copy (never a Buffer), so results compare equal to ours. */
export function plain(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

function hexKey(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

// ---------------------------------------------------------------------------------------------
// Stores

/** Call log of the stores, to check what libsignal asked for (e.g. markKyberPreKeyUsed arguments). */
export interface StoreEvent {
  readonly op: string;
  readonly args: readonly unknown[];
}

export interface StoreOptions {
  /** 'bytes' (default): records are kept serialized, like our in-memory stores. 'objects': kept as is. */
  readonly storage?: 'bytes' | 'objects';
  /** Trust policy for remote identities: 'tofu' (default: unknown or unchanged keys) or 'all'. */
  readonly trust?: 'tofu' | 'all';
}

/** The in-memory stores of one party, as instances of the build's abstract store classes. */
export interface LibsignalStores {
  readonly session: InstanceType<LibsignalModule['SessionStore']> & SessionStoreExtras;
  readonly identity: InstanceType<LibsignalModule['IdentityKeyStore']> & IdentityStoreExtras;
  readonly preKey: InstanceType<LibsignalModule['PreKeyStore']> & CountedStore;
  readonly signedPreKey: InstanceType<LibsignalModule['SignedPreKeyStore']> & CountedStore;
  readonly kyberPreKey: InstanceType<LibsignalModule['KyberPreKeyStore']> & CountedStore;
  readonly events: StoreEvent[];
}

interface SessionStoreExtras {
  /** Serialized record for `addr`, or null. */
  sessionBytes(addr: AddressLike): Uint8Array | null;
  deleteSession(addr: AddressLike): void;
  /** Puts back a record taken with `sessionBytes` (benchmarks replay one decrypt from one state). */
  restoreSession(addr: AddressLike, bytes: Uint8Array): void;
}

interface IdentityStoreExtras {
  identityBytes(addr: AddressLike): Uint8Array | null;
}

interface CountedStore {
  readonly size: number;
  ids(): number[];
}

function addrKey(name: string, deviceId: number): string {
  return `${name}.${deviceId}`;
}

function nativeAddrKey(addr: ProtocolAddress): string {
  return addrKey(addr.name(), addr.deviceId());
}

/** Wraps bytes the way the build wants them (Buffer for 0.72). */
export function toLib(lib: LibHandle, bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  if (lib.features.wantsBuffer) return Buffer.from(bytes) as unknown as Uint8Array<ArrayBuffer>;
  return new Uint8Array(bytes);
}

type Ctor<T> = abstract new () => T;

/**
 * In-memory stores for `lib`. Subclasses the build's abstract store classes, so 0.72's
 * native-handle bridge methods (`_saveSession` …) are inherited and call ours.
 */
export function createStores(
  lib: LibHandle,
  identityKeyPair: { publicKey: PublicKey; privateKey: PrivateKey },
  registrationId: number,
  options: StoreOptions = {},
): LibsignalStores {
  const m = lib.mod;
  const storage = options.storage ?? 'bytes';
  const trust = options.trust ?? 'tofu';
  const events: StoreEvent[] = [];

  // A record kept either as bytes or as the object; `load` rebuilds the object for 'bytes'.
  interface Kept<T> {
    bytes?: Uint8Array;
    obj?: T;
  }
  const keep = <T extends { serialize(): Uint8Array }>(record: T): Kept<T> =>
    storage === 'bytes' ? { bytes: plain(record.serialize()) } : { obj: record };
  const load = <T>(kept: Kept<T>, deserialize: (b: Uint8Array<ArrayBuffer>) => T): T =>
    kept.obj ?? deserialize(toLib(lib, kept.bytes!));

  const sessions = new Map<string, Kept<SessionRecord>>();
  class Sessions extends (m.SessionStore as unknown as Ctor<object>) {
    async saveSession(name: ProtocolAddress, record: SessionRecord): Promise<void> {
      events.push({ op: 'saveSession', args: [nativeAddrKey(name)] });
      sessions.set(nativeAddrKey(name), keep(record));
    }
    async getSession(name: ProtocolAddress): Promise<SessionRecord | null> {
      const kept = sessions.get(nativeAddrKey(name));
      return kept ? load(kept, (b) => m.SessionRecord.deserialize(b)) : null;
    }
    async getExistingSessions(addresses: ProtocolAddress[]): Promise<SessionRecord[]> {
      return Promise.all(
        addresses.map(async (a) => {
          const s = await this.getSession(a);
          if (!s) throw new Error(`no session for ${nativeAddrKey(a)}`);
          return s;
        }),
      );
    }
    sessionBytes(addr: AddressLike): Uint8Array | null {
      const kept = sessions.get(addrKey(addr.name, addr.deviceId));
      if (!kept) return null;
      return kept.bytes ? plain(kept.bytes) : plain(kept.obj!.serialize());
    }
    deleteSession(addr: AddressLike): void {
      sessions.delete(addrKey(addr.name, addr.deviceId));
    }
    restoreSession(addr: AddressLike, bytes: Uint8Array): void {
      const kept: Kept<SessionRecord> =
        storage === 'bytes'
          ? { bytes: plain(bytes) }
          : { obj: m.SessionRecord.deserialize(toLib(lib, bytes)) };
      sessions.set(addrKey(addr.name, addr.deviceId), kept);
    }
  }

  const identities = new Map<string, Uint8Array>();
  class Identities extends (m.IdentityKeyStore as unknown as Ctor<object>) {
    async getIdentityKey(): Promise<PrivateKey> {
      return identityKeyPair.privateKey;
    }
    async getLocalRegistrationId(): Promise<number> {
      return registrationId;
    }
    async saveIdentity(name: ProtocolAddress, key: PublicKey): Promise<number> {
      const k = nativeAddrKey(name);
      const bytes = plain(key.serialize());
      const old = identities.get(k);
      identities.set(k, bytes);
      events.push({ op: 'saveIdentity', args: [k] });
      // IdentityChange: NewOrUnchanged = 0, ReplacedExisting = 1 (same values in every build).
      return old !== undefined && hexKey(old) !== hexKey(bytes) ? 1 : 0;
    }
    async isTrustedIdentity(name: ProtocolAddress, key: PublicKey, _direction: Direction): Promise<boolean> {
      if (trust === 'all') return true;
      const old = identities.get(nativeAddrKey(name));
      return old === undefined || hexKey(old) === hexKey(key.serialize());
    }
    async getIdentity(name: ProtocolAddress): Promise<PublicKey | null> {
      const old = identities.get(nativeAddrKey(name));
      return old ? m.PublicKey.deserialize(toLib(lib, old)) : null;
    }
    // 0.72 has no default getIdentityKeyPair; harmless override elsewhere.
    async getIdentityKeyPair(): Promise<IdentityKeyPair> {
      return new m.IdentityKeyPair(identityKeyPair.publicKey, identityKeyPair.privateKey);
    }
    identityBytes(addr: AddressLike): Uint8Array | null {
      const old = identities.get(addrKey(addr.name, addr.deviceId));
      return old ? plain(old) : null;
    }
  }

  const preKeys = new Map<number, Kept<PreKeyRecord>>();
  class PreKeys extends (m.PreKeyStore as unknown as Ctor<object>) {
    async savePreKey(id: number, record: PreKeyRecord): Promise<void> {
      preKeys.set(id, keep(record));
    }
    async getPreKey(id: number): Promise<PreKeyRecord> {
      const kept = preKeys.get(id);
      if (!kept) throw new Error(`no prekey ${id}`);
      return load(kept, (b) => m.PreKeyRecord.deserialize(b));
    }
    async removePreKey(id: number): Promise<void> {
      events.push({ op: 'removePreKey', args: [id] });
      preKeys.delete(id);
    }
    get size(): number {
      return preKeys.size;
    }
    ids(): number[] {
      return [...preKeys.keys()];
    }
  }

  const signedPreKeys = new Map<number, Kept<SignedPreKeyRecord>>();
  class SignedPreKeys extends (m.SignedPreKeyStore as unknown as Ctor<object>) {
    async saveSignedPreKey(id: number, record: SignedPreKeyRecord): Promise<void> {
      signedPreKeys.set(id, keep(record));
    }
    async getSignedPreKey(id: number): Promise<SignedPreKeyRecord> {
      const kept = signedPreKeys.get(id);
      if (!kept) throw new Error(`no signed prekey ${id}`);
      return load(kept, (b) => m.SignedPreKeyRecord.deserialize(b));
    }
    get size(): number {
      return signedPreKeys.size;
    }
    ids(): number[] {
      return [...signedPreKeys.keys()];
    }
  }

  const kyberPreKeys = new Map<number, Kept<KyberPreKeyRecord>>();
  class KyberPreKeys extends (m.KyberPreKeyStore as unknown as Ctor<object>) {
    async saveKyberPreKey(id: number, record: KyberPreKeyRecord): Promise<void> {
      kyberPreKeys.set(id, keep(record));
    }
    async getKyberPreKey(id: number): Promise<KyberPreKeyRecord> {
      const kept = kyberPreKeys.get(id);
      if (!kept) throw new Error(`no kyber prekey ${id}`);
      return load(kept, (b) => m.KyberPreKeyRecord.deserialize(b));
    }
    async markKyberPreKeyUsed(id: number, signedPreKeyId?: number, baseKey?: PublicKey): Promise<void> {
      events.push({
        op: 'markKyberPreKeyUsed',
        args: baseKey === undefined ? [id] : [id, signedPreKeyId, plain(baseKey.serialize())],
      });
    }
    get size(): number {
      return kyberPreKeys.size;
    }
    ids(): number[] {
      return [...kyberPreKeys.keys()];
    }
  }

  // The casts re-type the subclasses as the build's store classes (their members are ours).
  return {
    session: new Sessions() as unknown as LibsignalStores['session'],
    identity: new Identities() as unknown as LibsignalStores['identity'],
    preKey: new PreKeys() as unknown as LibsignalStores['preKey'],
    signedPreKey: new SignedPreKeys() as unknown as LibsignalStores['signedPreKey'],
    kyberPreKey: new KyberPreKeys() as unknown as LibsignalStores['kyberPreKey'],
    events,
  };
}

// ---------------------------------------------------------------------------------------------
// Parties

export interface PartyOptions extends StoreOptions {
  /** Address name; a UUID string makes 0.91+ write/check the `addresses` field (spec §4.3). */
  readonly name?: string;
  readonly deviceId?: number;
  readonly registrationId?: number;
  /** Another device of the same account: this party takes that party's identity key pair (Signal's devices share it). */
  readonly sameIdentityAs?: LibsignalParty | undefined;
}

export interface BundleOptions {
  /** Include a one-time EC prekey (default true). */
  readonly oneTimePreKey?: boolean;
  /** Include a Kyber-1024 prekey (default true). false = legacy X3DH bundle (0.72.1 only accepts it). */
  readonly kyber?: boolean;
  /** Generate a new signed prekey (default: only for the first bundle). */
  readonly newSignedPreKey?: boolean;
}

let nameCounter = 0;

/**
 * One libsignal-client device: identity, registration id, stores, prekeys it hands out as raw
 * bundles, and encrypt/decrypt with the build's argument list.
 */
export class LibsignalParty {
  readonly address: AddressLike;
  readonly registrationId: number;
  readonly stores: LibsignalStores;
  private readonly identityKeyPair: { publicKey: PublicKey; privateKey: PrivateKey };
  private readonly localAddress: ProtocolAddress;
  private nextPreKeyId = 1;
  private nextSignedPreKeyId = 1;
  private nextKyberPreKeyId = 1;
  private currentSignedPreKey: { id: number; publicKey: Uint8Array; signature: Uint8Array } | undefined;

  private constructor(
    readonly lib: LibHandle,
    options: PartyOptions,
  ) {
    const m = lib.mod;
    const pair = options.sameIdentityAs?.identityKeyPair ?? m.IdentityKeyPair.generate();
    this.identityKeyPair = { publicKey: pair.publicKey, privateKey: pair.privateKey };
    this.registrationId = options.registrationId ?? 1 + Math.floor(Math.random() * 16380);
    this.address = { name: options.name ?? `lib-party-${++nameCounter}`, deviceId: options.deviceId ?? 1 };
    this.localAddress = m.ProtocolAddress.new(this.address.name, this.address.deviceId);
    this.stores = createStores(lib, this.identityKeyPair, this.registrationId, options);
  }

  static create(lib: LibHandle, options: PartyOptions = {}): LibsignalParty {
    return new LibsignalParty(lib, options);
  }

  /** 33-byte serialized identity public key. */
  get identityKey(): Uint8Array {
    return plain(this.identityKeyPair.publicKey.serialize());
  }

  /** 32-byte identity private key (test use only, e.g. to hand the same identity to our side). */
  get identityPrivateKey(): Uint8Array {
    return plain(this.identityKeyPair.privateKey.serialize());
  }

  /**
   * Generates fresh prekeys (ids never reused), stores their private parts and returns the public
   * parts as a server would hand them out.
   */
  async createBundle(options: BundleOptions = {}): Promise<RawPreKeyBundle> {
    const m = this.lib.mod;
    const priv = this.identityKeyPair.privateKey;
    const now = Date.now();
    if (this.currentSignedPreKey === undefined || options.newSignedPreKey === true) {
      const id = this.nextSignedPreKeyId++;
      const key = m.PrivateKey.generate();
      const pub = key.getPublicKey();
      const signature = priv.sign(pub.serialize());
      await this.stores.signedPreKey.saveSignedPreKey(
        id,
        m.SignedPreKeyRecord.new(id, now, pub, key, signature),
      );
      this.currentSignedPreKey = { id, publicKey: plain(pub.serialize()), signature: plain(signature) };
    }
    let preKey: RawPreKeyBundle['preKey'];
    if (options.oneTimePreKey !== false) {
      const id = this.nextPreKeyId++;
      const key = m.PrivateKey.generate();
      await this.stores.preKey.savePreKey(id, m.PreKeyRecord.new(id, key.getPublicKey(), key));
      preKey = { id, publicKey: plain(key.getPublicKey().serialize()) };
    }
    let kyberPreKey: RawPreKeyBundle['kyberPreKey'];
    if (options.kyber !== false) {
      const id = this.nextKyberPreKeyId++;
      const pair = m.KEMKeyPair.generate();
      const pub = pair.getPublicKey().serialize();
      const signature = priv.sign(pub);
      await this.stores.kyberPreKey.saveKyberPreKey(id, m.KyberPreKeyRecord.new(id, now, pair, signature));
      kyberPreKey = { id, publicKey: plain(pub), signature: plain(signature) };
    }
    return {
      registrationId: this.registrationId,
      deviceId: this.address.deviceId,
      identityKey: this.identityKey,
      preKey,
      signedPreKey: this.currentSignedPreKey,
      kyberPreKey,
    };
  }

  /** Builds the build's `PreKeyBundle` from raw parts (ours or another party's). */
  toLibBundle(raw: RawPreKeyBundle): PreKeyBundle {
    const lib = this.lib;
    const m = lib.mod;
    const b = (x: Uint8Array) => toLib(lib, x);
    const pk = (x: Uint8Array) => m.PublicKey.deserialize(b(x));
    const args: unknown[] = [
      raw.registrationId,
      raw.deviceId,
      raw.preKey ? raw.preKey.id : null,
      raw.preKey ? pk(raw.preKey.publicKey) : null,
      raw.signedPreKey.id,
      pk(raw.signedPreKey.publicKey),
      b(raw.signedPreKey.signature),
      pk(raw.identityKey),
    ];
    if (raw.kyberPreKey) {
      args.push(
        raw.kyberPreKey.id,
        m.KEMPublicKey.deserialize(b(raw.kyberPreKey.publicKey)),
        b(raw.kyberPreKey.signature),
      );
    } else if (!lib.features.kyberRequired) {
      args.push(null, null, null);
    } else {
      throw new Error(`libsignal-client ${lib.version} requires a Kyber prekey in bundles`);
    }
    return (m.PreKeyBundle.new as (...a: unknown[]) => PreKeyBundle)(...args);
  }

  protocolAddress(addr: AddressLike): ProtocolAddress {
    return this.lib.mod.ProtocolAddress.new(addr.name, addr.deviceId);
  }

  /** `processPreKeyBundle` for `remote` (starts a session as initiator). */
  async processBundle(remote: AddressLike, raw: RawPreKeyBundle, now?: Date): Promise<void> {
    const { mod: m, features: f } = this.lib;
    const s = this.stores;
    const addr = this.protocolAddress(remote);
    const head: unknown[] = f.bundleLocalAddress ? [addr, this.localAddress] : [addr];
    const tail: unknown[] = now ? [now] : [];
    await (m.processPreKeyBundle as (...a: unknown[]) => Promise<void>)(
      this.toLibBundle(raw),
      ...head,
      s.session,
      s.identity,
      ...tail,
    );
  }

  async encrypt(remote: AddressLike, plaintext: Uint8Array, now?: Date): Promise<RawWireMessage> {
    const { mod: m, features: f } = this.lib;
    const s = this.stores;
    const addr = this.protocolAddress(remote);
    const head: unknown[] = f.encryptLocalAddress ? [addr, this.localAddress] : [addr];
    const tail: unknown[] = now ? [now] : [];
    const msg = await (m.signalEncrypt as (...a: unknown[]) => Promise<CiphertextMessage>)(
      toLib(this.lib, plaintext),
      ...head,
      s.session,
      s.identity,
      ...tail,
    );
    const type = msg.type();
    if (type !== m.CiphertextMessageType.PreKey && type !== m.CiphertextMessageType.Whisper)
      throw new Error(`unexpected ciphertext type ${type}`);
    return {
      type: type === m.CiphertextMessageType.PreKey ? 'prekey' : 'whisper',
      body: plain(msg.serialize()),
    };
  }

  async decrypt(remote: AddressLike, message: RawWireMessage): Promise<Uint8Array> {
    const { mod: m, features: f } = this.lib;
    const s = this.stores;
    const addr = this.protocolAddress(remote);
    const head: unknown[] = f.decryptLocalAddress ? [addr, this.localAddress] : [addr];
    const body = toLib(this.lib, message.body);
    let out: Uint8Array;
    if (message.type === 'prekey') {
      out = await (m.signalDecryptPreKey as (...a: unknown[]) => Promise<Uint8Array>)(
        m.PreKeySignalMessage.deserialize(body),
        ...head,
        s.session,
        s.identity,
        s.preKey,
        s.signedPreKey,
        s.kyberPreKey,
      );
    } else {
      out = await (m.signalDecrypt as (...a: unknown[]) => Promise<Uint8Array>)(
        m.SignalMessage.deserialize(body),
        ...head,
        s.session,
        s.identity,
      );
    }
    return plain(out);
  }

  /** Serialized session record for `remote` (null if none). */
  sessionBytes(remote: AddressLike): Uint8Array | null {
    return this.stores.session.sessionBytes(remote);
  }

  /** Puts back a record taken with `sessionBytes`. */
  restoreSession(remote: AddressLike, bytes: Uint8Array): void {
    this.stores.session.restoreSession(remote, bytes);
  }

  /** `SessionRecord.hasCurrentState()` for `remote`. */
  async hasUsableSession(remote: AddressLike): Promise<boolean> {
    const rec = await this.stores.session.getSession(this.protocolAddress(remote));
    return rec !== null && rec.hasCurrentState();
  }
}

// ---------------------------------------------------------------------------------------------
// Errors

/** The name of a libsignal error's code in its own build (numeric values differ across builds). */
export function libsignalErrorName(lib: LibHandle, err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  const code = (err as { code: unknown }).code;
  const table = lib.mod.ErrorCode as unknown as Record<string, string | number>;
  if (typeof code === 'number') {
    const name = table[code];
    return typeof name === 'string' ? name : undefined;
  }
  return typeof code === 'string' ? code : undefined;
}

/** Whether `err` is libsignal's DuplicatedMessage error. */
export function isLibsignalDuplicate(lib: LibHandle, err: unknown): boolean {
  return libsignalErrorName(lib, err) === 'DuplicatedMessage';
}
