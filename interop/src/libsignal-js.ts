// The pure-JS rival: npm `libsignal` v6 (WhiskeySockets/libsignal-node, the old libsignal-node used by
// Baileys). It implements X3DH + Double Ratchet, message version 3, with node:crypto for X25519, HMAC
// and AES and curve25519-js for signatures. Driven through SessionBuilder.initOutgoing (bundle) and
// SessionCipher.encrypt / decryptPreKeyWhisperMessage / decryptWhisperMessage.
//
// Facts from its source (src/*.js) that matter when comparing numbers:
// - initOutgoing does NOT verify the signed-prekey signature (`verifySignature(…, isInit = true)`
//   returns true), and there is no Kyber/PQXDH and no SPQR.
// - Whisper messages have type 1 (libsignal-client uses 2); PreKey messages type 3.
// - At most 2,000 skipped keys per chain; sessions are JSON-like objects.
import { createRequire } from 'node:module';
import type { AddressLike, RawPreKeyBundle, RawWireMessage } from './harness.js';
import { plain } from './harness.js';

interface JsKeyPair {
  pubKey: Buffer;
  privKey: Buffer;
}

interface JsSessionRecord {
  serialize(): unknown;
}

interface JsStorage {
  loadSession(id: string): Promise<JsSessionRecord | undefined>;
  storeSession(id: string, record: JsSessionRecord): Promise<void>;
  isTrustedIdentity(id: string, identityKey: Buffer): Promise<boolean>;
  loadPreKey(id: number | undefined): Promise<JsKeyPair | undefined>;
  removePreKey(id: number): Promise<void>;
  loadSignedPreKey(id: number): Promise<JsKeyPair | undefined>;
  getOurRegistrationId(): Promise<number>;
  getOurIdentity(): Promise<JsKeyPair>;
}

interface JsProtocolAddress {
  toString(): string;
}

interface LibsignalJsModule {
  ProtocolAddress: new (id: string, deviceId: number) => JsProtocolAddress;
  SessionBuilder: new (
    storage: JsStorage,
    addr: JsProtocolAddress,
  ) => {
    initOutgoing(device: {
      registrationId: number;
      identityKey: Buffer;
      signedPreKey: { keyId: number; publicKey: Buffer; signature: Buffer };
      preKey?: { keyId: number; publicKey: Buffer } | undefined;
    }): Promise<void>;
  };
  SessionCipher: new (
    storage: JsStorage,
    addr: JsProtocolAddress,
  ) => {
    encrypt(data: Buffer): Promise<{ type: number; body: Buffer }>;
    decryptPreKeyWhisperMessage(data: Buffer): Promise<Buffer>;
    decryptWhisperMessage(data: Buffer): Promise<Buffer>;
  };
  SessionRecord: { deserialize(data: unknown): JsSessionRecord };
  keyhelper: {
    generateIdentityKeyPair(): JsKeyPair;
    generateRegistrationId(): number;
    generateSignedPreKey(
      identity: JsKeyPair,
      id: number,
    ): { keyId: number; keyPair: JsKeyPair; signature: Buffer };
    generatePreKey(id: number): { keyId: number; keyPair: JsKeyPair };
  };
}

/** The `libsignal` (v6) module. */
export const libsignalJs = createRequire(import.meta.url)('libsignal') as LibsignalJsModule;

export interface LibsignalJsPartyOptions {
  readonly name?: string;
  readonly deviceId?: number;
  /** 'bytes' (default): sessions kept as JSON text, like a real app store; 'objects': kept as is. */
  readonly storage?: 'bytes' | 'objects';
}

let counter = 0;

/** One device running the pure-JS `libsignal`, with in-memory stores, same surface as LibsignalParty. */
export class LibsignalJsParty {
  readonly address: AddressLike;
  readonly registrationId: number;
  private readonly identity: JsKeyPair;
  private readonly sessions = new Map<string, JsSessionRecord | string>();
  private readonly preKeys = new Map<number, JsKeyPair>();
  private readonly signedPreKeys = new Map<number, JsKeyPair>();
  private readonly identities = new Map<string, string>();
  private readonly storage: JsStorage;
  private readonly asBytes: boolean;
  private nextPreKeyId = 1;
  private signedPreKey: { id: number; publicKey: Uint8Array; signature: Uint8Array } | undefined;

  private constructor(options: LibsignalJsPartyOptions) {
    const kh = libsignalJs.keyhelper;
    this.identity = kh.generateIdentityKeyPair();
    this.registrationId = kh.generateRegistrationId();
    this.address = { name: options.name ?? `js-party-${++counter}`, deviceId: options.deviceId ?? 1 };
    const asBytes = (options.storage ?? 'bytes') === 'bytes';
    this.asBytes = asBytes;
    const self = this;
    this.storage = {
      async loadSession(id) {
        const kept = self.sessions.get(id);
        if (kept === undefined) return undefined;
        return typeof kept === 'string' ? libsignalJs.SessionRecord.deserialize(JSON.parse(kept)) : kept;
      },
      async storeSession(id, record) {
        self.sessions.set(id, asBytes ? JSON.stringify(record.serialize()) : record);
      },
      async isTrustedIdentity(id, identityKey) {
        const known = self.identities.get(id);
        const hex = identityKey.toString('hex');
        if (known === undefined) {
          self.identities.set(id, hex);
          return true;
        }
        return known === hex;
      },
      async loadPreKey(id) {
        return id === undefined ? undefined : self.preKeys.get(id);
      },
      async removePreKey(id) {
        self.preKeys.delete(id);
      },
      async loadSignedPreKey(id) {
        return self.signedPreKeys.get(id);
      },
      async getOurRegistrationId() {
        return self.registrationId;
      },
      async getOurIdentity() {
        return self.identity;
      },
    };
  }

  static create(options: LibsignalJsPartyOptions = {}): LibsignalJsParty {
    return new LibsignalJsParty(options);
  }

  get identityKey(): Uint8Array {
    return plain(this.identity.pubKey);
  }

  /** X3DH bundle (no Kyber: this library has none). */
  async createBundle(options: { oneTimePreKey?: boolean } = {}): Promise<RawPreKeyBundle> {
    const kh = libsignalJs.keyhelper;
    if (this.signedPreKey === undefined) {
      const spk = kh.generateSignedPreKey(this.identity, 1);
      this.signedPreKeys.set(1, spk.keyPair);
      this.signedPreKey = { id: 1, publicKey: plain(spk.keyPair.pubKey), signature: plain(spk.signature) };
    }
    let preKey: RawPreKeyBundle['preKey'];
    if (options.oneTimePreKey !== false) {
      const pk = kh.generatePreKey(this.nextPreKeyId++);
      this.preKeys.set(pk.keyId, pk.keyPair);
      preKey = { id: pk.keyId, publicKey: plain(pk.keyPair.pubKey) };
    }
    return {
      registrationId: this.registrationId,
      deviceId: this.address.deviceId,
      identityKey: this.identityKey,
      preKey,
      signedPreKey: this.signedPreKey,
    };
  }

  private addr(remote: AddressLike): JsProtocolAddress {
    return new libsignalJs.ProtocolAddress(remote.name, remote.deviceId);
  }

  async processBundle(remote: AddressLike, raw: RawPreKeyBundle): Promise<void> {
    const builder = new libsignalJs.SessionBuilder(this.storage, this.addr(remote));
    await builder.initOutgoing({
      registrationId: raw.registrationId,
      identityKey: Buffer.from(raw.identityKey),
      signedPreKey: {
        keyId: raw.signedPreKey.id,
        publicKey: Buffer.from(raw.signedPreKey.publicKey),
        signature: Buffer.from(raw.signedPreKey.signature),
      },
      preKey: raw.preKey ? { keyId: raw.preKey.id, publicKey: Buffer.from(raw.preKey.publicKey) } : undefined,
    });
  }

  /** The stored session for `remote` as JSON text (null if none). */
  sessionJson(remote: AddressLike): string | null {
    const kept = this.sessions.get(this.addr(remote).toString());
    if (kept === undefined) return null;
    return typeof kept === 'string' ? kept : JSON.stringify(kept.serialize());
  }

  /** Puts back a session taken with `sessionJson`. */
  restoreSession(remote: AddressLike, json: string): void {
    const id = this.addr(remote).toString();
    this.sessions.set(id, this.asBytes ? json : libsignalJs.SessionRecord.deserialize(JSON.parse(json)));
  }

  async encrypt(remote: AddressLike, plaintext: Uint8Array): Promise<RawWireMessage> {
    const cipher = new libsignalJs.SessionCipher(this.storage, this.addr(remote));
    const out = await cipher.encrypt(Buffer.from(plaintext));
    return { type: out.type === 3 ? 'prekey' : 'whisper', body: plain(out.body) };
  }

  async decrypt(remote: AddressLike, message: RawWireMessage): Promise<Uint8Array> {
    const cipher = new libsignalJs.SessionCipher(this.storage, this.addr(remote));
    const body = Buffer.from(message.body);
    const out =
      message.type === 'prekey'
        ? await cipher.decryptPreKeyWhisperMessage(body)
        : await cipher.decryptWhisperMessage(body);
    return plain(out);
  }
}
