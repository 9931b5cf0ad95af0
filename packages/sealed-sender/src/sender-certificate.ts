/**
 * `SenderCertificate`: who the sender is (ServiceId, optional E.164, device id, identity key), until
 * when, signed by a server key whose `ServerCertificate` is embedded (field 5) or named by id
 * (field 8, libsignal's built-in table). Inner fields: 1 senderE164 (string), 2 senderDevice
 * (uint32), 3 expires (fixed64, ms), 4 identityKey, 5/8 signer, 6/7 sender uuid as string / 16 bytes.
 * libsignal writes `1? 2 3 4 5 6`; this does too, so created certificates are byte-identical.
 */
import {
  DecodeError,
  MAX_DEVICE_ID,
  PrivateKey,
  ProtoWriter,
  type PublicKey,
  resolveProvider,
  utf8,
  WireType,
  xeddsaSign,
} from '@e2ee-kit/core';
import { REVOKED_SERVER_KEY_IDS } from './constants.js';
import type { CertificateFailure } from './errors.js';
import { knownServerCertificate } from './known-certificates.js';
import { brandClass, classBrand, fromOtherCopy } from './other-copy.js';
import { redact } from './redact.js';
import {
  ownServerCertificate,
  type ProviderOption,
  readSignedWrapper,
  ServerCertificate,
  SignedCertificate,
  writeSignedWrapper,
} from './server-certificate.js';
import { formatUuid } from './service-id.js';
import { type Timestamp, toMillis } from './time.js';
import { decodeString, ownPublicKey, readPublicKey } from './wire.js';

export interface SenderCertificateFields {
  /**
   * The sender's ACI (written verbatim, as libsignal does: not case-normalized; a lone surrogate, which
   * UTF-8 cannot carry, is written and reported as U+FFFD).
   */
  readonly senderUuid: string;
  /** The sender's phone number, if the server includes it (written as `senderUuid` is). */
  readonly senderE164?: string | undefined;
  /** The sending device, 1..127. */
  readonly deviceId: number;
  /** The sender's identity public key. */
  readonly identityKey: PublicKey;
  /** Last valid moment, ms since 1970 (a certificate is still valid at exactly this time). */
  readonly expires: Timestamp;
  /** The server certificate of the key that signs (embedded in the certificate). */
  readonly signer: ServerCertificate;
  /** The private key matching `signer.key`. */
  readonly signerKey: PrivateKey;
}

export interface ValidationOptions extends ProviderOption {
  /** Server key ids to refuse in addition to libsignal's built-in list (`REVOKED_SERVER_KEY_IDS`). */
  readonly revokedKeyIds?: Iterable<number>;
}

export type CertificateCheck =
  | { readonly valid: true }
  | { readonly valid: false; readonly reason: CertificateFailure };

const INTERNAL = Symbol('internal');
const SENDER_CERTIFICATE = classBrand('SenderCertificate');

interface Parts {
  senderUuid: string;
  senderE164: string | undefined;
  deviceId: number;
  identityKey: PublicKey;
  expires: bigint;
  signer: ServerCertificate | undefined;
  signerId: number | undefined;
  serialized: Uint8Array;
  certificate: Uint8Array;
  signature: Uint8Array;
}

export class SenderCertificate extends SignedCertificate {
  readonly senderUuid: string;
  readonly senderE164: string | undefined;
  readonly deviceId: number;
  readonly identityKey: PublicKey;
  /** Expiry in ms since 1970, exact. */
  readonly expiresAt: bigint;
  /** The signer: embedded, or libsignal's built-in one for `signerId`; undefined for an unknown id. */
  readonly signer: ServerCertificate | undefined;
  /** The built-in server certificate id this certificate refers to, when it does not embed one. */
  readonly signerId: number | undefined;

  private constructor(token: typeof INTERNAL, p: Parts) {
    super(p);
    if (token !== INTERNAL)
      throw new TypeError('use SenderCertificate.create or SenderCertificate.deserialize');
    this.senderUuid = p.senderUuid;
    this.senderE164 = p.senderE164;
    this.deviceId = p.deviceId;
    this.identityKey = p.identityKey;
    this.expiresAt = p.expires;
    this.signer = p.signer;
    this.signerId = p.signerId;
    Object.freeze(this);
  }

  /** Expiry in ms since 1970 as a number (exact for every date a real server writes). */
  get expiration(): number {
    return Number(this.expiresAt);
  }

  /** For the server: issues a certificate signed with `signerKey` (libsignal's `SenderCertificate.new`). */
  static create(fields: SenderCertificateFields, options: ProviderOption = {}): SenderCertificate {
    if (fields === null || typeof fields !== 'object') throw new TypeError('fields must be an object');
    const { senderUuid, senderE164, deviceId, signerKey } = fields;
    if (typeof senderUuid !== 'string') throw new TypeError('senderUuid must be a string');
    if (senderE164 !== undefined && typeof senderE164 !== 'string')
      throw new TypeError('senderE164 must be a string or undefined');
    if (!Number.isInteger(deviceId) || deviceId < 1 || deviceId > MAX_DEVICE_ID)
      throw new RangeError(`deviceId must be 1..${MAX_DEVICE_ID}`);
    const identityKey = ownPublicKey(fields.identityKey, 'identityKey');
    // A certificate of either copy of the package (an app that loads two): the other's is read as ours.
    const signer = ownServerCertificate(fields.signer, 'signer');
    const key = PrivateKey.from(signerKey, 'signerKey');
    try {
      const expires = toMillis(fields.expires, 'expires');
      const provider = resolveProvider(options.provider);
      // Encoded once: the certificate reports the strings its signed bytes carry (UTF-8 holds no lone
      // surrogate, U+FFFD stands there, as in libsignal's SenderCertificate.new), what any parser reads.
      const uuidBytes = utf8(senderUuid);
      const e164Bytes = senderE164 === undefined ? undefined : utf8(senderE164);
      const w = new ProtoWriter();
      if (e164Bytes !== undefined) w.bytes(1, e164Bytes);
      const certificate = w
        .uint32(2, deviceId)
        .fixed64(3, expires)
        .bytes(4, identityKey.serialize())
        .bytes(5, signer.serialize())
        .bytes(6, uuidBytes)
        .finish();
      const signature = xeddsaSign(key, certificate, provider);
      return new SenderCertificate(INTERNAL, {
        senderUuid: decodeString(uuidBytes),
        senderE164: e164Bytes === undefined ? undefined : decodeString(e164Bytes),
        deviceId,
        identityKey,
        expires,
        signer,
        signerId: undefined,
        serialized: writeSignedWrapper(certificate, signature),
        certificate,
        signature,
      });
    } finally {
      // Another copy's key (an app that loads two copies of core) was read into a temporary of ours.
      if (key !== signerKey) key.wipe();
    }
  }

  /** Parses libsignal's serialization (a copy is kept); malformed bytes are a `DecodeError`. */
  static deserialize(bytes: Uint8Array): SenderCertificate {
    const { serialized, certificate, signature, inner: r } = readSignedWrapper(bytes, 'sender certificate');
    let e164: string | undefined;
    let device: number | undefined;
    let expires: bigint | undefined;
    let key: Uint8Array | undefined;
    let signer: { embedded: Uint8Array } | { id: number } | undefined;
    let uuid: { text: string } | { raw: Uint8Array } | undefined;
    for (let h = r.next(); h; h = r.next()) {
      switch (h.field) {
        case 1:
          r.expect(h, WireType.LengthDelimited);
          e164 = r.string(); // a leading U+FEFF kept, as libsignal reads it
          break;
        case 2:
          r.expect(h, WireType.Varint);
          device = r.uint32Truncated();
          break;
        case 3:
          r.expect(h, WireType.Fixed64);
          expires = r.fixed64();
          break;
        case 4:
          r.expect(h, WireType.LengthDelimited);
          key = r.bytes();
          break;
        case 5:
          r.expect(h, WireType.LengthDelimited);
          signer = { embedded: r.bytes() };
          break;
        case 6:
          r.expect(h, WireType.LengthDelimited);
          uuid = { text: r.string() };
          break;
        case 7:
          r.expect(h, WireType.LengthDelimited);
          uuid = { raw: r.bytes() };
          break;
        case 8:
          r.expect(h, WireType.Varint);
          signer = { id: r.uint32Truncated() };
          break;
        default:
          r.skip(h.wireType);
      }
    }
    // libsignal's order: device, expiry, signer, uuid, identity key.
    if (device === undefined || device < 1 || device > MAX_DEVICE_ID)
      throw new DecodeError('sender certificate has no valid device id');
    if (expires === undefined) throw new DecodeError('sender certificate has no expiry');
    if (signer === undefined) throw new DecodeError('sender certificate has no signer');
    const signerCert = 'embedded' in signer ? ServerCertificate.deserialize(signer.embedded) : undefined;
    const signerId = 'id' in signer ? signer.id : undefined;
    if (uuid === undefined) throw new DecodeError('sender certificate has no sender uuid');
    if ('raw' in uuid && uuid.raw.length !== 16) throw new DecodeError('sender uuid must be 16 bytes');
    const senderUuid = 'text' in uuid ? uuid.text : formatUuid(uuid.raw);
    if (key === undefined) throw new DecodeError('sender certificate has no identity key');
    const identityKey = readPublicKey(key, 'sender identity key');
    return new SenderCertificate(INTERNAL, {
      senderUuid,
      senderE164: e164,
      deviceId: device,
      identityKey,
      expires,
      signer: signerCert ?? (signerId === undefined ? undefined : knownServerCertificate(signerId)),
      signerId,
      serialized,
      certificate,
      signature,
    });
  }

  /**
   * Validates as libsignal's `validateWithTrustRoots` does, and says why not: the signer must be
   * known, not revoked, signed by at least one of `trustRoots` (every root is checked, so the time
   * taken does not tell which one signed), it must have signed this certificate, and `now` must not
   * be after the expiry. Use the server's timestamp of the envelope as `now` (Signal does).
   */
  async check(
    trustRoots: PublicKey | readonly PublicKey[],
    now: Timestamp,
    options: ValidationOptions = {},
  ): Promise<CertificateCheck> {
    const roots = trustRootList(trustRoots);
    const time = toMillis(now, 'now');
    const revoked = revokedSet(options.revokedKeyIds);
    const provider = resolveProvider(options.provider);
    const signer = this.signer;
    if (signer === undefined) return { valid: false, reason: 'unknown-signer' };
    if (revoked.has(signer.keyId)) return { valid: false, reason: 'revoked' };
    let anyRoot = false;
    for (const root of roots) {
      const ok = await signer.isSignedBy(root, { provider });
      anyRoot = ok || anyRoot;
    }
    if (!anyRoot) return { valid: false, reason: 'untrusted-signer' };
    if (!(await this.verifySignature(signer.key, provider))) return { valid: false, reason: 'bad-signature' };
    if (time > this.expiresAt) return { valid: false, reason: 'expired' };
    return { valid: true };
  }

  /** `check(…).valid`: libsignal's `validate` / `validateWithTrustRoots`. */
  async validate(
    trustRoots: PublicKey | readonly PublicKey[],
    now: Timestamp,
    options: ValidationOptions = {},
  ): Promise<boolean> {
    return (await this.check(trustRoots, now, options)).valid;
  }
}
redact(SenderCertificate.prototype, 'SenderCertificate');
brandClass(SenderCertificate, SENDER_CERTIFICATE);

/**
 * `value` as this copy's `SenderCertificate`: itself, or another copy's read through its serialized
 * form (`DecodeError` if that is not a certificate); anything else a `TypeError` naming `name`.
 */
export function ownSenderCertificate(value: unknown, name: string): SenderCertificate {
  const own = fromOtherCopy(value, SenderCertificate, SENDER_CERTIFICATE, 'SenderCertificate');
  if (own === undefined) throw new TypeError(`${name} must be a SenderCertificate`);
  return own;
}

/**
 * The trust roots as our own list, each checked (`TypeError` otherwise): the checks below await, and a
 * caller's array changed meanwhile must not change which roots are tried. (Module-internal export.)
 */
export function trustRootList(trustRoots: PublicKey | readonly PublicKey[]): readonly PublicKey[] {
  const given: unknown[] = Array.isArray(trustRoots) ? Array.from(trustRoots) : [trustRoots];
  return given.map((root) => ownPublicKey(root, 'trust root'));
}

/** libsignal's revoked ids and `extra`, checked (`TypeError` / `RangeError`). (Module-internal export.) */
export function revokedSet(extra: Iterable<number> | undefined): Set<number> {
  const out = new Set(REVOKED_SERVER_KEY_IDS);
  if (extra === undefined) return out;
  if (extra === null || typeof (extra as Iterable<number>)[Symbol.iterator] !== 'function')
    throw new TypeError('revokedKeyIds must be an iterable of key ids');
  for (const id of extra) {
    if (!Number.isInteger(id) || id < 0 || id > 0xffffffff)
      throw new RangeError('revoked key ids must be uint32');
    out.add(id);
  }
  return out;
}
