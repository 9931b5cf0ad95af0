/**
 * Encrypted attachments, as Signal's: each file gets its own random 64-byte key (a 32-byte AES-256
 * key ‖ a 32-byte HMAC-SHA256 key) and is uploaded as one opaque blob
 *
 *   IV (16) ‖ AES-256-CBC/PKCS#7(plaintext ‖ zero padding) ‖ HMAC-SHA256(macKey, IV ‖ ciphertext) (32)
 *
 * whose SHA-256 is its digest. The key, the digest and the plaintext size travel in the end-to-end
 * encrypted message (the pointer); the relay stores bytes it cannot read. The plaintext is padded to
 * Signal's size buckets (steps of 5 %, at least 541 bytes) so the blob's length tells the relay little
 * about the file's.
 *
 * Opening checks, in this order and before any decryption: the sizes (bounded work: a pointer larger
 * than the limit is refused before anything is downloaded), the MAC (constant time), the digest
 * (constant time); only then is the ciphertext decrypted and trimmed to the pointer's size.
 */
import {
  type CryptoProvider,
  concatBytes,
  constantTimeEqual,
  E2eeError,
  fromBase64,
  toBase64,
} from '@e2ee-kit/core';

/** Largest photo (plaintext) sent or opened: 10 MiB. */
export const MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024;
export const ATTACHMENT_KEY_LENGTH = 64;
export const ATTACHMENT_DIGEST_LENGTH = 32;
const IV_LENGTH = 16;
const MAC_LENGTH = 32;
const BLOCK = 16;
const MIN_PADDED = 541;
const MAX_CONTENT_TYPE = 100;
const MAX_DIMENSION = 100_000;

export const AttachmentErrorCode = {
  /** Over the size limit: refused before encrypting, downloading or decrypting. */
  TooLarge: 'ATTACHMENT_TOO_LARGE',
  /** A blob of the wrong length (truncated or extended), or a pointer that is not well formed. */
  Malformed: 'ATTACHMENT_MALFORMED',
  /** The blob's HMAC does not verify with the pointer's key: it was changed after encryption. */
  BadMac: 'ATTACHMENT_BAD_MAC',
  /** The blob is not the one the sender's pointer names (its SHA-256 differs). */
  BadDigest: 'ATTACHMENT_BAD_DIGEST',
  /** The relay does not have the blob (expired, or never uploaded) or could not be reached. */
  Unavailable: 'ATTACHMENT_UNAVAILABLE',
} as const;
export type AttachmentErrorCode = (typeof AttachmentErrorCode)[keyof typeof AttachmentErrorCode];

/** Why an attachment could not be sent or opened. `message` is a sentence fit for the UI; it never carries key bytes. */
export class AttachmentError extends E2eeError {
  constructor(code: AttachmentErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'AttachmentError';
  }
}

declare module '@e2ee-kit/core' {
  interface E2eeErrorCodeMap extends Record<AttachmentErrorCode, E2eeError> {
    ATTACHMENT_TOO_LARGE: AttachmentError;
    ATTACHMENT_MALFORMED: AttachmentError;
    ATTACHMENT_BAD_MAC: AttachmentError;
    ATTACHMENT_BAD_DIGEST: AttachmentError;
    ATTACHMENT_UNAVAILABLE: AttachmentError;
  }
}

/** What the message carries about an uploaded attachment (all JSON: it is stored with the message). */
export interface AttachmentPointer {
  /** The relay's id of the blob. */
  readonly id: string;
  /** base64 of the 64-byte key (AES-256 key ‖ HMAC-SHA256 key). */
  readonly key: string;
  /** base64 of the blob's SHA-256. */
  readonly digest: string;
  /** Plaintext size in bytes. */
  readonly size: number;
  readonly contentType: string;
  readonly width?: number;
  readonly height?: number;
}

export interface EncryptedAttachment {
  readonly blob: Uint8Array;
  readonly key: Uint8Array;
  readonly digest: Uint8Array;
  readonly size: number;
}

const MiB = (n: number) => `${Math.round((n / (1024 * 1024)) * 10) / 10} MiB`;
const tooLarge = (size: number) =>
  new AttachmentError(
    AttachmentErrorCode.TooLarge,
    `the photo is ${MiB(size)}, over the ${MiB(MAX_ATTACHMENT_BYTES)} limit`,
  );
const isSize = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0;

/** Signal's padding bucket for a plaintext of `size` bytes (steps of 5 %, at least 541). */
export function paddedSize(size: number): number {
  if (size <= 1) return MIN_PADDED;
  // Never below `size`, even where 1.05^k rounds down just under an exact power.
  return Math.max(MIN_PADDED, size, Math.floor(1.05 ** Math.ceil(Math.log(size) / Math.log(1.05))));
}

/**
 * The longest blob a sender can produce for `size` bytes. The bucket is below `size × 1.05 + 1`
 * whatever the sender's floating point did; a receiver accepts any length up to this bound (and
 * never computes the sender's bucket itself), so two engines never disagree on a valid blob.
 */
export function maxEncryptedSize(size: number): number {
  const padded = Math.max(MIN_PADDED, Math.ceil(size * 1.05) + 1);
  return IV_LENGTH + (Math.floor(padded / BLOCK) + 1) * BLOCK + MAC_LENGTH;
}

/** Encrypts `plaintext` under a fresh key. Refuses more than `MAX_ATTACHMENT_BYTES`. */
export async function encryptAttachment(
  plaintext: Uint8Array,
  provider: CryptoProvider,
): Promise<EncryptedAttachment> {
  if (!(plaintext instanceof Uint8Array)) throw new TypeError('plaintext must be a Uint8Array');
  if (plaintext.length > MAX_ATTACHMENT_BYTES) throw tooLarge(plaintext.length);
  const key = provider.randomBytes(ATTACHMENT_KEY_LENGTH);
  const iv = provider.randomBytes(IV_LENGTH);
  // A fresh zero-filled buffer: the caller's bytes are copied, never padded in place.
  const padded = new Uint8Array(paddedSize(plaintext.length));
  padded.set(plaintext);
  const ciphertext = await provider.aes256CbcEncrypt(key.subarray(0, 32), iv, padded);
  const mac = await provider.hmacSha256(key.subarray(32), concatBytes(iv, ciphertext));
  const blob = concatBytes(iv, ciphertext, mac);
  return { blob, key, digest: await provider.sha256(blob), size: plaintext.length };
}

/** The key, digest and size of a pointer, checked. Throws `AttachmentError` (never a RangeError). */
export function pointerSecrets(p: AttachmentPointer): { key: Uint8Array; digest: Uint8Array; size: number } {
  if (!isAttachmentPointer(p)) {
    throw new AttachmentError(AttachmentErrorCode.Malformed, 'the photo reference is malformed');
  }
  if (p.size > MAX_ATTACHMENT_BYTES) throw tooLarge(p.size);
  return { key: fromBase64(p.key), digest: fromBase64(p.digest), size: p.size };
}

/**
 * Verifies (MAC, then digest, both in constant time) and decrypts a downloaded blob. Any failure
 * is an `AttachmentError`: TOO_LARGE, MALFORMED (wrong length, bad padding), BAD_MAC, BAD_DIGEST.
 */
export async function decryptAttachment(
  blob: Uint8Array,
  secrets: { key: Uint8Array; digest: Uint8Array; size: number },
  provider: CryptoProvider,
): Promise<Uint8Array> {
  const { key, digest, size } = secrets;
  if (!isSize(size)) throw new AttachmentError(AttachmentErrorCode.Malformed, 'the photo size is invalid');
  if (size > MAX_ATTACHMENT_BYTES) throw tooLarge(size);
  if (key.length !== ATTACHMENT_KEY_LENGTH || digest.length !== ATTACHMENT_DIGEST_LENGTH) {
    throw new AttachmentError(AttachmentErrorCode.Malformed, 'the photo key or digest has the wrong length');
  }
  const ctLength = blob.length - IV_LENGTH - MAC_LENGTH;
  if (
    blob.length > maxEncryptedSize(size) ||
    ctLength < (Math.floor(size / BLOCK) + 1) * BLOCK ||
    ctLength % BLOCK !== 0
  ) {
    throw new AttachmentError(
      AttachmentErrorCode.Malformed,
      'the downloaded photo has the wrong length (truncated or extended)',
    );
  }
  const body = blob.subarray(0, blob.length - MAC_LENGTH);
  const mac = await provider.hmacSha256(key.subarray(32), body);
  if (!constantTimeEqual(mac, blob.subarray(blob.length - MAC_LENGTH))) {
    throw new AttachmentError(
      AttachmentErrorCode.BadMac,
      'the photo was altered after it was encrypted: its authentication code does not match',
    );
  }
  if (!constantTimeEqual(await provider.sha256(blob), digest)) {
    throw new AttachmentError(
      AttachmentErrorCode.BadDigest,
      'the downloaded photo is not the one that was sent: its digest does not match',
    );
  }
  let padded: Uint8Array;
  try {
    padded = await provider.aes256CbcDecrypt(
      key.subarray(0, 32),
      blob.subarray(0, IV_LENGTH),
      blob.subarray(IV_LENGTH, blob.length - MAC_LENGTH),
    );
  } catch (err) {
    if (!E2eeError.is(err)) throw err;
    throw new AttachmentError(
      AttachmentErrorCode.Malformed,
      'the photo could not be decrypted (bad padding)',
    );
  }
  if (padded.length < size) {
    throw new AttachmentError(AttachmentErrorCode.Malformed, 'the photo is shorter than its sender said');
  }
  return padded.slice(0, size);
}

// Raster formats only: an SVG is a document whose scripts run with the messenger's origin (and its
// IndexedDB of keys) when a blob: URL of it is opened on its own, as "open image in new tab" does.
const IMAGE_TYPE = /^image\/(?:png|jpeg|gif|webp|avif)$/;
const isDimension = (v: unknown) => v === undefined || (isSize(v) && v > 0 && v <= MAX_DIMENSION);
const isPhotoMeta = (m: { contentType?: unknown; width?: unknown; height?: unknown }) =>
  typeof m.contentType === 'string' &&
  m.contentType.length <= MAX_CONTENT_TYPE &&
  IMAGE_TYPE.test(m.contentType) &&
  isDimension(m.width) &&
  isDimension(m.height);

/** Refuses (before any upload) metadata that no pointer may carry. */
export function checkPhotoMeta(meta: {
  contentType: string;
  width?: number | undefined;
  height?: number | undefined;
}): void {
  if (!isPhotoMeta(meta)) {
    throw new AttachmentError(
      AttachmentErrorCode.Malformed,
      'the photo needs an image/* content type (PNG, JPEG, GIF, WebP or AVIF; not SVG) and whole-number dimensions',
    );
  }
}

/** Builds the pointer for an uploaded blob. */
export function toPointer(
  id: string,
  enc: EncryptedAttachment,
  meta: { contentType: string; width?: number | undefined; height?: number | undefined },
): AttachmentPointer {
  checkPhotoMeta(meta);
  return {
    id,
    key: toBase64(enc.key),
    digest: toBase64(enc.digest),
    size: enc.size,
    contentType: meta.contentType,
    ...(meta.width === undefined ? {} : { width: meta.width }),
    ...(meta.height === undefined ? {} : { height: meta.height }),
  };
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;
function base64Of(v: unknown, bytes: number): boolean {
  if (typeof v !== 'string' || v.length !== Math.ceil(bytes / 3) * 4 || !B64.test(v)) return false;
  try {
    return fromBase64(v).length === bytes;
  } catch {
    return false;
  }
}
/** A pointer as it must look when it comes out of a decrypted message (anything else is refused). */
export function isAttachmentPointer(v: unknown): v is AttachmentPointer {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const p = v as Record<string, unknown>;
  const allowed = new Set(['id', 'key', 'digest', 'size', 'contentType', 'width', 'height']);
  if (!Object.keys(p).every((k) => allowed.has(k))) return false;
  return (
    typeof p['id'] === 'string' &&
    /^[A-Za-z0-9_-]{16,64}$/.test(p['id']) &&
    base64Of(p['key'], ATTACHMENT_KEY_LENGTH) &&
    base64Of(p['digest'], ATTACHMENT_DIGEST_LENGTH) &&
    isSize(p['size']) &&
    isPhotoMeta(p)
  );
}
