/**
 * Sealed sender v2 key schedule (spec §4.2) and the ReceivedMessage a recipient opens:
 * `0x22 ‖ C (32) ‖ AT (16) ‖ E (32, bare) ‖ GCM-SIV(K, USMC)`.
 *
 *   r = HKDF(M, info = label r, 32), K = HKDF(M, info = label K, 32), E = X25519(r, 9)
 *   C_i  = HKDF(DH(r, R_i) ‖ E ‖ R_i, info = label DH, 32) XOR M
 *   AT_i = HKDF(DH(s, R_i) ‖ E ‖ C_i ‖ S ‖ R_i, info = label DH-sender, 16)
 *
 * (HKDFs without salt; public keys in KDF inputs in their 33-byte form.) One ciphertext serves every
 * recipient; only C and AT are per recipient account.
 */
import {
  ChainWalkYielder,
  type CryptoProvider,
  concatBytes,
  constantTimeEqual,
  DecodeError,
  KeyPair,
  PrivateKey,
  PublicKey,
} from '@e2ee-kit/core';
import { gcmSivOpen, gcmSivSeal } from './ciphers.js';
import {
  SEALED_SENDER_V2_VERSION,
  V2_AUTH_TAG_LENGTH,
  V2_LABEL_DH,
  V2_LABEL_DH_SENDER,
  V2_LABEL_K,
  V2_LABEL_R,
  V2_MESSAGE_KEY_LENGTH,
  V2_PUBLIC_KEY_LENGTH,
} from './constants.js';
import { serializedContent, UnidentifiedSenderMessageContent } from './content.js';
import { decryptionFailed, senderMismatch } from './errors.js';

/** Bytes before the ciphertext in a ReceivedMessage. */
export const V2_RECEIVED_HEADER_LENGTH =
  1 + V2_MESSAGE_KEY_LENGTH + V2_AUTH_TAG_LENGTH + V2_PUBLIC_KEY_LENGTH;

export interface V2Keys {
  readonly ephemeral: KeyPair;
  readonly cipherKey: Uint8Array;
}

/** The X25519 base point u = 9. */
const BASE_POINT = Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 9 : 0));

export async function deriveV2Keys(m: Uint8Array, provider: CryptoProvider): Promise<V2Keys> {
  const r = PrivateKey.deserialize(await provider.hkdfSha256(m, undefined, V2_LABEL_R, 32)); // clamped
  const cipherKey = await provider.hkdfSha256(m, undefined, V2_LABEL_K, 32);
  // E = X25519(r, 9) as a plain agreement: the same bytes as `x25519PublicKey`, and on the platform
  // provider a fraction of its cost for a key seen once (no key export round trip).
  const e = await provider.x25519(r.rawView, BASE_POINT);
  return { ephemeral: new KeyPair(PublicKey.fromRaw(e), r), cipherKey };
}

/** `C = HKDF(dh ‖ E ‖ R) XOR M` (the same XOR turns C back into M for the recipient). */
export async function xorMessageKey(
  dh: Uint8Array,
  ephemeral: PublicKey,
  recipient: PublicKey,
  input: Uint8Array,
  provider: CryptoProvider,
): Promise<Uint8Array> {
  const ikm = concatBytes(dh, ephemeral.serialize(), recipient.serialize());
  const out = (await provider.hkdfSha256(ikm, undefined, V2_LABEL_DH, V2_MESSAGE_KEY_LENGTH)).slice();
  for (let i = 0; i < V2_MESSAGE_KEY_LENGTH; i++) out[i] = (out[i] as number) ^ (input[i] as number);
  return out;
}

export async function authenticationTag(
  dh: Uint8Array,
  ephemeral: PublicKey,
  c: Uint8Array,
  sender: PublicKey,
  recipient: PublicKey,
  provider: CryptoProvider,
): Promise<Uint8Array> {
  const ikm = concatBytes(dh, ephemeral.serialize(), c, sender.serialize(), recipient.serialize());
  return provider.hkdfSha256(ikm, undefined, V2_LABEL_DH_SENDER, V2_AUTH_TAG_LENGTH);
}

/** `C_i ‖ AT_i` for one recipient account. */
export async function recipientKeyMaterial(
  m: Uint8Array,
  keys: V2Keys,
  sender: KeyPair,
  recipient: PublicKey,
  provider: CryptoProvider,
): Promise<Uint8Array> {
  const e = keys.ephemeral;
  const c = await xorMessageKey(
    await e.privateKey.agree(recipient, provider),
    e.publicKey,
    recipient,
    m,
    provider,
  );
  const at = await authenticationTag(
    await sender.privateKey.agree(recipient, provider),
    e.publicKey,
    c,
    sender.publicKey,
    recipient,
    provider,
  );
  return concatBytes(c, at);
}

/**
 * Accounts whose agreements run at once: enough for an asynchronous provider (Web Crypto's thread
 * pool) to overlap them, few enough that a list near the size cap (~61,000 accounts, ~123,000
 * agreements) neither holds every pending agreement in memory together nor, on a provider that
 * computes in JavaScript, runs as one stretch in which no timer, I/O callback or UI event runs.
 */
const CONCURRENT_ACCOUNTS = 64;

/** `recipientKeyMaterial` for each account, in order: in batches, with event-loop turns between. */
export async function allRecipientKeyMaterial(
  m: Uint8Array,
  keys: V2Keys,
  sender: KeyPair,
  recipients: readonly PublicKey[],
  provider: CryptoProvider,
): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  const breaks = new ChainWalkYielder(); // a turn every few ms, at least every 4,096 accounts
  for (let i = 0; i < recipients.length; i += CONCURRENT_ACCOUNTS) {
    const batch = recipients.slice(i, i + CONCURRENT_ACCOUNTS);
    out.push(...(await Promise.all(batch.map((r) => recipientKeyMaterial(m, keys, sender, r, provider)))));
    for (let j = 0; j < batch.length; j++) await breaks.maybeYield();
  }
  return out;
}

/** The shared part: `E (32) ‖ GCM-SIV(K, USMC)`. */
export function sharedPart(content: UnidentifiedSenderMessageContent, keys: V2Keys): Uint8Array {
  return concatBytes(
    keys.ephemeral.publicKey.rawView,
    gcmSivSeal(keys.cipherKey, serializedContent(content)),
  );
}

/** A single-recipient v2 envelope (the ReceivedMessage that recipient would get from a split). */
export async function sealV2Envelope(
  content: UnidentifiedSenderMessageContent,
  sender: KeyPair,
  recipient: PublicKey,
  provider: CryptoProvider,
  messageKey?: Uint8Array,
): Promise<Uint8Array> {
  const m = messageKey ?? provider.randomBytes(V2_MESSAGE_KEY_LENGTH);
  const keys = await deriveV2Keys(m, provider);
  const material = await recipientKeyMaterial(m, keys, sender, recipient, provider);
  return concatBytes(Uint8Array.of(SEALED_SENDER_V2_VERSION), material, sharedPart(content, keys));
}

/** Opens a ReceivedMessage (version nibble already checked); `message` is our own copy. */
export async function openV2Envelope(
  message: Uint8Array,
  recipient: KeyPair,
  provider: CryptoProvider,
): Promise<UnidentifiedSenderMessageContent> {
  if (message.length < V2_RECEIVED_HEADER_LENGTH)
    throw new DecodeError('sealed sender v2 message is truncated');
  const c = message.subarray(1, 33);
  const at = message.subarray(33, 49);
  const ephemeral = PublicKey.fromRaw(message.subarray(49, 81));
  const ciphertext = message.subarray(81);
  const dh = await recipient.privateKey.agree(ephemeral, provider);
  const m = await xorMessageKey(dh, ephemeral, recipient.publicKey, c, provider);
  const keys = await deriveV2Keys(m, provider);
  if (!constantTimeEqual(keys.ephemeral.publicKey.rawView, ephemeral.rawView))
    throw decryptionFailed('derived ephemeral key did not match key provided in message');
  const usmcBytes = gcmSivOpen(keys.cipherKey, ciphertext);
  if (usmcBytes === undefined) throw decryptionFailed('failed to decrypt inner message');
  const usmc = UnidentifiedSenderMessageContent.deserialize(usmcBytes);
  const senderKey = usmc.senderCertificate.identityKey;
  const expected = await authenticationTag(
    await recipient.privateKey.agree(senderKey, provider),
    ephemeral,
    c,
    senderKey,
    recipient.publicKey,
    provider,
  );
  if (!constantTimeEqual(expected, at))
    throw senderMismatch('sender certificate key does not match authentication tag');
  return usmc;
}
