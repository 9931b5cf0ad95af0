// Test/bench helper: attacker-made messages that cost the most to reject (issue 11.3).
import { type CryptoProvider, encodeVarint, KeyPair } from '@e2ee-kit/core';
import { MAX_FORWARD_JUMPS, PreKeySignalMessage, SignalMessage } from '@e2ee-kit/ratchet';

/** The `pq_ratchet` bytes of an SPQR V1 message at epoch 1 with chain index `index`, payload None. */
export function pqRatchetAt(index: number): Uint8Array {
  const idx = encodeVarint(index);
  const pq = new Uint8Array(3 + idx.length);
  pq[0] = 1;
  pq[1] = 1;
  pq.set(idx, 2);
  return pq;
}

/**
 * An 80-byte SignalMessage with a fresh ratchet key, counter 24,999 (the largest jump a receiver
 * accepts), SPQR index 25,000 and a random MAC: every state it is tried on must walk both chains.
 */
export async function forgedSignalMessage(
  provider: CryptoProvider,
  counter = MAX_FORWARD_JUMPS - 1,
): Promise<SignalMessage> {
  const fresh = await KeyPair.generate(provider);
  return SignalMessage.create(
    {
      messageVersion: 4,
      ratchetKey: fresh.publicKey,
      counter,
      previousCounter: 0,
      ciphertext: provider.randomBytes(16),
      pqRatchet: pqRatchetAt(counter + 1),
      addresses: undefined,
    },
    async () => provider.randomBytes(8),
  );
}

/** A real PreKey message (made from the victim's public bundle) whose inner message is forged. */
export async function forgedPreKeyMessage(
  provider: CryptoProvider,
  genuine: PreKeySignalMessage,
): Promise<PreKeySignalMessage> {
  return PreKeySignalMessage.create({
    messageVersion: genuine.messageVersion,
    registrationId: genuine.registrationId,
    preKeyId: genuine.preKeyId,
    signedPreKeyId: genuine.signedPreKeyId,
    kyberPreKeyId: genuine.kyberPreKeyId,
    kyberCiphertext: genuine.kyberCiphertext,
    baseKey: genuine.baseKey,
    identityKey: genuine.identityKey,
    message: await forgedSignalMessage(provider),
  });
}
