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
  IdentityKeyPair,
  ownValue,
  ProtoReader,
  ProtoWriter,
  PUBLIC_KEY_LENGTH,
  PublicKey,
  WireType,
} from '@e2ee-kit/core';
import { brandClass, classBrand } from '../other-copy.js';
import {
  decodeProvisionMessage,
  PROVISION_FIELDS as F,
  FIXED_LENGTHS,
  isEntropyPool,
  MAX_STRING_BYTES,
  uuidBytes,
} from './provision-decode.js';

const INSPECT = Symbol.for('nodejs.util.inspect.custom');
/** Shared by every copy of the package (see other-copy.ts): another copy's message is read as ours. */
export const PROVISION_MESSAGE = classBrand('ProvisionMessage');

/** `ProvisioningVersion`: INITIAL 0, TABLET_SUPPORT 1 (= CURRENT). */
export const PROVISIONING_VERSION_CURRENT = 1;

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
  /** Device-independent state the app passes along. The profile key: 32 bytes, as Signal's. */
  readonly profileKey?: Uint8Array | undefined;
  readonly readReceipts?: boolean | undefined;
  /** 64 characters, as Signal's (libsignal's `AccountEntropyPool`). */
  readonly accountEntropyPool?: string | undefined;
  /** 32 bytes each. */
  readonly mediaRootBackupKey?: Uint8Array | undefined;
  readonly ephemeralBackupKey?: Uint8Array | undefined;
  /** Defaults to `PROVISIONING_VERSION_CURRENT`. */
  readonly provisioningVersion?: number | undefined;
}

/**
 * The length of `text` in UTF-8 as `utf8` encodes it (a lone surrogate as U+FFFD, 3 bytes), counted
 * without encoding it: an entropy pool or a link token is a secret, and an encoding a copy to wipe.
 */
function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/** The cap is on UTF-8 bytes, as on the wire: what we create, our decoder (and a peer's) accepts. */
function checkString(value: unknown, name: string): void {
  if (value === undefined) return;
  if (typeof value !== 'string') throw new TypeError(`${name} must be a string`);
  if (utf8Length(value) > MAX_STRING_BYTES)
    throw new RangeError(`${name} must be at most ${MAX_STRING_BYTES} bytes of UTF-8`);
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
    // libsignal's rule (64 of 0-9a-z), which the decoder applies too: what we create, a peer accepts.
    if (fields.accountEntropyPool !== undefined && !isEntropyPool(fields.accountEntropyPool))
      throw new RangeError(
        `accountEntropyPool must be ${FIXED_LENGTHS.accountEntropyPool} characters of 0-9 and a-z`,
      );
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
    const profileKey = copy(fields.profileKey, 'profileKey', FIXED_LENGTHS.profileKey);
    const mediaRootBackupKey = copy(
      fields.mediaRootBackupKey,
      'mediaRootBackupKey',
      FIXED_LENGTHS.mediaRootBackupKey,
    );
    const ephemeralBackupKey = copy(
      fields.ephemeralBackupKey,
      'ephemeralBackupKey',
      FIXED_LENGTHS.ephemeralBackupKey,
    );
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
    // Copies of the private keys, which the writer reads at `finish()`: overwritten once written.
    const aciPrivate = f.aciIdentityKeyPair.privateKey.serialize();
    const pniPrivate = f.pniIdentityKeyPair?.privateKey.serialize();
    try {
      return this.#write(aciPrivate, pniPrivate);
    } finally {
      aciPrivate.fill(0);
      pniPrivate?.fill(0);
    }
  }

  #write(aciPrivate: Uint8Array, pniPrivate: Uint8Array | undefined): Uint8Array {
    const f = this.#f;
    const w = new ProtoWriter()
      .bytes(F.aciPublic, f.aciIdentityKeyPair.publicKey.serialize())
      .bytes(F.aciPrivate, aciPrivate);
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
      if (pniPrivate !== undefined) w.bytes(F.pniPrivate, pniPrivate);
    }
    if (f.ephemeralBackupKey !== undefined) w.bytes(F.ephemeralBackupKey, f.ephemeralBackupKey);
    if (f.accountEntropyPool !== undefined) w.string(F.accountEntropyPool, f.accountEntropyPool);
    if (f.mediaRootBackupKey !== undefined) w.bytes(F.mediaRootBackupKey, f.mediaRootBackupKey);
    // Both forms, as current Signal clients write them: older readers know only the strings.
    if (aciBinary !== undefined) w.bytes(F.aciBinary, aciBinary);
    if (pniBinary !== undefined && f.pniIdentityKeyPair !== undefined) w.bytes(F.pniBinary, pniBinary);
    return w.finish();
  }

  /**
   * Parses the decrypted body. Unknown fields are skipped (Signal adds fields over time); malformed →
   * `DecodeError`. Every temporary copy of the keys and secrets read is overwritten, on a refusal too.
   */
  static deserialize(bytes: Uint8Array): ProvisionMessage {
    // `from` copies the byte fields (the decoder wipes its own) and keeps the decoded key pairs.
    return decodeProvisionMessage(bytes, (fields) => ProvisionMessage.from(fields));
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

brandClass(ProvisionMessage, PROVISION_MESSAGE);

/**
 * `value` itself when it is this copy's `ProvisionMessage`; another copy's (branded
 * `PROVISION_MESSAGE`, see other-copy.ts) read through one call of its `serialize()`; `undefined` for
 * anything else (the caller throws its `TypeError`). Read as a secret (core's `ownValue`): that
 * form holds the identity private keys, so the array handed over (a fresh one, by the contract) is
 * overwritten once read, `deserialize` overwrites its own copy, and no refusal carries a `cause`. A
 * longer serialization than `maxLength` is refused unread (bounded work). The message returned for
 * another copy's is the caller's to wipe.
 */
export function ownProvisionMessage(value: unknown, maxLength: number): ProvisionMessage | undefined {
  return ownValue(value, ProvisionMessage, PROVISION_MESSAGE, 'ProvisionMessage', {
    secret: true,
    maxLength,
  });
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
