// The libsignal sealed sender vectors (vectors/libsignal/sealed-sender-v1.json, -v2.json), through
// every provider: our sealer reproduces every intermediate value and the final bytes that
// libsignal-client 0.103.0 accepted, parsed and split; our opener opens them.
import { concatBytes, fromHex, PublicKey, toHex, utf8 } from '@e2ee-kit/core';
import {
  SealedSenderMultiRecipientMessage,
  UnidentifiedSenderMessageContent,
  unseal,
} from '@e2ee-kit/sealed-sender';
import { describe, expect, it } from 'vitest';
import { allProviders } from '../../../tools/providers.js';
import { ctrHmacEncrypt } from '../src/ciphers.js';
import { V1_SALT_PREFIX } from '../src/constants.js';
import { sealMultiRecipientMessage } from '../src/multi-recipient.js';
import { sealV1Envelope } from '../src/v1.js';
import { deriveV2Keys, sealV2Envelope } from '../src/v2.js';
import { keyPairFromHex, v1, v2 } from './helpers.js';

for (const { label, provider } of allProviders) {
  describe(`sealed sender v1 vector (${label})`, () => {
    it('reproduces every intermediate value and the sealed bytes', async () => {
      const recipient = await keyPairFromHex(v1.recipientIdentityPrivate, provider);
      const sender = await keyPairFromHex(v1.senderIdentityPrivate, provider);
      const ephemeral = await keyPairFromHex(v1.ephemeralPrivate, provider);
      expect(toHex(recipient.publicKey.serialize())).toBe(v1.recipientIdentityPublic);
      expect(toHex(sender.publicKey.serialize())).toBe(v1.senderIdentityPublic);
      expect(toHex(ephemeral.publicKey.serialize())).toBe(v1.ephemeralPublic);

      const salt = concatBytes(
        V1_SALT_PREFIX,
        recipient.publicKey.serialize(),
        ephemeral.publicKey.serialize(),
      );
      expect(toHex(salt)).toBe(v1.ephemeralSalt);
      const dh1 = await ephemeral.privateKey.agree(recipient.publicKey, provider);
      expect(toHex(dh1)).toBe(v1.ephemeralSharedSecret);
      const okm1 = await provider.hkdfSha256(dh1, salt, new Uint8Array(0), 96);
      expect(toHex(okm1)).toBe(v1.ephemeralOkm96);
      const encryptedStatic = await ctrHmacEncrypt(
        okm1.subarray(32, 64),
        okm1.subarray(64, 96),
        sender.publicKey.serialize(),
        provider,
      );
      expect(toHex(encryptedStatic)).toBe(v1.encryptedStatic);
      expect(toHex(concatBytes(okm1.subarray(0, 32), encryptedStatic))).toBe(v1.staticSalt);
      const dh2 = await sender.privateKey.agree(recipient.publicKey, provider);
      expect(toHex(dh2)).toBe(v1.staticSharedSecret);
      const okm2 = await provider.hkdfSha256(dh2, fromHex(v1.staticSalt), new Uint8Array(0), 96);
      expect(toHex(okm2)).toBe(v1.staticOkm96);
      const encryptedMessage = await ctrHmacEncrypt(
        okm2.subarray(32, 64),
        okm2.subarray(64, 96),
        fromHex(v1.usmc),
        provider,
      );
      expect(toHex(encryptedMessage)).toBe(v1.encryptedMessage);

      const usmc = UnidentifiedSenderMessageContent.deserialize(fromHex(v1.usmc));
      const sealed = await sealV1Envelope(usmc, sender, recipient.publicKey, provider, ephemeral);
      expect(toHex(sealed)).toBe(v1.sealed);
    });

    it('opens the sealed bytes to the same content', async () => {
      const recipient = await keyPairFromHex(v1.recipientIdentityPrivate, provider);
      const usmc = await unseal(fromHex(v1.sealed), recipient, { provider });
      expect(toHex(usmc.serialize())).toBe(v1.usmc);
      expect(toHex(usmc.senderCertificate.identityKey.serialize())).toBe(v1.senderIdentityPublic);
      const root = PublicKey.deserialize(fromHex(v1.trustRootPublic));
      expect(await usmc.senderCertificate.validate(root, usmc.senderCertificate.expiresAt)).toBe(true);
    });
  });

  describe(`sealed sender v2 vector (${label})`, () => {
    it('derives r, K, E, C and AT, and reproduces the SentMessage', async () => {
      const sender = await keyPairFromHex(v2.senderIdentityPrivate, provider);
      const recipient = await keyPairFromHex(v2.recipientIdentityPrivate, provider);
      expect(utf8(v2.labels.r)).toEqual(utf8('Sealed Sender v2: r (2023-08)'));
      const m = fromHex(v2.M);
      expect(toHex(await provider.hkdfSha256(m, undefined, utf8(v2.labels.r), 32))).toBe(v2.r);
      const keys = await deriveV2Keys(m, provider);
      expect(toHex(keys.cipherKey)).toBe(v2.K);
      expect(toHex(keys.ephemeral.publicKey.raw())).toBe(v2.ephemeralPublic32);
      const usmc = UnidentifiedSenderMessageContent.deserialize(fromHex(v2.usmc));
      const sent = await sealMultiRecipientMessage(
        usmc,
        sender,
        [
          {
            serviceId: v2.recipientServiceId,
            identityKey: recipient.publicKey,
            devices: v2.recipientDevices.map(([deviceId, registrationId]) => ({ deviceId, registrationId })),
          },
        ],
        [v2.excludedServiceId],
        provider,
        m,
      );
      expect(toHex(sent)).toBe(v2.sent);
      const single = await sealV2Envelope(usmc, sender, recipient.publicKey, provider, m);
      expect(toHex(single)).toBe(v2.received);
      expect(toHex(single.subarray(1, 33))).toBe(v2.C);
      expect(toHex(single.subarray(33, 49))).toBe(v2.AT);
    });

    it('parses and splits the SentMessage as libsignal did, and opens the ReceivedMessage', async () => {
      const parsed = SealedSenderMultiRecipientMessage.parse(fromHex(v2.sent));
      expect([...parsed.recipients()]).toEqual([
        [
          v2.recipientServiceId,
          {
            deviceIds: v2.recipientDevices.map(([d]) => d),
            registrationIds: v2.recipientDevices.map(([, r]) => r),
          },
        ],
      ]);
      expect(parsed.excludedRecipients()).toEqual([v2.excludedServiceId]);
      expect(toHex(parsed.messageForRecipient(v2.recipientServiceId))).toBe(v2.received);
      const recipient = await keyPairFromHex(v2.recipientIdentityPrivate, provider);
      const usmc = await unseal(fromHex(v2.received), recipient, { provider });
      expect(toHex(usmc.serialize())).toBe(v2.usmc);
      expect(usmc.type).toBe('senderkey');
    });
  });
}
