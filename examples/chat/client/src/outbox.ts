/**
 * The outbox: texts and photos the user sent while the relay could not be reached. Each one is
 * stored with the message (status "pending") in the same transaction, and sent again, in order, when
 * the relay answers (on reconnect, or when the app asks). No message is encrypted for a session
 * before it is actually sent, so an entry waiting here uses no ratchet step.
 *
 * A photo is different in one way: it is encrypted under its attachment key at once (key, digest
 * and size are fixed when the user sends it), and its blob waits in the blob cache (blob-cache.ts).
 * Sending it takes two operations: the upload, whose blob id is committed into the entry, then the
 * message. A restart between them re-sends the message with the recorded id; a restart during the
 * upload uploads the same bytes again, which the relay answers with the stored blob's id.
 *
 * App rows (written in the running operation's transaction): `outbox-send:<seq>` → `OutboxEntry` as
 * JSON, the index row `index:outbox-send` listing those keys in writing order (the store reads app
 * rows by key only), and `local:outbox-send-counter`.
 *
 * A backup carries these rows (`outboxRowKeys`) and a waiting photo's blob (backup-media.ts), so a
 * device restored from it sends what still waited when the backup was taken, in order, with the
 * ids the messages had. The old device may have sent them meanwhile; receivers keep one copy per
 * message id (`ClientCore.storeText`), so nothing is shown twice. What cannot be sent any more — a
 * pending message whose entry a backup did not carry (an older backup) or a photo whose blob it did
 * not — is marked "failed" at restore (`settleRestoredOutbox`), never left waiting.
 */
import { RelayError } from './api.js';
import { APP_KEYS, type ChatData } from './app-data.js';
import type { AttachmentPointer } from './attachments.js';
import { cacheBlob, cachedBlob, dropBlob } from './blob-cache.js';
import { hasGroupSendFor } from './group-sends.js';
import { setStatus } from './receipts.js';
import type { ChatMessage } from './types.js';

export type OutboxTarget =
  | { readonly kind: 'dm'; readonly contact: string }
  | { readonly kind: 'group'; readonly id: string };

export interface OutboxText {
  /** Absent in entries stored before photos could wait here. */
  readonly kind?: 'text';
  readonly target: OutboxTarget;
  /** The text's id and time as the user wrote it (kept when it is finally sent). */
  readonly id: string;
  readonly text: string;
  readonly sentAt: number;
}

export interface OutboxPhoto {
  readonly kind: 'photo';
  readonly target: OutboxTarget;
  readonly id: string;
  readonly sentAt: number;
  /** The pointer as it will be sent, but for its `id` (a local placeholder until the upload). */
  readonly pointer: AttachmentPointer;
  /** The encrypted blob's length (its bytes are in the blob cache under the pointer's digest). */
  readonly blobBytes: number;
  /** The relay's blob id, once the upload was answered and committed. */
  readonly uploaded?: string;
}

export type OutboxEntry = OutboxText | OutboxPhoto;

const PREFIX = 'outbox-send:';
const INDEX = 'index:outbox-send';
const COUNTER = 'local:outbox-send-counter';
/** A bound on what piles up offline (older entries are kept; new sends are refused past it). */
export const MAX_OUTBOX = 500;
/** Photos waiting at once, and their encrypted bytes together (kept in the client's store). */
export const MAX_OUTBOX_PHOTOS = 20;
export const MAX_OUTBOX_PHOTO_BYTES = 64 * 1024 * 1024;

/**
 * The blob id a waiting photo's message shows until the upload (a valid pointer id the relay never
 * hands out: its ids are 32 characters). The photo opens from the blob cache meanwhile.
 */
export const placeholderId = (messageId: string) => `local-${messageId}`.slice(0, 31);

/**
 * True when the failure says the relay could not be reached or was briefly unable to answer —
 * worth retrying later. A 4xx answer (refused) or an untrusted identity is not: retrying would
 * fail the same way.
 */
export function isRetryable(err: unknown): boolean {
  if (err instanceof RelayError) return err.status >= 500 || err.status === 429 || err.status === 408;
  // fetch rejects with a TypeError when there is no answer at all ("Failed to fetch", "fetch failed").
  if (err instanceof TypeError) return /fetch|network|load failed/i.test(err.message);
  return false;
}

export async function enqueue(tx: ChatData, entry: OutboxEntry): Promise<void> {
  const seq = (await tx.json<number>(COUNTER)) ?? 0;
  if ((await tx.members(INDEX)).length >= MAX_OUTBOX) throw new RangeError('the outbox is full');
  const key = `${PREFIX}${seq.toString().padStart(12, '0')}`;
  await tx.putJson(COUNTER, seq + 1);
  await tx.putJson(key, entry);
  await tx.addMember(INDEX, key);
}

/**
 * Queues a photo and keeps its encrypted blob in the store, in the same transaction. Refused
 * (`RangeError`) past `MAX_OUTBOX_PHOTOS` photos or `MAX_OUTBOX_PHOTO_BYTES` bytes waiting.
 */
export async function enqueuePhoto(tx: ChatData, entry: OutboxPhoto, blob: Uint8Array): Promise<void> {
  const photos = (await pending(tx)).flatMap(({ entry: e }) => (e.kind === 'photo' ? [e] : []));
  const bytes = photos.reduce((n, e) => n + e.blobBytes, 0);
  if (photos.length >= MAX_OUTBOX_PHOTOS || bytes + blob.length > MAX_OUTBOX_PHOTO_BYTES)
    throw new RangeError('too many photos wait for the relay: send them once it is back');
  await enqueue(tx, entry);
  await cacheBlob(tx, entry.pointer.digest, blob);
}

/** Records the relay's blob id of a waiting photo (committed before its message is sent). */
export async function recordUpload(tx: ChatData, key: string, entry: OutboxPhoto, id: string): Promise<void> {
  await tx.putJson(key, { ...entry, uploaded: id } satisfies OutboxPhoto);
}

/** The waiting entries, oldest first. */
export async function pending(tx: ChatData): Promise<{ key: string; entry: OutboxEntry }[]> {
  const out: { key: string; entry: OutboxEntry }[] = [];
  for (const key of await tx.members(INDEX)) {
    const entry = await tx.json<OutboxEntry>(key);
    if (entry) out.push({ key, entry });
    else await tx.removeMember(INDEX, key);
  }
  return out;
}

/** Removes a sent (or refused) entry, and a photo's kept blob (the relay has it now, or never will). */
export async function remove(tx: ChatData, key: string): Promise<void> {
  const entry = await tx.json<OutboxEntry>(key);
  if (entry?.kind === 'photo') await dropBlob(tx, entry.pointer.digest);
  await tx.delete(key);
  await tx.removeMember(INDEX, key);
}

/**
 * True when something waits for `target`'s conversation (a new text queues behind it): an outbox
 * entry, or a group message some members did not get yet (group-sends.ts).
 */
export async function hasPendingFor(tx: ChatData, target: OutboxTarget): Promise<boolean> {
  if (target.kind === 'group' && (await hasGroupSendFor(tx, target.id))) return true;
  return (await pending(tx)).some(
    ({ entry: e }) =>
      e.target.kind === target.kind &&
      (e.target.kind === 'dm'
        ? e.target.contact === (target as { contact: string }).contact
        : e.target.id === (target as { id: string }).id),
  );
}

/** The outbox's rows, for a backup: the index, the counter and every waiting entry. */
export async function outboxRowKeys(tx: ChatData): Promise<string[]> {
  return [INDEX, COUNTER, ...(await tx.members(INDEX))];
}

/** Digests of the waiting photos not uploaded yet (a backup carries their blobs first). */
export async function waitingPhotoDigests(tx: ChatData): Promise<Set<string>> {
  const out = new Set<string>();
  for (const { entry } of await pending(tx))
    if (entry.kind === 'photo' && entry.uploaded === undefined) out.add(entry.pointer.digest);
  return out;
}

/**
 * Right after a restore (in its transaction): drops waiting photos whose blob the backup did not
 * bring (they can never be uploaded), and marks "failed" every own message still "pending" without
 * an entry that will send it. Returns the messages marked failed.
 */
export async function settleRestoredOutbox(tx: ChatData): Promise<ChatMessage[]> {
  const waiting = new Set<string>();
  for (const { key, entry } of await pending(tx)) {
    if (
      entry.kind === 'photo' &&
      entry.uploaded === undefined &&
      !(await cachedBlob(tx, entry.pointer.digest))
    )
      await remove(tx, key);
    else waiting.add(entry.id);
  }
  const failed: ChatMessage[] = [];
  for (const conversation of await tx.members(APP_KEYS.conversations)) {
    for (const m of await tx.messages<ChatMessage>(conversation)) {
      if (!m.outgoing || m.status !== 'pending' || waiting.has(m.id)) continue;
      const updated = await setStatus(tx, m.id, 'failed');
      if (updated) failed.push(updated);
    }
  }
  return failed;
}
