/** `createPreKeyBundle`: one complete bundle from a store (tests, demos, single-device setups). */
import type { CryptoProvider, LockManager } from '@e2ee-kit/core';
import { PreKeyBundle } from './bundle.js';
import { BUNDLE_KEYS, PreKeyManager, type PreKeyManagerOptions } from './prekeys.js';
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
  // One operation: a failure (a store error, a device id the bundle refuses) leaves nothing stored.
  return manager[BUNDLE_KEYS](options.preKey !== false, kyberMode, (keys) =>
    PreKeyBundle.from({
      registrationId: keys.registrationId,
      deviceId: options.deviceId,
      preKeyId: keys.preKey?.id,
      preKey: keys.preKey?.publicKey,
      signedPreKeyId: keys.signed.id,
      signedPreKey: keys.signed.publicKey,
      signedPreKeySignature: keys.signed.signature,
      identityKey: keys.identityKey,
      kyberPreKeyId: keys.kyberPreKey?.id,
      kyberPreKey: keys.kyberPreKey?.publicKey,
      kyberPreKeySignature: keys.kyberPreKey?.signature,
    }),
  );
}
