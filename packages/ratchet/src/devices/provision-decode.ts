/**
 * Decoding of Signal's `ProvisionMessage` (Provisioning.proto; field numbers in `PROVISION_FIELDS`).
 * The bytes hold the account's identity private keys and backup secrets, so every temporary copy
 * made while reading them (the input copy, the reader's copy of each field, the UTF-8 bytes of each
 * string) is overwritten before this returns or throws; the message built keeps its own copies.
 */
import {
  copyBytes,
  DecodeError,
  fromUtf8,
  IdentityKeyPair,
  PRIVATE_KEY_LENGTH,
  PrivateKey,
  ProtoReader,
  PUBLIC_KEY_LENGTH,
  PublicKey,
  WireType,
} from '@e2ee-kit/core';
import { serviceIdBinary } from '../service-id.js';
import type { ProvisionMessageFields } from './provision-message.js';

/** Field numbers (spec `devices-and-healing.md` §2.3, plus 17 `aciBinary` and 18 `pniBinary`). */
export const PROVISION_FIELDS = {
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
type Field = keyof typeof PROVISION_FIELDS;

/** Longest string field accepted when decoding (a link token, a user agent, an entropy pool). */
export const MAX_STRING_BYTES = 4096;

/** Length of `aciBinary` / `pniBinary`: the UUID's 16 bytes, no kind byte. */
const UUID_BYTES = 16;

/**
 * Fields of a fixed length in Signal, in bytes: the profile key (libsignal zkgroup `ProfileKey.SIZE`),
 * the backup keys (`BackupKey.SIZE`), the entropy pool (`AccountEntropyPool::LENGTH`: 64 ASCII
 * characters, so 64 bytes of UTF-8). Anything else is not one of them; refusing it also keeps a
 * peer from making the new device hold (and wipe) a field of any size.
 */
export const FIXED_LENGTHS = {
  profileKey: 32,
  mediaRootBackupKey: 32,
  ephemeralBackupKey: 32,
  accountEntropyPool: 64,
} as const;

/**
 * libsignal's `AccountEntropyPool`: 64 characters of `0-9a-z` (its ALPHABET; `isValid` refuses upper
 * case, separators and anything else). A pool it would refuse must not reach the new device, where
 * every backup key of the account would be derived from it.
 */
export const isEntropyPool = (text: string): boolean => /^[0-9a-z]{64}$/.test(text);

const BY_NUMBER = new Map<number, Field>(Object.entries(PROVISION_FIELDS).map(([k, n]) => [n, k as Field]));
const STRINGS = new Set<Field>([
  'number',
  'provisioningCode',
  'userAgent',
  'aci',
  'pni',
  'accountEntropyPool',
]);

/** The 16 bytes of a UUID string (`PNI:` prefix allowed), or `undefined` if it is not one. */
export function uuidBytes(id: string): Uint8Array | undefined {
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

/**
 * Reads `bytes` and hands the fields to `build` (which copies the byte fields it keeps and keeps the
 * key pairs). Unknown fields are skipped (Signal adds fields over time). Malformed → `DecodeError`;
 * the key pairs decoded before a refusal (or a throw of `build`) are wiped, never dropped holding keys.
 */
export function decodeProvisionMessage<T>(
  bytes: Uint8Array,
  build: (fields: ProvisionMessageFields) => T,
): T {
  // Our own copy, read once: the caller's array may be shared memory another thread writes to.
  const input = copyBytes(bytes);
  const b: Partial<Record<Field, Uint8Array>> = {};
  const s: Partial<Record<Field, string>> = {};
  let aci: IdentityKeyPair | undefined;
  let pni: IdentityKeyPair | undefined;
  let built = false;
  try {
    let readReceipts: boolean | undefined;
    let version = 0;
    const r = new ProtoReader(input);
    for (let h = r.next(); h; h = r.next()) {
      const name = BY_NUMBER.get(h.field);
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
        const raw = r.bytes();
        if (STRINGS.has(name)) {
          try {
            // Measured in bytes before decoding: UTF-16 units would let 3-byte characters in at 3× the cap.
            if (raw.length > MAX_STRING_BYTES) throw new DecodeError(`provision message ${name} is too long`);
            if (name === 'accountEntropyPool' && raw.length !== FIXED_LENGTHS.accountEntropyPool)
              throw new DecodeError(
                `provision message ${name} must be ${FIXED_LENGTHS.accountEntropyPool} bytes`,
              );
            s[name] = textOf(raw, name);
            if (name === 'accountEntropyPool' && !isEntropyPool(s[name] as string))
              throw new DecodeError(`provision message ${name} must be 64 characters of 0-9 and a-z`);
          } finally {
            raw.fill(0); // an entropy pool, a link token: the string is what the message keeps
          }
        } else {
          b[name]?.fill(0); // a repeated field: the last one wins, the earlier copy is overwritten
          b[name] = raw;
        }
      }
    }
    aci = pairOf(b.aciPublic, b.aciPrivate, 'ACI identity');
    if (aci === undefined) throw new DecodeError('provision message has no ACI identity key pair');
    const aciId = idFrom(s.aci, b.aciBinary, 'aci');
    if (aciId === undefined || aciId.length === 0) throw new DecodeError('provision message has no ACI');
    const pniId = idFrom(s.pni, b.pniBinary, 'pni');
    pni = pairOf(b.pniPublic, b.pniPrivate, 'PNI identity');
    if ((pni === undefined) !== (pniId === undefined))
      throw new DecodeError('provision message has a PNI without its key pair (or the reverse)');
    for (const k of ['profileKey', 'mediaRootBackupKey', 'ephemeralBackupKey'] as const)
      if (b[k] !== undefined && b[k]?.length !== FIXED_LENGTHS[k])
        throw new DecodeError(`provision message ${k} must be ${FIXED_LENGTHS[k]} bytes`);
    const message = build({
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
    built = true;
    return message;
  } finally {
    input.fill(0);
    // The reader's copies: the key objects hold their own, `build` copied the byte fields it keeps.
    for (const v of Object.values(b)) v.fill(0);
    if (!built) {
      aci?.privateKey.wipe();
      pni?.privateKey.wipe();
    }
  }
}
