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
function signedKeyInputs(identityKeyPair: IdentityKeyPair, id: number, options: GenerateOptions) {
  if (!(identityKeyPair instanceof IdentityKeyPair))
    throw new TypeError('identityKeyPair must be an IdentityKeyPair');
  checkPreKeyId(id, 'id');
  const provider = resolveRatchetProvider(options.provider);
  const timestamp = options.timestamp ?? Date.now();
  checkTimestamp(timestamp);
  return { provider, timestamp };
}

/** A signed pre-key: fresh EC key pair, XEdDSA signature by `identityKeyPair` over its 33 bytes. */
export async function generateSignedPreKey(
  identityKeyPair: IdentityKeyPair,
  id: number,
  options: GenerateOptions = {},
): Promise<SignedPreKeyRecord> {
  const { provider, timestamp } = signedKeyInputs(identityKeyPair, id, options);
  const kp = await KeyPair.generate(provider);
  const sig = xeddsaSign(identityKeyPair.privateKey, kp.publicKey.serialize(), provider);
  return new SignedPreKeyRecord(id, timestamp, kp, sig);
}

/** A Kyber-1024 pre-key (type 0x08), signed over its 1569-byte serialization. */
export async function generateKyberPreKey(
  identityKeyPair: IdentityKeyPair,
  id: number,
  options: GenerateOptions & { lastResort?: boolean } = {},
): Promise<KyberPreKeyRecord> {
  const { provider, timestamp } = signedKeyInputs(identityKeyPair, id, options);
  const kp = generateKemKeyPair(provider);
  const sig = xeddsaSign(identityKeyPair.privateKey, kp.publicKey.serialize(), provider);
  return new KyberPreKeyRecord(id, timestamp, kp, sig, options.lastResort ?? false);
}
