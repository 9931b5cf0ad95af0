import type { Address, CryptoProvider } from '@e2ee-kit/core';
import type { PreKeyBundle } from './bundle.js';
import type { DecryptedMessage, EncryptedMessage, WireMessageType } from './session-cipher.js';
import type { ProtocolStore } from './stores.js';

export interface ProtocolContext {
  readonly store: ProtocolStore;
  readonly remote: Address;
  readonly local: Address | undefined;
  readonly provider: CryptoProvider;
  readonly acceptX3dh: boolean;
  readonly now: () => number;
}

export async function initiateSession(
  _ctx: ProtocolContext,
  _bundle: PreKeyBundle,
  _protocol: 'pqxdh' | 'x3dh',
): Promise<void> {
  throw new Error('in progress');
}
export async function encryptMessage(
  _ctx: ProtocolContext,
  _plaintext: Uint8Array,
): Promise<EncryptedMessage> {
  throw new Error('in progress');
}
export async function decryptMessage(
  _ctx: ProtocolContext,
  _type: WireMessageType,
  _body: Uint8Array,
): Promise<DecryptedMessage> {
  throw new Error('in progress');
}
