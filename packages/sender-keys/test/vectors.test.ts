// The libsignal vectors (vectors/libsignal/sender-keys-libsignal.json), through every provider.
import { type CryptoProvider, E2eeError, fromHex, nobleProvider, toHex } from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import {
  GroupCipher,
  MissingSenderKeyError,
  SenderKeyDistributionMessage,
  SenderKeyMessage,
  SenderKeyRecord,
} from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';
import { describe, expect, it } from 'vitest';
import { allProviders } from '../../../tools/providers.js';
import { chainStep, messageKeys, nextChainKey } from '../src/kdf.js';
import { permutations, sessions, thrown, vectorSender, vectors } from './helpers.js';

const sender = vectorSender;

/**
 * Providers without the optional synchronous HMAC / HKDF (a custom provider may lack them): the
 * cipher then takes the asynchronous calls, which must give the same bytes.
 */
const withoutSyncKdf = [nobleProvider, nodeProvider].map((p, i) => ({
  label: `${i === 0 ? 'noble' : 'node'} without sync KDF`,
  provider: Object.fromEntries(
    Object.entries(p).filter(([k]) => k !== 'hmacSha256Sync' && k !== 'hkdfSha256Sync'),
  ) as unknown as CryptoProvider,
}));

for (const { label, provider } of [...allProviders, ...withoutSyncKdf]) {
  describe(`libsignal vectors (${label})`, () => {
    for (const [name, session] of Object.entries(sessions)) {
      it(`${name}: decrypts the messages in every order; a second decrypt is a duplicate`, async () => {
        for (const order of permutations(session.messages.length)) {
          const store = new InMemorySenderKeyStore();
          const cipher = new GroupCipher(store, { provider });
          await cipher.processDistributionMessage(sender, fromHex(session.senderKeyDistributionMessageHex));
          for (const i of order) {
            const m = session.messages[i]!;
            const out = await cipher.decrypt(sender, fromHex(m.senderKeyMessageHex));
            expect(toHex(out.plaintext)).toBe(m.plaintextHex);
            expect(out.iteration).toBe(m.iteration);
            expect(out.distributionId).toBe(session.distributionId);
            expect(out.chainId).toBe(session.chainId);
          }
          for (const m of session.messages) {
            const before = store.snapshot();
            const err = await thrown(cipher.decrypt(sender, fromHex(m.senderKeyMessageHex)));
            expect(E2eeError.is(err, 'DUPLICATE_MESSAGE')).toBe(true);
            expect(store.snapshot()).toEqual(before);
          }
        }
      });

      it(`${name}: flipping any signature byte fails the signature check and changes nothing`, async () => {
        const store = new InMemorySenderKeyStore();
        const cipher = new GroupCipher(store, { provider });
        await cipher.processDistributionMessage(sender, fromHex(session.senderKeyDistributionMessageHex));
        const before = store.snapshot();
        const wire = fromHex(session.messages[0]!.senderKeyMessageHex);
        for (let i = wire.length - 64; i < wire.length; i++) {
          for (const bit of [0x01, 0x80]) {
            const bad = wire.slice();
            bad[i] = (bad[i] as number) ^ bit;
            const err = await thrown(cipher.decrypt(sender, bad));
            expect(E2eeError.is(err, 'INVALID_SIGNATURE')).toBe(true);
          }
        }
        expect(store.snapshot()).toEqual(before);
        const ok = await cipher.decrypt(sender, wire);
        expect(toHex(ok.plaintext)).toBe(session.messages[0]!.plaintextHex);
      });
    }
  });
}

describe('fixed-input session: byte-exact codecs and key schedule', () => {
  const f = sessions.fixed;

  for (const { label, provider } of [...allProviders, ...withoutSyncKdf]) {
    it(`the chain and message keys are libsignal's derivation table (${label})`, async () => {
      let chainKey = fromHex(f.chainKeyHex);
      for (const d of f.derivations) {
        expect(toHex(chainKey)).toBe(d.chainKeyHex);
        const step = await chainStep(chainKey, provider);
        expect(toHex(step.seed)).toBe(d.messageKeySeedHex);
        const keys = await messageKeys(step.seed, provider);
        expect([toHex(keys.iv), toHex(keys.cipherKey)]).toEqual([d.ivHex, d.cipherKeyHex]);
        const m = f.messages[d.iteration]!;
        const ct = await provider.aes256CbcEncrypt(keys.cipherKey, keys.iv, fromHex(m.plaintextHex));
        expect(toHex(ct)).toBe(d.ciphertextHex);
        expect(toHex(await nextChainKey(chainKey, provider))).toBe(toHex(step.next));
        chainKey = step.next;
      }
    });
  }

  it('decodes and re-encodes the distribution message byte for byte', () => {
    const skdm = SenderKeyDistributionMessage.deserialize(fromHex(f.senderKeyDistributionMessageHex));
    expect(skdm.distributionId).toBe(f.distributionId);
    expect(skdm.chainId).toBe(f.chainId);
    expect(skdm.iteration).toBe(0);
    expect(toHex(skdm.chainKey())).toBe(f.chainKeyHex);
    expect(toHex(skdm.signingKey.serialize())).toBe(f.signingPublicKeyHex);
    const again = SenderKeyDistributionMessage.create({
      distributionId: f.distributionId,
      chainId: f.chainId,
      iteration: 0,
      chainKey: fromHex(f.chainKeyHex),
      signingKey: skdm.signingKey,
    });
    // iteration 0 is still written (`18 00`)
    expect(toHex(again.serialize())).toBe(f.senderKeyDistributionMessageHex);
  });

  it('encodes the signed part of each message exactly as libsignal', () => {
    for (const d of f.derivations) {
      const signed = SenderKeyMessage.encodeUnsigned({
        distributionId: f.distributionId,
        chainId: f.chainId,
        iteration: d.iteration,
        ciphertext: fromHex(d.ciphertextHex),
      });
      expect(toHex(signed)).toBe(d.signedBytesHex);
      const m = f.messages[d.iteration]!;
      expect(m.senderKeyMessageHex.startsWith(d.signedBytesHex)).toBe(true);
      const parsed = SenderKeyMessage.deserialize(fromHex(m.senderKeyMessageHex));
      expect(toHex(parsed.signedBytes())).toBe(d.signedBytesHex);
      expect(toHex(parsed.ciphertext())).toBe(d.ciphertextHex);
    }
  });

  for (const { label, provider } of allProviders) {
    it(`the receiver record after the SKDM is libsignal's, byte for byte (${label})`, async () => {
      const store = new InMemorySenderKeyStore();
      const cipher = new GroupCipher(store, { provider });
      await cipher.processDistributionMessage(sender, fromHex(f.senderKeyDistributionMessageHex));
      const record = (await store.loadSenderKey(sender, f.distributionId)) as SenderKeyRecord;
      expect(toHex(record.toLibsignal())).toBe(f.receiverRecordAfterSkdmHex);
    });

    it(`a sender record imported from libsignal encrypts libsignal's bytes (${label})`, async () => {
      const store = new InMemorySenderKeyStore();
      store.setRawRecord(
        sender,
        f.distributionId,
        SenderKeyRecord.fromLibsignal(fromHex(f.senderRecordStorageProtobufHex)).serialize(),
      );
      const cipher = new GroupCipher(store, { provider });
      const skdm = await cipher.createDistributionMessage(sender, f.distributionId);
      expect(toHex(skdm.serialize())).toBe(f.senderKeyDistributionMessageHex);
      const receiverStore = new InMemorySenderKeyStore();
      const receiver = new GroupCipher(receiverStore, { provider });
      await receiver.processDistributionMessage(sender, skdm);
      for (const m of f.messages) {
        const wire = await cipher.encrypt(sender, f.distributionId, fromHex(m.plaintextHex));
        const d = f.derivations[m.iteration]!;
        expect(toHex(wire.subarray(0, wire.length - 64))).toBe(d.signedBytesHex);
        expect(toHex((await receiver.decrypt(sender, wire)).plaintext)).toBe(m.plaintextHex);
      }
      const sent = (await store.loadSenderKey(sender, f.distributionId)) as SenderKeyRecord;
      expect(sent.toLibsignal().length).toBeGreaterThan(0);
    });
  }
});

describe('observed libsignal error behaviour (groupDecryptErrorBehaviour)', () => {
  const f = sessions.fixed;
  const obs = vectors.groupDecryptErrorBehaviour;
  const setup = async () => {
    const store = new InMemorySenderKeyStore();
    const cipher = new GroupCipher(store);
    await cipher.processDistributionMessage(sender, fromHex(f.senderKeyDistributionMessageHex));
    return { store, cipher };
  };
  const first = () => fromHex(f.messages[0]!.senderKeyMessageHex);

  it('duplicate', async () => {
    expect(obs['duplicate']!.ok).toBe(false);
    const { cipher } = await setup();
    await cipher.decrypt(sender, first());
    const err = await thrown(cipher.decrypt(sender, first()));
    expect(E2eeError.is(err, 'DUPLICATE_MESSAGE')).toBe(true);
    expect(err.message).toBe(obs['duplicate']!.message);
  });

  it('tampered ciphertext byte and version byte 0x34 fail the signature (low nibble is signed)', async () => {
    const { cipher, store } = await setup();
    const before = store.snapshot();
    const tampered = first();
    tampered[tampered.length - 64 - 1] = (tampered[tampered.length - 64 - 1] as number) ^ 1;
    expect(E2eeError.is(await thrown(cipher.decrypt(sender, tampered)), 'INVALID_SIGNATURE')).toBe(true);
    const v34 = first();
    v34[0] = 0x34;
    const err = await thrown(cipher.decrypt(sender, v34));
    expect(E2eeError.is(err, 'INVALID_SIGNATURE')).toBe(true);
    expect(err.message).toBe(obs['versionByte0x34_lowNibbleIgnoredButSigned']!.message);
    expect(store.snapshot()).toEqual(before);
  });

  it('tampered chain id byte and unknown chain id: missing sender key state', async () => {
    const { cipher } = await setup();
    const wire = first();
    // chain id varint starts after 0x33, 0a 10 <16>, 10
    wire[1 + 2 + 16 + 1] = (wire[1 + 2 + 16 + 1] as number) ^ 1;
    const err = await thrown(cipher.decrypt(sender, wire));
    expect(err).toBeInstanceOf(MissingSenderKeyError);
    expect((err as MissingSenderKeyError).distributionId).toBe(f.distributionId);
    expect((err as MissingSenderKeyError).sender).toEqual(sender);
    expect(obs['tamperedChainIdByte']!.message).toContain('missing sender key state');
  });

  it('unknown distribution id: missing sender key state naming sender and distribution id', async () => {
    const { cipher } = await setup();
    const other = await thrown(
      cipher.decrypt(sender, fromHex(sessions.random.messages[0]!.senderKeyMessageHex)),
    );
    expect(other).toBeInstanceOf(MissingSenderKeyError);
    expect(E2eeError.is(other, 'SENDER_KEY_MISSING')).toBe(true);
    expect((other as MissingSenderKeyError).distributionId).toBe(sessions.random.distributionId);
    const outcome = await cipher.tryDecrypt(
      sender,
      fromHex(sessions.random.messages[0]!.senderKeyMessageHex),
    );
    expect(outcome.status).toBe('missing-sender-key');
    if (outcome.status === 'missing-sender-key') {
      expect(outcome.sender).toEqual(sender);
      expect(outcome.distributionId).toBe(sessions.random.distributionId);
    }
  });

  it('wrong signing key: invalid signature', async () => {
    // Same distribution and chain id as the fixed session, but a different signing key: the random
    // session's SKDM re-labelled would change its bytes, so instead the receiver holds the random
    // session's key under the fixed chain: process a hand-built SKDM with the random key.
    const store = new InMemorySenderKeyStore();
    const cipher = new GroupCipher(store);
    const randomKey = SenderKeyDistributionMessage.deserialize(
      fromHex(sessions.random.senderKeyDistributionMessageHex),
    ).signingKey;
    await cipher.processDistributionMessage(
      sender,
      SenderKeyDistributionMessage.create({
        distributionId: f.distributionId,
        chainId: f.chainId,
        iteration: 0,
        chainKey: fromHex(f.chainKeyHex),
        signingKey: randomKey,
      }),
    );
    const err = await thrown(cipher.decrypt(sender, first()));
    expect(E2eeError.is(err, 'INVALID_SIGNATURE')).toBe(true);
    expect(err.message).toBe(obs['wrongSigningKey']!.message);
  });

  it('version bytes 0x23 / 0x43 and short inputs are decode errors', async () => {
    const { cipher } = await setup();
    const v23 = first();
    v23[0] = 0x23;
    const e23 = await thrown(cipher.decrypt(sender, v23));
    expect(E2eeError.is(e23, 'DECODE')).toBe(true);
    expect(e23.message).toContain('too old <2>');
    const v43 = first();
    v43[0] = 0x43;
    const e43 = await thrown(cipher.decrypt(sender, v43));
    expect(e43.message).toContain('unrecognized <4>');
    expect(obs['versionByte0x23']!.message).toContain('too old <2>');
    expect(obs['versionByte0x43']!.message).toContain('unrecognized <4>');
    const short = await thrown(cipher.decrypt(sender, first().subarray(0, 64)));
    expect(E2eeError.is(short, 'DECODE')).toBe(true);
    expect(short.message).toContain('<64>');
    const skdm = fromHex(f.senderKeyDistributionMessageHex);
    expect(
      E2eeError.is(await thrown(cipher.processDistributionMessage(sender, skdm.subarray(0, 64))), 'DECODE'),
    ).toBe(true);
    const s43 = skdm.slice();
    s43[0] = 0x43;
    const es = await thrown(cipher.processDistributionMessage(sender, s43));
    expect(es.message).toContain('unrecognized <4>');
  });

  it('re-processing the same SKDM, then replaying iteration 0: duplicate (no rewind)', async () => {
    const { cipher, store } = await setup();
    await cipher.decrypt(sender, first());
    const before = store.snapshot();
    const writes = store.writes;
    await cipher.processDistributionMessage(sender, fromHex(f.senderKeyDistributionMessageHex));
    expect(store.snapshot()).toEqual(before);
    expect(store.writes).toBe(writes);
    const err = await thrown(cipher.decrypt(sender, first()));
    expect(E2eeError.is(err, 'DUPLICATE_MESSAGE')).toBe(true);
    expect(err.message).toBe(obs['reprocessSameSkdmThenReplayIteration0']!.message);
  });
});
