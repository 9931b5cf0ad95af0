/**
 * Photos the way Signal sends attachments: each one gets its own random 64-byte key (AES-256-CBC
 * + HMAC-SHA256). The plaintext is padded to a size bucket, encrypted, authenticated, and the
 * resulting blob — opaque to the relay — is uploaded. Only the pointer travels in the end-to-end
 * encrypted message: the blob's id, the key, the SHA-256 digest of the blob, the real size and the
 * content type. The receiver downloads the blob, checks the digest, then the MAC, then decrypts.
 *
 * Blob: IV (16) ‖ AES-256-CBC(key[0..32], IV, padded plaintext) ‖ HMAC-SHA256(key[32..64], IV ‖ ct).
 */
import { type CryptoProvider, constantTimeEqual, fromBase64, toBase64 } from '@e2ee-kit/core';

/** The largest photo this example sends (the relay's limit for a blob is a little larger). */
export const MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024;
export const ATTACHMENT_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'] as const;
export type AttachmentType = (typeof ATTACHMENT_TYPES)[number];

const KEY_LENGTH = 64;
const IV_LENGTH = 16;
const MAC_LENGTH = 32;

export interface AttachmentPointer {
  /** The relay's id of the blob (32 hex digits). */
  readonly id: string;
  /** 64 bytes, base64: AES key ‖ HMAC key. */
  readonly key: string;
  /** SHA-256 of the blob, base64. */
  readonly digest: string;
  /** The plaintext's length in bytes (the blob is padded). */
  readonly size: number;
  readonly contentType: AttachmentType;
}

/** Typed failure of an attachment check (too large, wrong digest, bad MAC, malformed pointer). */
export class AttachmentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AttachmentError';
  }
}

/** Padded size: at least 541 bytes, then steps of 5 % (hides the exact size, as Signal does). */
export function paddedSize(size: number): number {
  return Math.max(541, Math.floor(1.05 ** Math.ceil(Math.log(Math.max(size, 1)) / Math.log(1.05))));
}

export function isAttachmentType(t: string): t is AttachmentType {
  return (ATTACHMENT_TYPES as readonly string[]).includes(t);
}

export async function encryptAttachment(
  plaintext: Uint8Array,
  contentType: AttachmentType,
  provider: CryptoProvider,
): Promise<{ blob: Uint8Array; pointer: Omit<AttachmentPointer, 'id'> }> {
  if (plaintext.length === 0 || plaintext.length > MAX_ATTACHMENT_BYTES) {
    throw new AttachmentError(`a photo must be 1 byte to ${MAX_ATTACHMENT_BYTES / 1024 / 1024} MiB`);
  }
  const key = provider.randomBytes(KEY_LENGTH);
  const iv = provider.randomBytes(IV_LENGTH);
  const padded = new Uint8Array(paddedSize(plaintext.length));
  padded.set(plaintext);
  const ct = await provider.aes256CbcEncrypt(key.subarray(0, 32), iv, padded);
  const body = concat(iv, ct);
  const mac = await provider.hmacSha256(key.subarray(32), body);
  const blob = concat(body, mac);
  const digest = await provider.sha256(blob);
  return {
    blob,
    pointer: { key: toBase64(key), digest: toBase64(digest), size: plaintext.length, contentType },
  };
}

/** Checks digest and MAC before decrypting; returns exactly `pointer.size` bytes. */
export async function decryptAttachment(
  blob: Uint8Array,
  pointer: AttachmentPointer,
  provider: CryptoProvider,
): Promise<Uint8Array> {
  const key = fromBase64(pointer.key);
  const digest = fromBase64(pointer.digest);
  if (key.length !== KEY_LENGTH || digest.length !== 32)
    throw new AttachmentError('malformed attachment pointer');
  const maxBlob = IV_LENGTH + paddedSize(MAX_ATTACHMENT_BYTES) + 16 + MAC_LENGTH;
  if (blob.length < IV_LENGTH + 16 + MAC_LENGTH || blob.length > maxBlob) {
    throw new AttachmentError('attachment blob has an impossible length');
  }
  if (!constantTimeEqual(await provider.sha256(blob), digest)) {
    throw new AttachmentError('attachment digest mismatch: the blob is not the one that was sent');
  }
  const body = blob.subarray(0, blob.length - MAC_LENGTH);
  const mac = await provider.hmacSha256(key.subarray(32), body);
  if (!constantTimeEqual(mac, blob.subarray(blob.length - MAC_LENGTH))) {
    throw new AttachmentError('attachment MAC mismatch');
  }
  const padded = await provider.aes256CbcDecrypt(
    key.subarray(0, 32),
    body.subarray(0, IV_LENGTH),
    body.subarray(IV_LENGTH),
  );
  if (pointer.size < 1 || pointer.size > padded.length)
    throw new AttachmentError('attachment size does not fit its blob');
  return padded.slice(0, pointer.size);
}

/** Validates a pointer decoded from a message (every field, before anything is downloaded). */
export function isAttachmentPointer(v: unknown): v is AttachmentPointer {
  if (v === null || typeof v !== 'object') return false;
  const p = v as Record<string, unknown>;
  return (
    typeof p['id'] === 'string' &&
    /^[0-9a-f]{32}$/.test(p['id']) &&
    typeof p['key'] === 'string' &&
    p['key'].length === 88 &&
    typeof p['digest'] === 'string' &&
    p['digest'].length === 44 &&
    typeof p['size'] === 'number' &&
    Number.isInteger(p['size']) &&
    p['size'] >= 1 &&
    p['size'] <= MAX_ATTACHMENT_BYTES &&
    typeof p['contentType'] === 'string' &&
    isAttachmentType(p['contentType']) &&
    Object.keys(p).length === 5
  );
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
