/**
 * Prekeys: the JSON the relay takes for an upload and gives for a bundle, and the refill the relay
 * asks for ("prekeys-low") — one-time keys topped up, signed and last-resort keys rotated when due.
 */
import { fromBase64, toBase64 } from '@e2ee-kit/core';
import {
  type KyberPreKeyRecord,
  PreKeyBundle,
  type PreKeyUpload,
  type SignedPreKeyRecord,
} from '@e2ee-kit/ratchet';
import type { BundleJson, KeyUploadJson, PreKeyCounts, SignedKeyJson } from './api.js';
import type { ClientCore } from './core.js';

export function signedJson(r: SignedPreKeyRecord | KyberPreKeyRecord): SignedKeyJson {
  return { keyId: r.id, publicKey: toBase64(r.publicKey.serialize()), signature: toBase64(r.signature) };
}

export function uploadJson(u: PreKeyUpload): KeyUploadJson {
  const out: KeyUploadJson = {};
  if (u.signedPreKey) out.signedPreKey = signedJson(u.signedPreKey);
  if (u.lastResortKyberPreKey) out.lastResortKyberPreKey = signedJson(u.lastResortKyberPreKey);
  if (u.preKeys.length > 0) {
    out.preKeys = u.preKeys.map((p) => ({ keyId: p.id, publicKey: toBase64(p.publicKey.serialize()) }));
  }
  if (u.kyberPreKeys.length > 0) out.kyberPreKeys = u.kyberPreKeys.map(signedJson);
  return out;
}

export function bundleFrom(b: BundleJson): PreKeyBundle {
  return PreKeyBundle.from({
    registrationId: b.registrationId,
    deviceId: b.deviceId,
    identityKey: fromBase64(b.identityKey),
    signedPreKeyId: b.signedPreKey.keyId,
    signedPreKey: fromBase64(b.signedPreKey.publicKey),
    signedPreKeySignature: fromBase64(b.signedPreKey.signature),
    preKeyId: b.preKey?.keyId ?? null,
    preKey: b.preKey ? fromBase64(b.preKey.publicKey) : null,
    kyberPreKeyId: b.kyberPreKey.keyId,
    kyberPreKey: fromBase64(b.kyberPreKey.publicKey),
    kyberPreKeySignature: fromBase64(b.kyberPreKey.signature),
  });
}

/** Tops up one-time prekeys (and rotates the signed / last-resort keys when due) and uploads them. */
export function refillPreKeys(
  c: ClientCore,
  counts?: { preKeys: number; kyberPreKeys: number },
): Promise<PreKeyCounts> {
  return c.run(async () => {
    const current = counts ?? (await c.api.preKeyStatus());
    const upload = await c.manager.maintain({
      preKeys: current.preKeys,
      kyberPreKeys: current.kyberPreKeys,
    });
    const json = uploadJson(upload);
    if (Object.keys(json).length === 0) return { ...current, low: false };
    const after = await c.api.uploadKeys(json);
    // The relay holds these keys now: maintain stops offering them, and may retire the older ones.
    await c.manager.confirmUpload(upload);
    c.emit('prekeys-refilled', {
      preKeys: upload.preKeys.length,
      kyberPreKeys: upload.kyberPreKeys.length,
    });
    return after;
  });
}
