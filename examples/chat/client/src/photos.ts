/**
 * Photos end to end: encrypt on this device, upload the opaque blob, and put the pointer (blob id,
 * key, digest, size, type, dimensions) in the end-to-end encrypted message; on the other side,
 * refuse an oversize pointer before downloading, download at most the bound its size allows, verify
 * and decrypt. Every failure is an `AttachmentError` whose message can be shown as it is.
 */
import { type CryptoProvider, toBase64 } from '@e2ee-kit/core';
import { type RelayApi, RelayError } from './api.js';
import {
  AttachmentError,
  AttachmentErrorCode,
  type AttachmentPointer,
  checkPhotoMeta,
  decryptAttachment,
  encryptAttachment,
  maxEncryptedSize,
  pointerSecrets,
  toPointer,
} from './attachments.js';
import { isRetryable } from './outbox.js';

export interface PhotoMeta {
  /** `image/png`, `image/jpeg`, …: only images are sent as photos. */
  readonly contentType: string;
  readonly width?: number | undefined;
  readonly height?: number | undefined;
}

const unavailable = (what: string, err: RelayError) =>
  new AttachmentError(AttachmentErrorCode.Unavailable, `${what} (relay: ${err.code})`, { cause: err });

/** A photo encrypted on this device: its blob, and its pointer once the blob has the relay's `id`. */
export interface EncryptedPhoto {
  readonly blob: Uint8Array;
  /** The blob's SHA-256, base64 (the pointer's digest). */
  readonly digest: string;
  pointer(id: string): AttachmentPointer;
}

/**
 * Encrypts a photo under a fresh attachment key. The metadata is checked before any work: a
 * pointer that would be refused is never uploaded. Throws `AttachmentError` (too large, not an image).
 */
export async function encryptPhoto(
  provider: CryptoProvider,
  bytes: Uint8Array,
  meta: PhotoMeta,
): Promise<EncryptedPhoto> {
  checkPhotoMeta(meta);
  const enc = await encryptAttachment(bytes, provider);
  return { blob: enc.blob, digest: toBase64(enc.digest), pointer: (id) => toPointer(id, enc, meta) };
}

/**
 * Uploads an encrypted blob (`digest`: its SHA-256, base64, as in its pointer); returns the relay's
 * id. The relay's refusal is an `AttachmentError` (Unavailable); no answer at all (the relay is down) is rethrown as it came, so the caller can
 * keep the photo in the outbox (`isRetryable`).
 */
export async function uploadBlob(api: RelayApi, blob: Uint8Array, digest: string): Promise<string> {
  try {
    return (await api.uploadAttachment(blob, digest)).id;
  } catch (err) {
    if (err instanceof RelayError && !isRetryable(err))
      throw unavailable('the relay did not accept the photo', err);
    throw err;
  }
}

/** Downloads (unless `local` holds the blob), verifies and decrypts a photo. */
export async function openPhoto(
  api: RelayApi,
  provider: CryptoProvider,
  pointer: AttachmentPointer,
  local?: Uint8Array,
): Promise<Uint8Array> {
  const secrets = pointerSecrets(pointer);
  let blob: Uint8Array;
  try {
    blob = local ?? (await api.downloadAttachment(pointer.id, maxEncryptedSize(secrets.size)));
  } catch (err) {
    if (err instanceof RelayError) throw unavailable('the photo could not be downloaded', err);
    throw err;
  }
  return decryptAttachment(blob, secrets, provider);
}
