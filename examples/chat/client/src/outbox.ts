/**
 * The outbox: texts the user wrote while the relay could not be reached. Each one is stored with
 * the message (status "pending") in the same transaction, and sent again, in order, when the relay
 * answers (on reconnect, or when the app asks). Nothing is encrypted before it is actually sent, so
 * a text waiting here uses no ratchet step and the session stays as it was.
 *
 * Keys: `outbox-send:<seq>` (12-digit, so they sort in writing order) → `OutboxEntry` as JSON, and
 * `local:outbox-send-counter`.
 */
import { RelayError } from './api.js';
import type { AttachmentPointer } from './attachments.js';
import { jsonBytes, parseJsonBytes, type Transaction } from './storage.js';

export type OutboxTarget =
  | { readonly kind: 'dm'; readonly contact: string }
  | { readonly kind: 'group'; readonly id: string };

export interface OutboxEntry {
  readonly target: OutboxTarget;
  /** The text's id and time as the user wrote it (kept when it is finally sent). */
  readonly id: string;
  readonly text: string;
  readonly sentAt: number;
  /** A photo already uploaded (encrypted) to the relay. */
  readonly attachment?: AttachmentPointer;
}

const PREFIX = 'outbox-send:';
const COUNTER = 'local:outbox-send-counter';
/** A bound on what piles up offline (older entries are kept; new sends are refused past it). */
export const MAX_OUTBOX = 500;

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

export async function enqueue(tx: Transaction, entry: OutboxEntry): Promise<void> {
  const seq = parseJsonBytes<number>(await tx.get(COUNTER)) ?? 0;
  if ((await tx.keys(PREFIX)).length >= MAX_OUTBOX) throw new RangeError('the outbox is full');
  tx.set(COUNTER, jsonBytes(seq + 1));
  tx.set(`${PREFIX}${seq.toString().padStart(12, '0')}`, jsonBytes(entry));
}

/** The waiting entries, oldest first. */
export async function pending(tx: Transaction): Promise<{ key: string; entry: OutboxEntry }[]> {
  const out: { key: string; entry: OutboxEntry }[] = [];
  for (const key of await tx.keys(PREFIX)) {
    const entry = parseJsonBytes<OutboxEntry>(await tx.get(key));
    if (entry) out.push({ key, entry });
    else tx.delete(key);
  }
  return out;
}

/** True when something waits for `target`'s conversation (a new text queues behind it). */
export async function hasPendingFor(tx: Transaction, target: OutboxTarget): Promise<boolean> {
  return (await pending(tx)).some(
    ({ entry: e }) =>
      e.target.kind === target.kind &&
      (e.target.kind === 'dm'
        ? e.target.contact === (target as { contact: string }).contact
        : e.target.id === (target as { id: string }).id),
  );
}
