/**
 * The new device's side of linking by QR code: an ephemeral X25519 key, shown with the provisioning
 * address as `sgnl://linkdevice?uuid=<address>&pub_key=<padded base64 of the 33-byte key>` (Signal's
 * shape; the scheme and host are the app's), and the opening of the envelope that comes back.
 */
import { type CryptoProvider, DecodeError, fromBase64, KeyPair, PublicKey, toBase64 } from '@e2ee-kit/core';
import { resolveRatchetProvider } from '../default-provider.js';
import type { ProvisionMessage } from './provision-message.js';
import { decryptProvisionEnvelope } from './provisioning-cipher.js';

const INSPECT = Symbol.for('nodejs.util.inspect.custom');
const MAX_URI_LENGTH = 2048;

export interface LinkUriOptions {
  /** Default `sgnl`. */
  readonly scheme?: string;
  /** Default `linkdevice`. */
  readonly host?: string;
}

function prefixOf(options: LinkUriOptions): string {
  const scheme = options.scheme ?? 'sgnl';
  const host = options.host ?? 'linkdevice';
  if (!/^[a-z][a-z0-9+.-]*$/i.test(scheme)) throw new TypeError('scheme must be a URI scheme');
  if (!/^[a-z0-9.-]+$/i.test(host)) throw new TypeError('host must be letters, digits, dots or dashes');
  return `${scheme}://${host}?`;
}

/** The QR code's text. `address` is the provisioning address the relay gave the new device. */
export function formatLinkDeviceUri(address: string, key: PublicKey, options: LinkUriOptions = {}): string {
  if (typeof address !== 'string' || address.length === 0)
    throw new TypeError('address must be a non-empty string');
  const publicKey = PublicKey.from(key, 'publicKey'); // a key of either copy of core
  // Padded, as Signal writes it (33 bytes → 44 characters ending in one '=').
  const b64 = toBase64(publicKey.serialize());
  const q = new URLSearchParams({ uuid: address, pub_key: b64.padEnd(Math.ceil(b64.length / 4) * 4, '=') });
  return prefixOf(options) + q.toString();
}

/** Reads a scanned or pasted link URI; anything else → `DecodeError`. */
export function parseLinkDeviceUri(
  uri: string,
  options: LinkUriOptions = {},
): { address: string; publicKey: PublicKey } {
  if (typeof uri !== 'string') throw new TypeError('uri must be a string');
  const prefix = prefixOf(options);
  if (uri.length > MAX_URI_LENGTH || !uri.startsWith(prefix)) throw new DecodeError('not a link-device URI');
  const q = new URLSearchParams(uri.slice(prefix.length));
  const address = q.get('uuid');
  const key = q.get('pub_key');
  if (address === null || address.length === 0 || key === null)
    throw new DecodeError('link-device URI lacks uuid or pub_key');
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(key);
  } catch (cause) {
    throw new DecodeError('link-device URI pub_key is not base64', { cause });
  }
  return { address, publicKey: PublicKey.deserialize(bytes) };
}

/**
 * One attempt at linking, held by the new device while its QR code is shown. Show `uri`; pass the
 * envelope the existing device sent to `open`. Make a new request when the code is renewed (Signal
 * renews it every 45 s): the key is single-use.
 */
export class DeviceLinkRequest {
  readonly address: string;
  readonly uri: string;
  readonly #keyPair: KeyPair;
  readonly #provider: CryptoProvider;

  private constructor(address: string, uri: string, keyPair: KeyPair, provider: CryptoProvider) {
    this.address = address;
    this.uri = uri;
    this.#keyPair = keyPair;
    this.#provider = provider;
  }

  /**
   * `address` is the provisioning address the relay assigned (Signal: URL-safe base64 of 16 random
   * bytes); without one a random address of that shape is made.
   */
  static async create(
    options: LinkUriOptions & { address?: string; provider?: CryptoProvider } = {},
  ): Promise<DeviceLinkRequest> {
    const provider = resolveRatchetProvider(options.provider);
    const address =
      options.address ??
      toBase64(provider.randomBytes(16)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    const keyPair = await KeyPair.generate(provider);
    return new DeviceLinkRequest(
      address,
      formatLinkDeviceUri(address, keyPair.publicKey, options),
      keyPair,
      provider,
    );
  }

  get publicKey(): PublicKey {
    return this.#keyPair.publicKey;
  }

  /** Decrypts the existing device's envelope (see `decryptProvisionEnvelope` for the errors). */
  open(envelope: Uint8Array): Promise<ProvisionMessage> {
    return decryptProvisionEnvelope(envelope, this.#keyPair.privateKey, { provider: this.#provider });
  }

  /** Forgets the ephemeral private key (after a successful link, or when the code is renewed). */
  dispose(): void {
    if (!this.#keyPair.privateKey.wiped) this.#keyPair.privateKey.wipe();
  }

  toString(): string {
    return '[DeviceLinkRequest]';
  }
  toJSON(): string {
    return '[DeviceLinkRequest]';
  }
  [INSPECT](): string {
    return '[DeviceLinkRequest]';
  }
}
