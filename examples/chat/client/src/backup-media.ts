/**
 * The photos of a backup. A backup holds the chat history with its attachment pointers, but the
 * relay forgets a blob after its retention period (30 days, as Signal's CDN), so a pointer alone
 * would restore a grey box. As WhatsApp restores media with the backup, the backup carries the
 * encrypted blobs themselves — the same ciphertext the relay held, still under each photo's own key
 * (which travels in the history) — newest photo first, up to `MAX_BACKUP_MEDIA_BYTES` together.
 * A photo past the cap (or one the relay no longer had when the backup was made) is left out, and
 * opens on the restored device only while the relay still keeps it.
 *
 * On restore every blob is checked against a digest of the restored history (SHA-256, constant
 * time) before it is kept in the blob cache, and the cap is enforced again: a backup cannot make the
 * new device store more, or other, bytes than the history names.
 */
import { type CryptoProvider, constantTimeEqual, fromBase64, toBase64 } from '@e2ee-kit/core';
import { type RelayApi, RelayError } from './api.js';
import { APP_KEYS, type ChatData } from './app-data.js';
import {
  AttachmentError,
  type AttachmentPointer,
  isAttachmentPointer,
  maxEncryptedSize,
} from './attachments.js';
import { cacheBlob, cachedBlob } from './blob-cache.js';

/**
 * Encrypted photo bytes one backup may carry: 16 MiB (a few dozen phone photos), which keeps the
 * backup — base64 inside the encrypted document — under the relay's 32 MiB payload limit with the
 * rest of the state.
 */
export const MAX_BACKUP_MEDIA_BYTES = 16 * 1024 * 1024;

/** The least a blob adds to its plaintext: a 16-byte IV, one padding block, a 32-byte MAC. */
const BLOB_OVERHEAD = 16 + 16 + 32;

/** `[digest (base64), blob (base64)]`, newest photo first. */
export type BackupMedia = readonly (readonly [string, string])[];

/** Every photo pointer of the history (conversations in turn, each newest first), one per digest. */
export async function historyPhotos(data: ChatData): Promise<AttachmentPointer[]> {
  const found: { at: number; pointer: AttachmentPointer }[] = [];
  const seen = new Set<string>();
  for (const c of await data.members(APP_KEYS.conversations)) {
    for (const m of await data.messages<{ attachment?: unknown; sentAt?: number }>(c)) {
      const p = m.attachment;
      if (!isAttachmentPointer(p) || seen.has(p.digest)) continue;
      seen.add(p.digest);
      found.push({ at: typeof m.sentAt === 'number' ? m.sentAt : 0, pointer: p });
    }
  }
  return found.sort((a, b) => b.at - a.at).map((f) => f.pointer);
}

/**
 * The blobs of `photos` (kept on this device, else downloaded, each checked against its digest),
 * newest first, while they fit in `limit` bytes. Runs before the backup's store operation: the
 * downloads hold no lock. Returns what was included and how many photos were left out.
 */
export async function collectMedia(
  data: ChatData,
  api: RelayApi,
  provider: CryptoProvider,
  photos: readonly AttachmentPointer[],
  limit: number,
): Promise<{ media: BackupMedia; leftOut: number }> {
  const media: [string, string][] = [];
  let bytes = 0;
  let leftOut = 0;
  for (const p of photos) {
    // A blob is longer than its plaintext (IV, padding, MAC): a photo that cannot fit is not fetched.
    if (bytes + p.size + BLOB_OVERHEAD > limit) {
      leftOut++;
      continue;
    }
    let blob = await cachedBlob(data, p.digest);
    if (!blob) {
      try {
        blob = await api.downloadAttachment(p.id, maxEncryptedSize(p.size));
      } catch (err) {
        if (!(err instanceof RelayError) && !(err instanceof AttachmentError)) throw err;
        leftOut++; // expired on the relay (or refused): nothing to carry
        continue;
      }
    }
    if (
      bytes + blob.length > limit ||
      !constantTimeEqual(await provider.sha256(blob), fromBase64(p.digest))
    ) {
      leftOut++;
      continue;
    }
    bytes += blob.length;
    media.push([p.digest, toBase64(blob)]);
  }
  return { media, leftOut };
}

/**
 * Keeps a restored backup's blobs in the blob cache (inside the restore's transaction): only blobs
 * whose SHA-256 is the digest of a photo in the restored history, at most `MAX_BACKUP_MEDIA_BYTES`
 * together. Anything else is skipped. Returns how many were kept.
 */
export async function importMedia(tx: ChatData, media: unknown, provider: CryptoProvider): Promise<number> {
  if (!Array.isArray(media)) return 0;
  const named = new Set((await historyPhotos(tx)).map((p) => p.digest));
  let bytes = 0;
  let kept = 0;
  for (const entry of media) {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[1] !== 'string') continue;
    const [digest, encoded] = entry as [string, string];
    if (!named.has(digest)) continue;
    let blob: Uint8Array;
    try {
      blob = fromBase64(encoded);
    } catch {
      continue;
    }
    if (bytes + blob.length > MAX_BACKUP_MEDIA_BYTES) continue;
    if (!constantTimeEqual(await provider.sha256(blob), fromBase64(digest))) continue;
    bytes += blob.length;
    named.delete(digest);
    await cacheBlob(tx, digest, blob);
    kept++;
  }
  return kept;
}
