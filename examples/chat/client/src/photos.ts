/**
 * Photos end to end: encrypt on this device, upload the opaque blob, and put the pointer (blob id,
 * key, digest, size, type, dimensions) in the end-to-end encrypted message; on the other side,
 * refuse an oversize pointer before downloading, download at most the bound its size allows, verify
 * and decrypt. Every failure is an `AttachmentError` whose message can be shown as it is.
 */
import type { CryptoProvider } from '@e2ee-kit/core';
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

export interface PhotoMeta {
  /** `image/png`, `image/jpeg`, …: only images are sent as photos. */
  readonly contentType: string;
  readonly width?: number | undefined;
  readonly height?: number | undefined;
}

const unavailable = (what: string, err: RelayError) =>
  new AttachmentError(AttachmentErrorCode.Unavailable, `${what} (relay: ${err.code})`, { cause: err });

export async function uploadPhoto(
  api: RelayApi,
  provider: CryptoProvider,
  bytes: Uint8Array,
  meta: PhotoMeta,
): Promise<AttachmentPointer> {
  // The metadata is checked before any work: a pointer that would be refused is never uploaded.
  checkPhotoMeta(meta);
  const enc = await encryptAttachment(bytes, provider);
  try {
    const { id } = await api.uploadAttachment(enc.blob);
    return toPointer(id, enc, meta);
  } catch (err) {
    if (err instanceof RelayError) throw unavailable('the relay did not accept the photo', err);
    throw err;
  }
}

export async function openPhoto(
  api: RelayApi,
  provider: CryptoProvider,
  pointer: AttachmentPointer,
): Promise<Uint8Array> {
  const secrets = pointerSecrets(pointer);
  let blob: Uint8Array;
  try {
    blob = await api.downloadAttachment(pointer.id, maxEncryptedSize(secrets.size));
  } catch (err) {
    if (err instanceof RelayError) throw unavailable('the photo could not be downloaded', err);
    throw err;
  }
  return decryptAttachment(blob, secrets, provider);
}
