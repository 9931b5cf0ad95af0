/**
 * What every protocol step gets (the store, the two addresses, the provider, options) and the small
 * helpers they share.
 */
import {
  type Address,
  type CryptoProvider,
  constantTimeEqual,
  PrivateKey,
  VerificationError,
} from '@e2ee-kit/core';
import { RatchetErrorCode } from './errors.js';
import { sameServiceId } from './service-id.js';
import type { ProtocolStore } from './stores.js';

export interface ProtocolContext {
  readonly store: ProtocolStore;
  readonly remote: Address;
  readonly local: Address | undefined;
  readonly provider: CryptoProvider;
  readonly acceptX3dh: boolean;
  readonly now: () => number;
  /**
   * The last ratchet private key this cipher generated or loaded, as a key object. Providers cache
   * imported keys per key object, so reusing it saves a key import on the next DH ratchet step.
   * Only used when its bytes equal the stored state's.
   */
  ratchetKeyCache: { publicKey: Uint8Array; privateKey: PrivateKey } | undefined;
}

export function cachedPrivateKey(
  ctx: ProtocolContext,
  publicKey: Uint8Array,
  privateKey: Uint8Array,
): PrivateKey {
  const c = ctx.ratchetKeyCache;
  if (c && bytesEqual(c.publicKey, publicKey) && constantTimeEqual(c.privateKey.rawView, privateKey))
    return c.privateKey;
  return PrivateKey.deserialize(privateKey);
}

export function invalidMessage(message: string, cause?: unknown): VerificationError {
  return new VerificationError(message, {
    code: RatchetErrorCode.InvalidMessage,
    ...(cause === undefined ? {} : { cause }),
  });
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** libsignal's `is_same_account`: same identity key and both names the same ServiceId. */
export function isSelfSession(
  ctx: ProtocolContext,
  local: Uint8Array,
  remote: Uint8Array | undefined,
): boolean {
  return (
    ctx.local !== undefined &&
    remote !== undefined &&
    bytesEqual(local, remote) &&
    sameServiceId(ctx.local, ctx.remote)
  );
}
