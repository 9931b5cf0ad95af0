/**
 * Signal's provisioning cipher (spec `devices-and-healing.md` §2.2), composed from the provider's
 * primitives: the existing device agrees X25519 between a fresh ephemeral key and the new device's
 * QR key, derives 64 bytes with HKDF-SHA256 (no salt, info `TextSecure Provisioning Message`), and
 * sends `0x01 ‖ IV ‖ AES-256-CBC(ct) ‖ HMAC-SHA256(0x01 ‖ IV ‖ ct)`. The new device checks the
 * version byte and the MAC (in constant time) before it decrypts anything.
 */
import {
  type CryptoProvider,
  concatBytes,
  constantTimeEqual,
  DecodeError,
  ErrorCode,
  InvalidKeyError,
  KeyPair,
  PrivateKey,
  PublicKey,
  UnsupportedError,
  utf8,
  VerificationError,
  wipe,
} from '@e2ee-kit/core';
import { resolveRatchetProvider } from '../default-provider.js';
import {
  decodeProvisionEnvelope,
  encodeProvisionEnvelope,
  ownProvisionMessage,
  ProvisionMessage,
} from './provision-message.js';

function wipeKeys(message: ProvisionMessage): void {
  message.aciIdentityKeyPair.privateKey.wipe();
  message.pniIdentityKeyPair?.privateKey.wipe();
}

export const PROVISIONING_CIPHER_VERSION = 0x01;
const INFO = utf8('TextSecure Provisioning Message');
const IV_LENGTH = 16;
const MAC_LENGTH = 32;
/** The server relays at most 256 KiB of base64; no real envelope comes near it. */
export const MAX_PROVISION_ENVELOPE_LENGTH = 192 * 1024;

async function keys(
  shared: Uint8Array,
  provider: CryptoProvider,
): Promise<{ aes: Uint8Array; mac: Uint8Array }> {
  let okm: Uint8Array | undefined;
  try {
    okm = await provider.hkdfSha256(shared, undefined, INFO, 64);
    return { aes: okm.slice(0, 32), mac: okm.slice(32, 64) };
  } finally {
    // The X25519 secret and the 64 derived bytes, on a throw of the provider too.
    wipe(shared);
    if (okm !== undefined) wipe(okm);
  }
}

/**
 * Existing device: the serialized `ProvisionEnvelope` carrying `message` to the device whose QR code
 * showed `theirPublicKey`.
 */
export async function encryptProvisionMessage(
  theirKey: PublicKey,
  message: ProvisionMessage,
  options: { provider?: CryptoProvider } = {},
): Promise<Uint8Array> {
  // A key of either copy of core (an app that loads two copies): `PublicKey.from`.
  const theirPublicKey = PublicKey.from(theirKey, 'theirPublicKey');
  const provider = resolveRatchetProvider(options.provider);
  // A message of either copy of the package: the other copy's is read through its serialized form
  // (capped as an envelope is; the temporaries, which hold the private keys, overwritten).
  const own = ownProvisionMessage(message, MAX_PROVISION_ENVELOPE_LENGTH);
  if (own === undefined) throw new TypeError('message must be a ProvisionMessage');
  try {
    return await seal(theirPublicKey, own, provider);
  } finally {
    // Ours only for this call: its private keys are not left behind.
    if (own !== message) wipeKeys(own);
  }
}

async function seal(
  theirPublicKey: PublicKey,
  message: ProvisionMessage,
  provider: CryptoProvider,
): Promise<Uint8Array> {
  const ephemeral = await KeyPair.generate(provider);
  let derived: { aes: Uint8Array; mac: Uint8Array };
  try {
    derived = await keys(await ephemeral.privateKey.agree(theirPublicKey, provider), provider);
  } finally {
    // Used once, on every path: a refused agreement (a low-order key) must not leave it behind.
    ephemeral.privateKey.wipe();
  }
  const { aes, mac } = derived;
  const plaintext = message.serialize();
  try {
    const iv = provider.randomBytes(IV_LENGTH);
    const ct = await provider.aes256CbcEncrypt(aes, iv, plaintext);
    const signed = concatBytes(Uint8Array.of(PROVISIONING_CIPHER_VERSION), iv, ct);
    const tag = await provider.hmacSha256(mac, signed);
    return encodeProvisionEnvelope({ publicKey: ephemeral.publicKey, body: concatBytes(signed, tag) });
  } finally {
    wipe(plaintext);
    wipe(aes);
    wipe(mac);
  }
}

/**
 * New device: opens an envelope with the private half of the key its QR code showed. Malformed
 * bytes → `DecodeError`; another version byte → `UnsupportedError`; a wrong MAC →
 * `VerificationError` (`INVALID_MAC`); a key pair whose halves do not match → `InvalidKeyError`
 * (`INVALID_KEY`). Nothing of the caller's bytes is kept.
 */
export async function decryptProvisionEnvelope(
  envelopeBytes: Uint8Array,
  ourPrivateKey: PrivateKey,
  options: { provider?: CryptoProvider } = {},
): Promise<ProvisionMessage> {
  const provider = resolveRatchetProvider(options.provider);
  if (!(envelopeBytes instanceof Uint8Array)) throw new TypeError('envelope must be a Uint8Array');
  if (envelopeBytes.length > MAX_PROVISION_ENVELOPE_LENGTH)
    throw new DecodeError('provision envelope is too long');
  const envelope = decodeProvisionEnvelope(envelopeBytes);
  const body = envelope.body;
  if (body.length < 1) throw new DecodeError('provision envelope body is empty');
  if (body[0] !== PROVISIONING_CIPHER_VERSION)
    throw new UnsupportedError(`unknown provisioning cipher version ${body[0]}`);
  // version ‖ IV ‖ at least one AES block ‖ MAC
  if (body.length < 1 + IV_LENGTH + 16 + MAC_LENGTH || (body.length - 1 - IV_LENGTH - MAC_LENGTH) % 16 !== 0)
    throw new DecodeError('provision envelope body has an invalid length');
  const signed = body.subarray(0, body.length - MAC_LENGTH);
  const theirTag = body.subarray(body.length - MAC_LENGTH);
  // A key of either copy of core: the other copy's is read into a temporary of ours, wiped below.
  const ourKey = PrivateKey.from(ourPrivateKey, 'ourPrivateKey');
  let derived: { aes: Uint8Array; mac: Uint8Array };
  try {
    derived = await keys(await ourKey.agree(envelope.publicKey, provider), provider);
  } finally {
    if (ourKey !== ourPrivateKey) ourKey.wipe();
  }
  const { aes, mac } = derived;
  let plaintext: Uint8Array | undefined;
  let message: ProvisionMessage | undefined;
  let checked = false;
  try {
    const ourTag = await provider.hmacSha256(mac, signed);
    if (!constantTimeEqual(ourTag, theirTag))
      throw new VerificationError('provision envelope MAC mismatch', { code: ErrorCode.InvalidMac });
    plaintext = await provider.aes256CbcDecrypt(
      aes,
      signed.subarray(1, 1 + IV_LENGTH),
      signed.subarray(1 + IV_LENGTH),
    );
    message = ProvisionMessage.deserialize(plaintext);
    for (const pair of [message.aciIdentityKeyPair, message.pniIdentityKeyPair]) {
      if (pair === undefined) continue;
      const publicKey = await pair.privateKey.publicKey(provider);
      if (!publicKey.equals(pair.publicKey))
        throw new InvalidKeyError('provision message identity key pair does not match');
    }
    checked = true;
    return message;
  } finally {
    // A message refused after decoding is dropped: not with the identity private keys in it.
    if (!checked && message !== undefined) wipeKeys(message);
    if (plaintext !== undefined) wipe(plaintext);
    wipe(aes);
    wipe(mac);
  }
}
