// Test helpers shared by this package's tests.
import { type Address, type E2eeError, fromHex } from '@e2ee-kit/core';
import { readVectorJson } from '../../../tools/vectors.js';

export interface VectorMessage {
  iteration: number;
  plaintextUtf8: string;
  plaintextHex: string;
  senderKeyMessageHex: string;
}

export interface SenderKeyVectors {
  senderAddress: { name: string; deviceId: number };
  libsignalRandomSession: {
    distributionId: string;
    chainId: number;
    senderKeyDistributionMessageHex: string;
    messages: VectorMessage[];
  };
  fixedInputSession: {
    distributionId: string;
    chainId: number;
    chainKeyHex: string;
    signingPrivateKeyHex_senderOnly_notNeededToDecrypt: string;
    signingPublicKeyHex: string;
    senderRecordStorageProtobufHex: string;
    receiverRecordAfterSkdmHex: string;
    senderKeyDistributionMessageHex: string;
    derivations: Array<{
      iteration: number;
      chainKeyHex: string;
      messageKeySeedHex: string;
      ivHex: string;
      cipherKeyHex: string;
      ciphertextHex: string;
      signedBytesHex: string;
    }>;
    messages: VectorMessage[];
  };
  groupDecryptErrorBehaviour: Record<string, { ok: boolean; message?: string; plaintext?: string }>;
}

export const vectors = readVectorJson<SenderKeyVectors>('libsignal/sender-keys-libsignal.json');
export const vectorSender: Address = Object.freeze({ ...vectors.senderAddress });
export const sessions = {
  random: vectors.libsignalRandomSession,
  fixed: vectors.fixedInputSession,
} as const;

export const hex = fromHex;

/** Runs `p` and returns what it threw (fails the test if it resolved). */
export async function thrown(p: Promise<unknown>): Promise<E2eeError> {
  try {
    await p;
  } catch (err) {
    return err as E2eeError;
  }
  throw new Error('expected a rejection');
}

/** All permutations of 0..n-1 (n ≤ 4 here). */
export function permutations(n: number): number[][] {
  if (n === 0) return [[]];
  const out: number[][] = [];
  for (const rest of permutations(n - 1)) {
    for (let i = 0; i <= rest.length; i++) out.push([...rest.slice(0, i), n - 1, ...rest.slice(i)]);
  }
  return out;
}
