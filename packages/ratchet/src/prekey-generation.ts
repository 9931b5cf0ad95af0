/**
 * Pre-key generation without a store: one-time EC pre-keys, signed pre-keys and Kyber pre-keys
 * (`PreKeyManager` allocates their ids and stores them).
 */
import {
  type CryptoProvider,
  generateKemKeyPair,
  IdentityKeyPair,
  KeyPair,
  xeddsaSign,
} from '@e2ee-kit/core';
import { resolveRatchetProvider } from './default-provider.js';
import { checkPreKeyId, MAX_PREKEY_ID } from './records/ids.js';
import { KyberPreKeyRecord } from './records/kyber-prekey-record.js';
import { PreKeyRecord } from './records/prekey-record.js';
import { checkTimestamp, SignedPreKeyRecord } from './records/signed-prekey-record.js';

export interface GenerateOptions {
  provider?: CryptoProvider;
  /** Creation time in ms since 1970 (default `Date.now()`). */
  timestamp?: number;
}

/** `count` one-time EC pre-keys with ids `startId, startId+1, …` (no store involved). */
export async function generatePreKeys(
  startId: number,
  count: number,
  options: { provider?: CryptoProvider } = {},
): Promise<PreKeyRecord[]> {
  checkPreKeyId(startId, 'startId');
  if (!Number.isInteger(count) || count < 0 || count > 10_000) throw new RangeError('count must be 0..10000');
  if (startId + count - 1 > MAX_PREKEY_ID) throw new RangeError('pre-key ids would exceed 2^32-1');
  const provider = resolveRatchetProvider(options.provider);
  const out: PreKeyRecord[] = [];
  for (let i = 0; i < count; i++) out.push(new PreKeyRecord(startId + i, await KeyPair.generate(provider)));
  return out;
}

/** The checks and defaults both signed generators share. */
function signedKeyInputs(id: number, options: GenerateOptions) {
  checkPreKeyId(id, 'id');
  const provider = resolveRatchetProvider(options.provider);
  const timestamp = options.timestamp ?? Date.now();
  checkTimestamp(timestamp);
  return { provider, timestamp };
}

/**
 * Runs `f` with `identityKeyPair` as this copy's pair (`IdentityKeyPair.from`: another copy's, in an
 * app that loads two copies of core, is read into a temporary of ours, wiped once `f` is done).
 */
async function withSigner<T>(identityKeyPair: IdentityKeyPair, f: (pair: IdentityKeyPair) => Promise<T>) {
  const pair = IdentityKeyPair.from(identityKeyPair, 'identityKeyPair');
  try {
    return await f(pair);
  } finally {
    if (pair !== identityKeyPair) pair.privateKey.wipe();
  }
}

/** A signed pre-key: fresh EC key pair, XEdDSA signature by `identityKeyPair` over its 33 bytes. */
export async function generateSignedPreKey(
  identityKeyPair: IdentityKeyPair,
  id: number,
  options: GenerateOptions = {},
): Promise<SignedPreKeyRecord> {
  return withSigner(identityKeyPair, async (pair) => {
    const { provider, timestamp } = signedKeyInputs(id, options);
    const kp = await KeyPair.generate(provider);
    const sig = xeddsaSign(pair.privateKey, kp.publicKey.serialize(), provider);
    return new SignedPreKeyRecord(id, timestamp, kp, sig);
  });
}

/** A Kyber-1024 pre-key (type 0x08), signed over its 1569-byte serialization. */
export async function generateKyberPreKey(
  identityKeyPair: IdentityKeyPair,
  id: number,
  options: GenerateOptions & { lastResort?: boolean } = {},
): Promise<KyberPreKeyRecord> {
  return withSigner(identityKeyPair, async (pair) => {
    const { provider, timestamp } = signedKeyInputs(id, options);
    const kp = generateKemKeyPair(provider);
    const sig = xeddsaSign(pair.privateKey, kp.publicKey.serialize(), provider);
    return new KyberPreKeyRecord(id, timestamp, kp, sig, options.lastResort ?? false);
  });
}
