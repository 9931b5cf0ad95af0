/**
 * Encrypted photo blobs kept on this device, by digest: a photo waiting in the outbox (encrypted at
 * send time, uploaded when the relay is back) and the photos a restored backup brought along (the
 * relay forgets blobs after its retention period). The bytes are the attachment ciphertext, exactly
 * as uploaded, so opening one verifies its MAC and digest like a downloaded blob.
 *
 * App row: `blob:<digest base64>` → the blob. Written in the running operation's transaction.
 */
import { toBase64 } from '@e2ee-kit/core';
import type { ChatData } from './app-data.js';

const blobKey = (digest: string) => `blob:${digest}`;

export function cacheBlob(tx: ChatData, digest: Uint8Array | string, blob: Uint8Array): Promise<void> {
  return tx.put(blobKey(typeof digest === 'string' ? digest : toBase64(digest)), blob);
}

/** The blob whose digest (base64, as in a pointer) is `digest`, if this device holds it. */
export function cachedBlob(data: ChatData, digest: string): Promise<Uint8Array | undefined> {
  return data.get(blobKey(digest));
}

export function dropBlob(tx: ChatData, digest: string): Promise<void> {
  return tx.delete(blobKey(digest));
}
