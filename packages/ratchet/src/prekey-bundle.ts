/** `createPreKeyBundle`: one complete bundle from a store (tests, demos, single-device setups). */
import type { CryptoProvider, LockManager } from '@e2ee-kit/core';
import { PreKeyBundle } from './bundle.js';
import { PreKeyManager, type PreKeyManagerOptions } from './prekeys.js';
import type { KyberPreKeyRecord } from './records/kyber-prekey-record.js';
import { assertProtocolStore, type ProtocolStore } from './stores.js';

export interface CreatePreKeyBundleOptions {
  /** The device id the bundle is for (1..127). */
  deviceId: number;
  provider?: CryptoProvider;
  now?: () => number;
  /** The pre-key lock (see `PreKeyManagerOptions.lockManager`). */
  lockManager?: LockManager;
  /** Include a one-time EC pre-key (default true). */
  preKey?: boolean;
  /**
   * Kyber pre-key: a fresh one-time key (default), the current last-resort key (created if missing),
   * or none (`false`, a legacy X3DH bundle).
   */
  kyberPreKey?: 'one-time' | 'last-resort' | false;
}

/**
 * A complete bundle for this store's identity: the current signed pre-key (created if there is none),
 * a fresh one-time pre-key and a fresh one-time Kyber pre-key, all stored. For tests, demos and apps
 * that hand bundles out directly; a server-based app uploads keys from `PreKeyManager` instead.
 */
export async function createPreKeyBundle(
  store: ProtocolStore,
  options: CreatePreKeyBundleOptions,
): Promise<PreKeyBundle> {
  assertProtocolStore(store);
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  const kyberMode = options.kyberPreKey ?? 'one-time';
  if (kyberMode !== 'one-time' && kyberMode !== 'last-resort' && kyberMode !== false)
    throw new TypeError("kyberPreKey must be 'one-time', 'last-resort' or false");
  const mgrOptions: PreKeyManagerOptions = {};
  if (options.provider) mgrOptions.provider = options.provider;
  if (options.now) mgrOptions.now = options.now;
  if (options.lockManager) mgrOptions.lockManager = options.lockManager;
  const manager = new PreKeyManager(store, mgrOptions);
  const signed = (await manager.currentSignedPreKey()) ?? (await manager.rotateSignedPreKey());
  const preKey = options.preKey === false ? undefined : (await manager.generatePreKeys(1))[0];
  let kyber: KyberPreKeyRecord | undefined;
  if (kyberMode === 'one-time') kyber = (await manager.generateKyberPreKeys(1))[0];
  else if (kyberMode === 'last-resort')
    kyber = (await manager.currentLastResortKyberPreKey()) ?? (await manager.rotateLastResortKyberPreKey());
  const identity = await store.getIdentityKeyPair();
  return PreKeyBundle.from({
    registrationId: await store.getLocalRegistrationId(),
    deviceId: options.deviceId,
    preKeyId: preKey?.id,
    preKey: preKey?.publicKey,
    signedPreKeyId: signed.id,
    signedPreKey: signed.publicKey,
    signedPreKeySignature: signed.signature,
    identityKey: identity.publicKey,
    kyberPreKeyId: kyber?.id,
    kyberPreKey: kyber?.publicKey,
    kyberPreKeySignature: kyber?.signature,
  });
}
