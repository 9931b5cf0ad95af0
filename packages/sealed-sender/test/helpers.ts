// Shared test helpers: the libsignal vectors and small key utilities.
import { type CryptoProvider, type E2eeError, fromHex, KeyPair, PrivateKey } from '@e2ee-kit/core';
import { readVectorJson } from '../../../tools/vectors.js';

export interface V1Vector {
  recipientIdentityPrivate: string;
  recipientIdentityPublic: string;
  senderIdentityPrivate: string;
  senderIdentityPublic: string;
  ephemeralPrivate: string;
  ephemeralPublic: string;
  trustRootPublic: string;
  usmc: string;
  ephemeralSalt: string;
  ephemeralSharedSecret: string;
  ephemeralOkm96: string;
  encryptedStatic: string;
  staticSalt: string;
  staticSharedSecret: string;
  staticOkm96: string;
  encryptedMessage: string;
  sealed: string;
}

export interface V2Vector {
  labels: { r: string; K: string; DH: string; DHsender: string };
  senderIdentityPrivate: string;
  senderIdentityPublic: string;
  recipientIdentityPrivate: string;
  recipientIdentityPublic: string;
  recipientServiceId: string;
  recipientDevices: Array<[number, number]>;
  excludedServiceId: string;
  M: string;
  r: string;
  K: string;
  ephemeralPublic32: string;
  C: string;
  AT: string;
  usmc: string;
  sent: string;
  received: string;
}

export const v1 = readVectorJson<V1Vector>('libsignal/sealed-sender-v1.json');
export const v2 = readVectorJson<V2Vector>('libsignal/sealed-sender-v2.json');

export function keyPairFromHex(privateHex: string, provider: CryptoProvider): Promise<KeyPair> {
  return KeyPair.fromPrivateKey(PrivateKey.deserialize(fromHex(privateHex)), provider);
}

/** The rejection of `p` (fails the test if it resolves). */
export async function rejection(p: Promise<unknown>): Promise<E2eeError> {
  try {
    await p;
  } catch (err) {
    return err as E2eeError;
  }
  throw new Error('expected a rejection');
}
