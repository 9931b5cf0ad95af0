// Test helpers shared by this package's tests.
import { type Address, type CryptoProvider, type E2eeError, fromHex, ProtoWriter } from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import { GroupCipher, type SenderKeyRecord } from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';
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

/**
 * The vectors' fixed-input sender (libsignal's chain key 00..1f and signing key) advanced to
 * `iteration` (or with a given chain key placed at `iteration`), as libsignal's own storage bytes:
 * lets tests produce messages at any iteration without signing every message in between. The chain
 * steps are HMAC-SHA256(ck, 0x02) (checked against the vectors' derivation table in vectors.test.ts).
 */
export async function fixedSenderRecordAt(
  iteration: number,
  options: { provider?: CryptoProvider; chainKey?: Uint8Array } = {},
): Promise<Uint8Array> {
  const f = sessions.fixed;
  const provider = options.provider ?? nodeProvider;
  let ck = options.chainKey ?? fromHex(f.chainKeyHex);
  if (options.chainKey === undefined) {
    for (let i = 0; i < iteration; i++) ck = await provider.hmacSha256(ck, Uint8Array.of(2));
  }
  const chain = new ProtoWriter();
  if (iteration !== 0) chain.uint32(1, iteration);
  chain.bytes(2, ck);
  const state = new ProtoWriter()
    .uint32(1, f.chainId)
    .bytes(2, chain.finish())
    .bytes(
      3,
      new ProtoWriter()
        .bytes(1, fromHex(f.signingPublicKeyHex))
        .bytes(2, fromHex(f.signingPrivateKeyHex_senderOnly_notNeededToDecrypt))
        .finish(),
    )
    .uint32(5, 3)
    .finish();
  return new ProtoWriter().bytes(1, state).finish();
}

/** A sending cipher for `sender` and a receiver of its chains under `distributionId`, on one settable clock. */
export function senderAndReceiver(sender: Address, distributionId: string) {
  const clock = { now: 1_800_000_000_000 };
  const sending = new GroupCipher(new InMemorySenderKeyStore(), { now: () => clock.now });
  const receiverStore = new InMemorySenderKeyStore();
  const receiver = new GroupCipher(receiverStore, { now: () => clock.now });
  const load = async () => (await receiverStore.loadSenderKey(sender, distributionId)) as SenderKeyRecord;
  return { clock, sender: sending, receiver, receiverStore, load };
}
