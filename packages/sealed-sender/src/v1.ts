/**
 * Sealed sender v1 (one recipient): `0x11 ‖ {1: E (33 B), 2: encryptedStatic, 3: encryptedMessage}`.
 *
 *   (chainKey, k1, m1) = HKDF(DH(e, R), salt = "UnidentifiedDelivery" ‖ R ‖ E, 96)
 *   encryptedStatic    = CTR(k1, S) ‖ MAC(m1)
 *   (_, k2, m2)        = HKDF(DH(s, R), salt = chainKey ‖ encryptedStatic, 96)
 *   encryptedMessage   = CTR(k2, USMC) ‖ MAC(m2)
 *
 * The receiver checks in libsignal's order (spec §3.3), and finally that the decrypted static key is
 * the certificate's identity key.
 */
import {
  type CryptoProvider,
  concatBytes,
  constantTimeEqual,
  DecodeError,
  KeyPair,
  ProtoReader,
  ProtoWriter,
  type PublicKey,
  WireType,
} from '@e2ee-kit/core';
import { ctrHmacDecrypt, ctrHmacEncrypt } from './ciphers.js';
import { SEALED_SENDER_V1_VERSION, V1_SALT_PREFIX } from './constants.js';
import { serializedContent, UnidentifiedSenderMessageContent } from './content.js';
import { decryptionFailed, senderMismatch } from './errors.js';
import { readPublicKey } from './wire.js';

const EMPTY = new Uint8Array(0);

async function ephemeralKeys(
  dh: Uint8Array,
  recipient: PublicKey,
  ephemeral: PublicKey,
  provider: CryptoProvider,
): Promise<{ chainKey: Uint8Array; cipherKey: Uint8Array; macKey: Uint8Array }> {
  const salt = concatBytes(V1_SALT_PREFIX, recipient.serialize(), ephemeral.serialize());
  const okm = await provider.hkdfSha256(dh, salt, EMPTY, 96);
  return { chainKey: okm.subarray(0, 32), cipherKey: okm.subarray(32, 64), macKey: okm.subarray(64, 96) };
}

async function staticKeys(
  dh: Uint8Array,
  chainKey: Uint8Array,
  encryptedStatic: Uint8Array,
  provider: CryptoProvider,
): Promise<{ cipherKey: Uint8Array; macKey: Uint8Array }> {
  // 96 bytes as libsignal derives them; the first 32 are unused.
  const okm = await provider.hkdfSha256(dh, concatBytes(chainKey, encryptedStatic), EMPTY, 96);
  return { cipherKey: okm.subarray(32, 64), macKey: okm.subarray(64, 96) };
}

export async function sealV1Envelope(
  content: UnidentifiedSenderMessageContent,
  sender: KeyPair,
  recipient: PublicKey,
  provider: CryptoProvider,
  ephemeral?: KeyPair,
): Promise<Uint8Array> {
  const e = ephemeral ?? (await KeyPair.generate(provider));
  const eph = await ephemeralKeys(
    await e.privateKey.agree(recipient, provider),
    recipient,
    e.publicKey,
    provider,
  );
  const encryptedStatic = await ctrHmacEncrypt(
    eph.cipherKey,
    eph.macKey,
    sender.publicKey.serialize(),
    provider,
  );
  const st = await staticKeys(
    await sender.privateKey.agree(recipient, provider),
    eph.chainKey,
    encryptedStatic,
    provider,
  );
  const encryptedMessage = await ctrHmacEncrypt(
    st.cipherKey,
    st.macKey,
    serializedContent(content),
    provider,
  );
  const body = new ProtoWriter()
    .bytes(1, e.publicKey.serialize())
    .bytes(2, encryptedStatic)
    .bytes(3, encryptedMessage)
    .finish();
  const out = new Uint8Array(1 + body.length);
  out[0] = SEALED_SENDER_V1_VERSION;
  out.set(body, 1);
  return out;
}

/** Opens a v1 envelope (the version byte already checked); `message` is our own copy. */
export async function openV1Envelope(
  message: Uint8Array,
  recipient: KeyPair,
  provider: CryptoProvider,
): Promise<UnidentifiedSenderMessageContent> {
  const r = new ProtoReader(message.subarray(1));
  let ephemeralBytes: Uint8Array | undefined;
  let encryptedStatic: Uint8Array | undefined;
  let encryptedMessage: Uint8Array | undefined;
  for (let h = r.next(); h; h = r.next()) {
    if (h.field >= 1 && h.field <= 3) {
      r.expect(h, WireType.LengthDelimited);
      const b = r.bytes();
      if (h.field === 1) ephemeralBytes = b;
      else if (h.field === 2) encryptedStatic = b;
      else encryptedMessage = b;
    } else r.skip(h.wireType);
  }
  if (ephemeralBytes === undefined || encryptedStatic === undefined || encryptedMessage === undefined)
    throw new DecodeError('sealed sender v1 message is missing a field');
  const ephemeral = readPublicKey(ephemeralBytes, 'ephemeral key');
  const eph = await ephemeralKeys(
    await recipient.privateKey.agree(ephemeral, provider),
    recipient.publicKey,
    ephemeral,
    provider,
  );
  const staticBytes = await ctrHmacDecrypt(eph.cipherKey, eph.macKey, encryptedStatic, provider);
  if (staticBytes === undefined) throw decryptionFailed('failed to decrypt sealed sender v1 message key');
  const senderKey = readPublicKey(staticBytes, 'sender static key');
  const st = await staticKeys(
    await recipient.privateKey.agree(senderKey, provider),
    eph.chainKey,
    encryptedStatic,
    provider,
  );
  const usmcBytes = await ctrHmacDecrypt(st.cipherKey, st.macKey, encryptedMessage, provider);
  if (usmcBytes === undefined) throw decryptionFailed('failed to decrypt sealed sender v1 message contents');
  const usmc = UnidentifiedSenderMessageContent.deserialize(usmcBytes);
  if (!constantTimeEqual(staticBytes, usmc.senderCertificate.identityKey.serialize()))
    throw senderMismatch('sender certificate key does not match message key');
  return usmc;
}
