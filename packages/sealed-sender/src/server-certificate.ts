/**
 * `ServerCertificate`: a server key (with its key id) signed by a trust root. Wire format
 * (`signal.proto.sealed_sender.ServerCertificate`): `{1: certificate, 2: signature}` where
 * `certificate` = `{1: id (uint32), 2: key (33 bytes)}` and the signature is XEdDSA over exactly
 * the `certificate` bytes received (never a re-encoding).
 */
import {
  type CryptoProvider,
  DecodeError,
  PrivateKey,
  ProtoReader,
  ProtoWriter,
  type PublicKey,
  resolveProvider,
  WireType,
  xeddsaSign,
  xeddsaVerify,
} from '@e2ee-kit/core';
import { brandClass, classBrand, fromOtherCopy } from './other-copy.js';
import { redact } from './redact.js';
import { checkInputLength, ownPublicKey, readPublicKey } from './wire.js';

export interface ProviderOption {
  /** Crypto provider (default: core's `defaultProvider`). */
  readonly provider?: CryptoProvider;
}

const INTERNAL = Symbol('internal');
const SERVER_CERTIFICATE = classBrand('ServerCertificate');

/**
 * Reads the outer `{1: certificate, 2: signature}` wrapper shared by both certificate kinds, from a
 * copy of `bytes` (returned as `serialized`), and gives a reader over the inner certificate.
 */
export function readSignedWrapper(
  bytes: Uint8Array,
  what: string,
): { serialized: Uint8Array; certificate: Uint8Array; signature: Uint8Array; inner: ProtoReader } {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('bytes must be a Uint8Array');
  checkInputLength(bytes, what);
  const serialized = new Uint8Array(bytes); // a plain copy (a Buffer's slice() would be a view)
  const r = new ProtoReader(serialized);
  let certificate: Uint8Array | undefined;
  let signature: Uint8Array | undefined;
  for (let h = r.next(); h; h = r.next()) {
    if (h.field === 1 || h.field === 2) {
      r.expect(h, WireType.LengthDelimited);
      if (h.field === 1) certificate = r.bytes();
      else signature = r.bytes();
    } else r.skip(h.wireType);
  }
  if (certificate === undefined || signature === undefined)
    throw new DecodeError(`${what} is missing its certificate or signature`);
  return { serialized, certificate, signature, inner: new ProtoReader(certificate) };
}

export function writeSignedWrapper(certificate: Uint8Array, signature: Uint8Array): Uint8Array {
  return new ProtoWriter().bytes(1, certificate).bytes(2, signature).finish();
}

/** What both certificate kinds hold: the serialized bytes, the signed inner bytes and the signature. */
export abstract class SignedCertificate {
  readonly #serialized: Uint8Array;
  readonly #certificate: Uint8Array;
  readonly #signature: Uint8Array;

  protected constructor(parts: { serialized: Uint8Array; certificate: Uint8Array; signature: Uint8Array }) {
    this.#serialized = parts.serialized;
    this.#certificate = parts.certificate;
    this.#signature = parts.signature;
  }

  /** The serialized certificate (a copy): the bytes received, or byte-identical to libsignal's. */
  serialize(): Uint8Array {
    return this.#serialized.slice();
  }

  /** The signed inner bytes (a copy). */
  certificateBytes(): Uint8Array {
    return this.#certificate.slice();
  }

  /** The signature over `certificateBytes()` (a copy). */
  signature(): Uint8Array {
    return this.#signature.slice();
  }

  /** Whether `key` signed exactly the received inner bytes. */
  protected verifySignature(key: PublicKey, provider: CryptoProvider): Promise<boolean> {
    return xeddsaVerify(key, this.#certificate, this.#signature, provider);
  }
}

export class ServerCertificate extends SignedCertificate {
  /** The server key id (libsignal refuses revoked ids, see `REVOKED_SERVER_KEY_IDS`). */
  readonly keyId: number;
  /** The server's public key, which signs sender certificates. */
  readonly key: PublicKey;

  private constructor(
    token: typeof INTERNAL,
    parts: {
      keyId: number;
      key: PublicKey;
      serialized: Uint8Array;
      certificate: Uint8Array;
      signature: Uint8Array;
    },
  ) {
    super(parts);
    if (token !== INTERNAL)
      throw new TypeError('use ServerCertificate.create or ServerCertificate.deserialize');
    this.keyId = parts.keyId;
    this.key = parts.key;
    Object.freeze(this);
  }

  /** For the server operator: certifies `key` under `keyId`, signed with the trust root's private key. */
  static create(
    keyId: number,
    certified: PublicKey,
    trustRoot: PrivateKey,
    options: ProviderOption = {},
  ): ServerCertificate {
    if (!Number.isInteger(keyId) || keyId < 0 || keyId > 0xffffffff)
      throw new RangeError('keyId must be a uint32');
    const key = ownPublicKey(certified, 'key');
    const signer = PrivateKey.from(trustRoot, 'trustRoot');
    let signature: Uint8Array;
    let certificate: Uint8Array;
    try {
      const provider = resolveProvider(options.provider);
      certificate = new ProtoWriter().uint32(1, keyId).bytes(2, key.serialize()).finish();
      signature = xeddsaSign(signer, certificate, provider);
    } finally {
      // Another copy's key (an app that loads two copies of core) was read into a temporary of ours.
      if (signer !== trustRoot) signer.wipe();
    }
    const serialized = writeSignedWrapper(certificate, signature);
    return new ServerCertificate(INTERNAL, { keyId, key, serialized, certificate, signature });
  }

  /** Parses libsignal's serialization (a copy is kept); malformed bytes are a `DecodeError`. */
  static deserialize(bytes: Uint8Array): ServerCertificate {
    const { serialized, certificate, signature, inner: r } = readSignedWrapper(bytes, 'server certificate');
    let keyId: number | undefined;
    let keyBytes: Uint8Array | undefined;
    for (let h = r.next(); h; h = r.next()) {
      if (h.field === 1) {
        r.expect(h, WireType.Varint);
        keyId = r.uint32Truncated();
      } else if (h.field === 2) {
        r.expect(h, WireType.LengthDelimited);
        keyBytes = r.bytes();
      } else r.skip(h.wireType);
    }
    if (keyBytes === undefined) throw new DecodeError('server certificate has no key');
    const key = readPublicKey(keyBytes, 'server key');
    if (keyId === undefined) throw new DecodeError('server certificate has no key id');
    return new ServerCertificate(INTERNAL, { keyId, key, serialized, certificate, signature });
  }

  /** Whether `trustRoot` signed this certificate (the signature only; see `SenderCertificate.check`). */
  async isSignedBy(trustRoot: PublicKey, options: ProviderOption = {}): Promise<boolean> {
    return this.verifySignature(ownPublicKey(trustRoot, 'trustRoot'), resolveProvider(options.provider));
  }
}
redact(ServerCertificate.prototype, 'ServerCertificate');
brandClass(ServerCertificate, SERVER_CERTIFICATE);

/**
 * `value` as this copy's `ServerCertificate`: itself, or another copy's read through its serialized
 * form (`DecodeError` if that is not a certificate); anything else a `TypeError` naming `name`.
 */
export function ownServerCertificate(value: unknown, name: string): ServerCertificate {
  const own = fromOtherCopy(value, ServerCertificate, SERVER_CERTIFICATE, 'ServerCertificate');
  if (own === undefined) throw new TypeError(`${name} must be a ServerCertificate`);
  return own;
}
