/**
 * The key hierarchy: every key derived from the data key (DEK) or wrapping it, and the MACs that
 * authenticate a file's header and slot section under it.
 *
 *   DEK (32 random bytes per backup set, never stored in clear)
 *   ├─ payload key per file = HKDF(DEK, salt = file_nonce, "backup-kdf/v1/payload")
 *   ├─ header-MAC key       = HKDF(DEK, —, "backup-kdf/v1/header-mac")
 *   ├─ slots-MAC key        = HKDF(DEK, —, "backup-kdf/v1/slots-mac")
 *   └─ wrapped once per slot: AES-256-GCM(KEK, nonce = 0¹², AAD = "backup-kdf/v1/wrap" ‖ descriptor)
 *        password: KEK = HKDF(Argon2id(NFKC(password), salt, m, t, p), salt, "backup-kdf/v1/kek/password")
 *        recovery: KEK = HKDF(key material, salt, "backup-kdf/v1/kek/recovery")
 *        external: KEK = HKDF(integrator secret, salt, "backup-kdf/v1/kek/external")
 *
 * The wrap depends only on the slot (never on header fields), so a modified header is reported as
 * such after a correct password instead of looking like a wrong password.
 */
import {
  type CryptoProvider,
  concatBytes,
  constantTimeEqual,
  toHex,
  utf8,
  VerificationError,
  wipe,
} from '@e2ee-kit/core';
import type { Argon2Params, Argon2Provider } from './argon2.js';
import { BackupErrorCode, BackupTamperedError } from './errors.js';
import {
  encodeSlots,
  type FileHeader,
  FORMAT_VERSION,
  HEADER_SIGNED_LENGTH,
  MAGIC,
  type SlotBody,
  type SlotSection,
  slotDescriptor,
} from './format.js';
import type { SlotInfo } from './options.js';
import { type RecoveryKey, recoveryKeySecret } from './recovery-key.js';

/** HKDF and AAD labels of format version 1. */
const LABEL = {
  payload: utf8('backup-kdf/v1/payload'),
  headerMac: utf8('backup-kdf/v1/header-mac'),
  slotsMac: utf8('backup-kdf/v1/slots-mac'),
  wrap: utf8('backup-kdf/v1/wrap'),
  kekPassword: utf8('backup-kdf/v1/kek/password'),
  kekRecovery: utf8('backup-kdf/v1/kek/recovery'),
  kekExternal: utf8('backup-kdf/v1/kek/external'),
};
const ZERO_NONCE = new Uint8Array(12);
const SLOT_ID_LABEL = utf8('backup-kdf/attempt-slot-id');

/**
 * Names a slot for the attempt policy: SHA-256 over the slot's exact encoding (type, length and
 * body: salt, parameters and wrapped key). The unwrap depends on all of these bytes and on no
 * others, so an edit that changes the id also makes the slot unopenable by any secret, and no
 * other slot with this id opens with a different secret.
 */
export async function slotId(p: CryptoProvider, slot: SlotBody): Promise<string> {
  return toHex((await p.sha256(concatBytes(SLOT_ID_LABEL, encodeSlots([slot])))).subarray(0, 16));
}

/** A 32-byte subkey of the DEK (HKDF-SHA256). */
async function subkey(p: CryptoProvider, dek: Uint8Array, salt: Uint8Array | undefined, info: Uint8Array) {
  return p.hkdfSha256(dek, salt, info, 32);
}

/** A slot as `readBackupMetadata` shows it (copies). */
export function slotInfo(s: SlotBody): SlotInfo {
  switch (s.type) {
    case 'password':
      return { type: 'password', argon2: { ...s.params } };
    case 'recovery':
      return { type: 'recovery', format: s.format };
    case 'external':
      return { type: 'external', typeByte: s.typeByte, data: s.data.slice() };
  }
}

/** The DEK wrapped under a slot's KEK (AES-256-GCM, AAD = label ‖ the slot's descriptor). */
export async function wrapDek(
  p: CryptoProvider,
  kek: Uint8Array,
  dek: Uint8Array,
  slot: SlotBody,
): Promise<Uint8Array> {
  return p.aes256GcmEncrypt(kek, ZERO_NONCE, dek, concatBytes(LABEL.wrap, slotDescriptor(slot)));
}

/** The DEK from a slot, or `undefined` when this KEK does not open it. */
export async function unwrapDek(
  p: CryptoProvider,
  kek: Uint8Array,
  slot: SlotBody,
): Promise<Uint8Array | undefined> {
  try {
    const dek = await p.aes256GcmDecrypt(
      kek,
      ZERO_NONCE,
      slot.wrapped,
      concatBytes(LABEL.wrap, slotDescriptor(slot)),
    );
    return dek.length === 32 ? dek : undefined;
  } catch (err) {
    if (err instanceof VerificationError) return undefined;
    throw err;
  }
}

/** A password slot's KEK: HKDF over Argon2id of the normalized password. */
export async function passwordKek(
  p: CryptoProvider,
  argon2: Argon2Provider,
  pw: Uint8Array,
  salt: Uint8Array,
  params: Argon2Params,
): Promise<Uint8Array> {
  const a = await argon2.argon2id({ ...params, password: pw, salt, hashLength: 32 });
  try {
    return await p.hkdfSha256(a, salt, LABEL.kekPassword, 32);
  } finally {
    wipe(a); // also when the HKDF fails
  }
}

/** A file's payload key: one per file, from its random nonce. */
export function payloadKey(p: CryptoProvider, dek: Uint8Array, fileNonce: Uint8Array): Promise<Uint8Array> {
  return subkey(p, dek, fileNonce, LABEL.payload);
}

/** A recovery slot's KEK: HKDF over the key's secret bytes (wiped after). */
export async function recoveryKek(
  p: CryptoProvider,
  key: RecoveryKey,
  salt: Uint8Array,
): Promise<Uint8Array> {
  const secret = recoveryKeySecret(key);
  try {
    return await p.hkdfSha256(secret, salt, LABEL.kekRecovery, 32);
  } finally {
    wipe(secret);
  }
}

/** An external slot's KEK: HKDF over the integrator's secret. */
export function externalKek(p: CryptoProvider, secret: Uint8Array, salt: Uint8Array): Promise<Uint8Array> {
  return p.hkdfSha256(secret, salt, LABEL.kekExternal, 32);
}

/** The header MAC over its signed part (`HEADER_SIGNED_LENGTH` bytes), as written and as checked. */
export async function headerMac(p: CryptoProvider, dek: Uint8Array, signed: Uint8Array): Promise<Uint8Array> {
  const hk = await subkey(p, dek, undefined, LABEL.headerMac);
  const tag = await p.hmacSha256(hk, signed);
  wipe(hk);
  return tag;
}

/** The slot section's MAC over `MAGIC ‖ version ‖ backup id ‖ encoded slots`, as written and as checked. */
export async function slotsMac(
  p: CryptoProvider,
  dek: Uint8Array,
  backupId: Uint8Array,
  encodedSlots: Uint8Array,
): Promise<Uint8Array> {
  const macKey = await subkey(p, dek, undefined, LABEL.slotsMac);
  const mac = await p.hmacSha256(
    macKey,
    concatBytes(MAGIC, Uint8Array.of(FORMAT_VERSION), backupId, encodedSlots),
  );
  wipe(macKey);
  return mac;
}

/** The header's MAC under the DEK; `BackupTamperedError` when it does not hold. */
export async function verifyHeader(p: CryptoProvider, dek: Uint8Array, header: FileHeader): Promise<void> {
  const tag = await headerMac(p, dek, header.bytes.subarray(0, HEADER_SIGNED_LENGTH));
  if (!constantTimeEqual(tag, header.headerTag)) {
    throw new BackupTamperedError(
      BackupErrorCode.HeaderTampered,
      'backup header was modified or belongs to another backup',
    );
  }
}

/** The slot section's MAC, then the header's, under the DEK (`BackupTamperedError` when one fails). */
export async function verifySlotsAndHeader(
  p: CryptoProvider,
  dek: Uint8Array,
  header: FileHeader,
  section: SlotSection,
): Promise<void> {
  const mac = await slotsMac(p, dek, header.backupId, section.macInput);
  if (!constantTimeEqual(mac, section.mac)) {
    throw new BackupTamperedError(
      BackupErrorCode.SlotsTampered,
      'backup slots were modified or belong to another backup',
    );
  }
  await verifyHeader(p, dek, header);
}
