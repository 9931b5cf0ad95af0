/**
 * Key material on the wire: strict parsing of uploaded public keys (types, lengths, XEdDSA signatures
 * by the identity key) and the JSON form of the bundles handed out.
 */
import { nobleProvider, PublicKey, xeddsaVerify } from '@e2ee-kit/core';
import type { Bundle, KeyUpload, KyberPreKeyRow, PreKeyRow, SignedPreKeyRow } from './db.js';
import { base64 } from './encoding.js';
import type { RelayLimits } from './limits.js';
import { arr, b64, bad, HttpError, int, type Json, obj } from './validate.js';

export const EC_KEY_LENGTH = 33;
export const KEM_KEY_LENGTH = 1569;
export const SIGNATURE_LENGTH = 64;
/** Kyber-1024 (libsignal's 0x08) and ML-KEM-1024 (0x0A). */
const KEM_TYPES = new Set([0x08, 0x0a]);
const MAX_KEY_ID = 0xffffffff;

export function ecKey(v: Json, path: string): Uint8Array {
  const k = b64(v, path, { exact: EC_KEY_LENGTH });
  if (k[0] !== 0x05) throw bad(path, 'must be a Curve25519 public key (type byte 0x05)');
  return k;
}

function kemKey(v: Json, path: string): Uint8Array {
  const k = b64(v, path, { exact: KEM_KEY_LENGTH });
  if (!KEM_TYPES.has(k[0] as number)) throw bad(path, 'must be a Kyber-1024 / ML-KEM-1024 public key');
  return k;
}

async function checkSignature(identity: Uint8Array, key: Uint8Array, sig: Uint8Array, path: string) {
  const ok = await xeddsaVerify(PublicKey.deserialize(identity), key, sig, nobleProvider);
  if (!ok)
    throw new HttpError(400, 'bad_signature', `${path}.signature does not verify with the identity key`);
}

/** A signed key (signed prekey or Kyber prekey): id, public key of the kind `key` parses, signature. */
async function signedKey(
  v: Json,
  path: string,
  identity: Uint8Array,
  key: (v: Json, path: string) => Uint8Array,
): Promise<SignedPreKeyRow> {
  const o = obj(v, path, ['keyId', 'publicKey', 'signature']);
  const row = {
    keyId: int(o['keyId'], `${path}.keyId`, 0, MAX_KEY_ID),
    publicKey: key(o['publicKey'], `${path}.publicKey`),
    signature: b64(o['signature'], `${path}.signature`, { exact: SIGNATURE_LENGTH }),
  };
  await checkSignature(identity, row.publicKey, row.signature, path);
  return row;
}

const signedPreKey = (v: Json, path: string, identity: Uint8Array): Promise<SignedPreKeyRow> =>
  signedKey(v, path, identity, ecKey);
const kyberPreKey = (v: Json, path: string, identity: Uint8Array): Promise<KyberPreKeyRow> =>
  signedKey(v, path, identity, kemKey);

function preKey(v: Json, path: string): PreKeyRow {
  const o = obj(v, path, ['keyId', 'publicKey']);
  return {
    keyId: int(o['keyId'], `${path}.keyId`, 0, MAX_KEY_ID),
    publicKey: ecKey(o['publicKey'], `${path}.publicKey`),
  };
}

function uniqueIds(rows: readonly { keyId: number }[], path: string): void {
  if (new Set(rows.map((r) => r.keyId)).size !== rows.length) throw bad(path, 'has a repeated keyId');
}

export async function parseUpload(
  v: Json,
  path: string,
  identity: Uint8Array,
  limits: RelayLimits,
  required: boolean,
): Promise<KeyUpload> {
  const o = obj(v, path, ['signedPreKey', 'lastResortKyberPreKey', 'preKeys', 'kyberPreKeys']);
  if (required && (o['signedPreKey'] === undefined || o['lastResortKyberPreKey'] === undefined)) {
    throw bad(path, 'needs signedPreKey and lastResortKyberPreKey');
  }
  const preKeys =
    o['preKeys'] === undefined ? [] : arr(o['preKeys'], `${path}.preKeys`, limits.maxPreKeysPerUpload);
  const kyber =
    o['kyberPreKeys'] === undefined
      ? []
      : arr(o['kyberPreKeys'], `${path}.kyberPreKeys`, limits.maxKyberPreKeysPerUpload);
  const out: KeyUpload = {
    signedPreKey:
      o['signedPreKey'] === undefined
        ? undefined
        : await signedPreKey(o['signedPreKey'], `${path}.signedPreKey`, identity),
    lastResortKyberPreKey:
      o['lastResortKyberPreKey'] === undefined
        ? undefined
        : await kyberPreKey(o['lastResortKyberPreKey'], `${path}.lastResortKyberPreKey`, identity),
    preKeys: preKeys.map((p, i) => preKey(p, `${path}.preKeys[${i}]`)),
    kyberPreKeys: await Promise.all(
      kyber.map((k, i) => kyberPreKey(k, `${path}.kyberPreKeys[${i}]`, identity)),
    ),
  };
  uniqueIds(out.preKeys ?? [], `${path}.preKeys`);
  const allKyber = [
    ...(out.kyberPreKeys ?? []),
    ...(out.lastResortKyberPreKey ? [out.lastResortKyberPreKey] : []),
  ];
  uniqueIds(allKyber, `${path}.kyberPreKeys`);
  return out;
}

/**
 * A registering or linking device's `device` object: its registration id, identity key and keys,
 * every prekey signature checked against that identity key (a first upload: signed and last-resort
 * keys required).
 */
export async function parseDeviceRegistration(v: Json, path: string, limits: RelayLimits) {
  const d = obj(v, path, [
    'registrationId',
    'identityKey',
    'signedPreKey',
    'lastResortKyberPreKey',
    'preKeys',
    'kyberPreKeys',
  ]);
  const registrationId = int(d['registrationId'], `${path}.registrationId`, 0, 0x7fffffff);
  const identityKey = ecKey(d['identityKey'], `${path}.identityKey`);
  const { registrationId: _r, identityKey: _i, ...keyFields } = d;
  const upload = await parseUpload(keyFields, path, identityKey, limits, true);
  return { registrationId, identityKey, upload };
}

export function bundleJson(b: Bundle) {
  return {
    deviceId: b.deviceId,
    registrationId: b.registrationId,
    identityKey: base64(b.identityKey),
    signedPreKey: {
      keyId: b.signedPreKey.keyId,
      publicKey: base64(b.signedPreKey.publicKey),
      signature: base64(b.signedPreKey.signature),
    },
    preKey: b.preKey ? { keyId: b.preKey.keyId, publicKey: base64(b.preKey.publicKey) } : null,
    kyberPreKey: {
      keyId: b.kyberPreKey.keyId,
      publicKey: base64(b.kyberPreKey.publicKey),
      signature: base64(b.kyberPreKey.signature),
      lastResort: b.kyberPreKey.lastResort,
    },
  };
}

export function prekeyStatus(counts: { preKeys: number; kyberPreKeys: number }, limits: RelayLimits) {
  return {
    preKeys: counts.preKeys,
    kyberPreKeys: counts.kyberPreKeys,
    low: counts.preKeys < limits.lowPreKeys || counts.kyberPreKeys < limits.lowKyberPreKeys,
  };
}
