/**
 * Signal's `ProvisionMessage` and `ProvisionEnvelope` (Provisioning.proto, proto2; field numbers as
 * in spec `devices-and-healing.md` §2.3, plus 17 `aciBinary` and 18 `pniBinary`, the 16-byte UUIDs
 * current Signal clients send beside the strings): what an existing device hands a device being linked. The
 * message carries the account's identity key pair(s), so it never prints its fields: `toString`,
 * `toJSON` and `util.inspect` show a placeholder.
 */
import {
  assertBytes,
  copyBytes,
  DecodeError,
  ErrorCode,
  fromUtf8,
  IdentityKeyPair,
  PRIVATE_KEY_LENGTH,
  PrivateKey,
  ProtoReader,
  ProtoWriter,
  PUBLIC_KEY_LENGTH,
  PublicKey,
  utf8,
  WireType,
} from '@e2ee-kit/core';
import { serviceIdBinary } from '../service-id.js';

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/** `ProvisioningVersion`: INITIAL 0, TABLET_SUPPORT 1 (= CURRENT). */
export const PROVISIONING_VERSION_CURRENT = 1;

/** Longest string field accepted when decoding (a link token, a user agent, an entropy pool). */
const MAX_STRING_BYTES = 4096;

/** What the existing device sends. `aciIdentityKeyPair` and `aci` are required. */
export interface ProvisionMessageFields {
  /** The account (ACI) identity key pair shared by every device of the account. */
  readonly aciIdentityKeyPair: IdentityKeyPair;
  /** The account's ServiceId (ACI) as a string. */
  readonly aci: string;
  /** The phone-number identity (PNI) and its key pair, if the account has one (both or neither). */
  readonly pni?: string | undefined;
  readonly pniIdentityKeyPair?: IdentityKeyPair | undefined;
  /** E.164 phone number, if the app uses one. */
  readonly number?: string | undefined;
  /** The single-use link token the server gave the existing device (`verificationCode` of the link call). */
  readonly provisioningCode?: string | undefined;
  readonly userAgent?: string | undefined;
  /** Device-independent state the app passes along. */
  readonly profileKey?: Uint8Array | undefined;
  readonly readReceipts?: boolean | undefined;
  readonly accountEntropyPool?: string | undefined;
  readonly mediaRootBackupKey?: Uint8Array | undefined;
  readonly ephemeralBackupKey?: Uint8Array | undefined;
  /** Defaults to `PROVISIONING_VERSION_CURRENT`. */
  readonly provisioningVersion?: number | undefined;
}

const F = {
  aciPublic: 1,
  aciPrivate: 2,
  number: 3,
  provisioningCode: 4,
  userAgent: 5,
  profileKey: 6,
  readReceipts: 7,
  aci: 8,
  provisioningVersion: 9,
  pni: 10,
  pniPublic: 11,
  pniPrivate: 12,
  ephemeralBackupKey: 14,
  accountEntropyPool: 15,
  mediaRootBackupKey: 16,
  aciBinary: 17,
  pniBinary: 18,
} as const;

/** Length of `aciBinary` / `pniBinary`: the UUID's 16 bytes, no kind byte. */
const UUID_BYTES = 16;

/** The 16 bytes of a UUID string (`PNI:` prefix allowed), or `undefined` if it is not one. */
function uuidBytes(id: string): Uint8Array | undefined {
  return serviceIdBinary(id)?.slice(1); // without the ServiceId kind byte
}

/** Lower-case hyphenated form of 16 UUID bytes. */
function uuidString(bytes: Uint8Array): string {
  let hex = '';
  for (const b of bytes) hex += b.toString(16).padStart(2, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Newer Signal clients send the ACI / PNI also (or only) as 16 binary bytes (fields 17, 18). The
 * string wins when it is not a UUID; a UUID string and bytes that disagree are refused, since the two
 * readings would name different accounts.
 */
function idFrom(text: string | undefined, binary: Uint8Array | undefined, what: string): string | undefined {
  if (binary === undefined) return text;
  if (binary.length !== UUID_BYTES) throw new DecodeError(`provision message ${what}Binary must be 16 bytes`);
  const fromBinary = uuidString(binary);
  if (text === undefined || text.length === 0) return fromBinary;
  const parsed = uuidBytes(text);
  if (parsed !== undefined && uuidString(parsed) !== fromBinary)
    throw new DecodeError(`provision message ${what} and ${what}Binary disagree`);
  return text;
}

/** The cap is on UTF-8 bytes, as on the wire: what we create, our decoder (and a peer's) accepts. */
function checkString(value: unknown, name: string): void {
  if (value === undefined) return;
  if (typeof value !== 'string') throw new TypeError(`${name} must be a string`);
  if (utf8(value).length > MAX_STRING_BYTES)
    throw new RangeError(`${name} must be at most ${MAX_STRING_BYTES} bytes of UTF-8`);
}

function textOf(raw: Uint8Array, name: string): string {
  try {
    return fromUtf8(raw);
  } catch {
    throw new DecodeError(`provision message ${name} is not valid UTF-8`);
  }
}

function pairOf(
  pub: Uint8Array | undefined,
  priv: Uint8Array | undefined,
  what: string,
): IdentityKeyPair | undefined {
  if (pub === undefined && priv === undefined) return undefined;
  if (pub === undefined || priv === undefined)
    throw new DecodeError(`provision message has half of the ${what} key pair`);
  if (pub.length !== PUBLIC_KEY_LENGTH || priv.length !== PRIVATE_KEY_LENGTH)
    throw new DecodeError(`provision message ${what} key has the wrong length`);
  return new IdentityKeyPair(PublicKey.deserialize(pub), PrivateKey.deserialize(priv));
}

export class ProvisionMessage {
  readonly #f: ProvisionMessageFields;

  private constructor(fields: ProvisionMessageFields) {
    this.#f = Object.freeze({ ...fields });
  }

  /** Validates and copies `fields` (byte fields are copied, never kept as the caller's views). */
  static from(fields: ProvisionMessageFields): ProvisionMessage {
    if (fields === null || typeof fields !== 'object') throw new TypeError('fields must be an object');
    if (typeof fields.aci !== 'string' || fields.aci.length === 0)
      throw new TypeError('aci must be a non-empty string');
    for (const k of ['aci', 'pni', 'number', 'provisioningCode', 'userAgent', 'accountEntropyPool'] as const)
      checkString(fields[k], k);
    if ((fields.pni === undefined) !== (fields.pniIdentityKeyPair === undefined))
      throw new TypeError('pni and pniIdentityKeyPair go together');
    if (fields.readReceipts !== undefined && typeof fields.readReceipts !== 'boolean')
      throw new TypeError('readReceipts must be a boolean');
    const v = fields.provisioningVersion ?? PROVISIONING_VERSION_CURRENT;
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff)
      throw new RangeError('provisioningVersion must be a uint32');
    const copy = (b: Uint8Array | undefined, name: string, len?: number) => {
      if (b === undefined) return undefined;
      assertBytes(b, name, len);
      return copyBytes(b); // not `slice()`: for a pooled Node Buffer that is a view of the caller's memory
    };
    const profileKey = copy(fields.profileKey, 'profileKey');
    const mediaRootBackupKey = copy(fields.mediaRootBackupKey, 'mediaRootBackupKey', 32);
    const ephemeralBackupKey = copy(fields.ephemeralBackupKey, 'ephemeralBackupKey', 32);
    // Last, after every other check: pairs of another copy of core (an app that loads two) are read
    // into pairs of this copy's, which the message keeps; no refusal may follow and drop them unwiped.
    const aciIdentityKeyPair = IdentityKeyPair.from(fields.aciIdentityKeyPair, 'aciIdentityKeyPair');
    let pniIdentityKeyPair: IdentityKeyPair | undefined;
    try {
      if (fields.pniIdentityKeyPair !== undefined)
        pniIdentityKeyPair = IdentityKeyPair.from(fields.pniIdentityKeyPair, 'pniIdentityKeyPair');
    } catch (err) {
      if (aciIdentityKeyPair !== fields.aciIdentityKeyPair) aciIdentityKeyPair.privateKey.wipe();
      throw err;
    }
    return new ProvisionMessage({
      ...fields,
      aciIdentityKeyPair,
      pniIdentityKeyPair,
      provisioningVersion: v,
      profileKey,
      mediaRootBackupKey,
      ephemeralBackupKey,
    });
  }

  get aciIdentityKeyPair(): IdentityKeyPair {
    return this.#f.aciIdentityKeyPair;
  }
  get aci(): string {
    return this.#f.aci;
  }
  get pni(): string | undefined {
    return this.#f.pni;
  }
  get pniIdentityKeyPair(): IdentityKeyPair | undefined {
    return this.#f.pniIdentityKeyPair;
  }
  get number(): string | undefined {
    return this.#f.number;
  }
  get provisioningCode(): string | undefined {
    return this.#f.provisioningCode;
  }
  get userAgent(): string | undefined {
    return this.#f.userAgent;
  }
  get readReceipts(): boolean | undefined {
    return this.#f.readReceipts;
  }
  get provisioningVersion(): number {
    return this.#f.provisioningVersion as number;
  }
  get accountEntropyPool(): string | undefined {
    return this.#f.accountEntropyPool;
  }
  /** Copies: the caller may wipe them. */
  get profileKey(): Uint8Array | undefined {
    return this.#f.profileKey?.slice();
  }
  get mediaRootBackupKey(): Uint8Array | undefined {
    return this.#f.mediaRootBackupKey?.slice();
  }
  get ephemeralBackupKey(): Uint8Array | undefined {
    return this.#f.ephemeralBackupKey?.slice();
  }

  serialize(): Uint8Array {
    const f = this.#f;
    const w = new ProtoWriter()
      .bytes(F.aciPublic, f.aciIdentityKeyPair.publicKey.serialize())
      .bytes(F.aciPrivate, f.aciIdentityKeyPair.privateKey.serialize());
    if (f.number !== undefined) w.string(F.number, f.number);
    if (f.provisioningCode !== undefined) w.string(F.provisioningCode, f.provisioningCode);
    if (f.userAgent !== undefined) w.string(F.userAgent, f.userAgent);
    if (f.profileKey !== undefined) w.bytes(F.profileKey, f.profileKey);
    if (f.readReceipts !== undefined) w.bool(F.readReceipts, f.readReceipts);
    w.string(F.aci, f.aci);
    w.uint32(F.provisioningVersion, f.provisioningVersion as number);
    const aciBinary = uuidBytes(f.aci);
    const pniBinary = f.pni === undefined ? undefined : uuidBytes(f.pni);
    if (f.pni !== undefined && f.pniIdentityKeyPair !== undefined) {
      w.string(F.pni, f.pni);
      w.bytes(F.pniPublic, f.pniIdentityKeyPair.publicKey.serialize());
      w.bytes(F.pniPrivate, f.pniIdentityKeyPair.privateKey.serialize());
    }
    if (f.ephemeralBackupKey !== undefined) w.bytes(F.ephemeralBackupKey, f.ephemeralBackupKey);
    if (f.accountEntropyPool !== undefined) w.string(F.accountEntropyPool, f.accountEntropyPool);
    if (f.mediaRootBackupKey !== undefined) w.bytes(F.mediaRootBackupKey, f.mediaRootBackupKey);
    // Both forms, as current Signal clients write them: older readers know only the strings.
    if (aciBinary !== undefined) w.bytes(F.aciBinary, aciBinary);
    if (pniBinary !== undefined && f.pniIdentityKeyPair !== undefined) w.bytes(F.pniBinary, pniBinary);
    return w.finish();
  }

  /** Parses the decrypted body. Unknown fields are skipped (Signal adds fields over time). */
  static deserialize(bytes: Uint8Array): ProvisionMessage {
    const r = new ProtoReader(new Uint8Array(bytes)); // a copy: never a view of the caller's bytes
    const b: Partial<Record<keyof typeof F, Uint8Array>> = {};
    const s: Partial<Record<keyof typeof F, string>> = {};
    let readReceipts: boolean | undefined;
    let version = 0;
    const byNumber = new Map<number, keyof typeof F>(
      Object.entries(F).map(([k, n]) => [n, k as keyof typeof F]),
    );
    const strings = new Set<keyof typeof F>([
      'number',
      'provisioningCode',
      'userAgent',
      'aci',
      'pni',
      'accountEntropyPool',
    ]);
    for (let h = r.next(); h; h = r.next()) {
      const name = byNumber.get(h.field);
      if (name === undefined) {
        r.skip(h.wireType);
      } else if (name === 'readReceipts') {
        r.expect(h, WireType.Varint);
        readReceipts = r.bool();
      } else if (name === 'provisioningVersion') {
        r.expect(h, WireType.Varint);
        version = r.uint32();
      } else {
        r.expect(h, WireType.LengthDelimited);
        if (strings.has(name)) {
          // Measured in bytes before decoding: UTF-16 units would let 3-byte characters in at 3× the cap.
          const raw = r.bytes();
          if (raw.length > MAX_STRING_BYTES) throw new DecodeError(`provision message ${name} is too long`);
          s[name] = textOf(raw, name);
        } else b[name] = r.bytes();
      }
    }
    const aci = pairOf(b.aciPublic, b.aciPrivate, 'ACI identity');
    if (aci === undefined) throw new DecodeError('provision message has no ACI identity key pair');
    const aciId = idFrom(s.aci, b.aciBinary, 'aci');
    if (aciId === undefined || aciId.length === 0) throw new DecodeError('provision message has no ACI');
    const pniId = idFrom(s.pni, b.pniBinary, 'pni');
    const pni = pairOf(b.pniPublic, b.pniPrivate, 'PNI identity');
    if ((pni === undefined) !== (pniId === undefined))
      throw new DecodeError('provision message has a PNI without its key pair (or the reverse)');
    for (const k of ['mediaRootBackupKey', 'ephemeralBackupKey'] as const)
      if (b[k] !== undefined && b[k]?.length !== 32)
        throw new DecodeError(`provision message ${k} must be 32 bytes`);
    return new ProvisionMessage({
      aciIdentityKeyPair: aci,
      aci: aciId,
      pni: pniId,
      pniIdentityKeyPair: pni,
      number: s.number,
      provisioningCode: s.provisioningCode,
      userAgent: s.userAgent,
      profileKey: b.profileKey,
      readReceipts,
      accountEntropyPool: s.accountEntropyPool,
      mediaRootBackupKey: b.mediaRootBackupKey,
      ephemeralBackupKey: b.ephemeralBackupKey,
      provisioningVersion: version,
    });
  }

  toString(): string {
    return '[ProvisionMessage]';
  }
  toJSON(): string {
    return '[ProvisionMessage]';
  }
  [INSPECT](): string {
    return '[ProvisionMessage]';
  }
}

/** `ProvisionEnvelope { 1: publicKey (sender's ephemeral, 33 B), 2: body }`. */
export interface ProvisionEnvelope {
  readonly publicKey: PublicKey;
  readonly body: Uint8Array;
}

export function encodeProvisionEnvelope(envelope: ProvisionEnvelope): Uint8Array {
  return new ProtoWriter().bytes(1, envelope.publicKey.serialize()).bytes(2, envelope.body).finish();
}

export function decodeProvisionEnvelope(bytes: Uint8Array): ProvisionEnvelope {
  // A copy: the caller's bytes may be a pooled Buffer, whose `slice` would be a view.
  const r = new ProtoReader(new Uint8Array(bytes));
  let pub: Uint8Array | undefined;
  let body: Uint8Array | undefined;
  for (let h = r.next(); h; h = r.next()) {
    if (h.field === 1 || h.field === 2) {
      r.expect(h, WireType.LengthDelimited);
      if (h.field === 1) pub = r.bytes();
      else body = r.bytes();
    } else r.skip(h.wireType);
  }
  if (pub === undefined || body === undefined)
    throw new DecodeError('provision envelope lacks its key or body');
  if (pub.length !== PUBLIC_KEY_LENGTH) throw new DecodeError('provision envelope key has the wrong length');
  const publicKey = PublicKey.deserialize(pub);
  // X25519 ignores the top bit, so a non-canonical key would let a flipped bit go unnoticed.
  if (!publicKey.isCanonical())
    throw new DecodeError('provision envelope key is not canonical', { code: ErrorCode.InvalidKey });
  return { publicKey, body };
}
