/**
 * The outbox: texts the user wrote while the relay could not be reached. Each one is stored with
 * the message (status "pending") in the same transaction, and sent again, in order, when the relay
 * answers (on reconnect, or when the app asks). Nothing is encrypted before it is actually sent, so
 * a text waiting here uses no ratchet step and the session stays as it was.
 *
 * App rows (written in the running operation's transaction): `outbox-send:<seq>` → `OutboxEntry` as
 * JSON, the index row `index:outbox-send` listing those keys in writing order (the store reads app
 * rows by key only), and `local:outbox-send-counter`.
 */
import { RelayError } from './api.js';
import type { ChatData } from './app-data.js';

export type OutboxTarget =
  | { readonly kind: 'dm'; readonly contact: string }
  | { readonly kind: 'group'; readonly id: string };

export interface OutboxEntry {
  readonly target: OutboxTarget;
  /** The text's id and time as the user wrote it (kept when it is finally sent). */
  readonly id: string;
  readonly text: string;
  readonly sentAt: number;
}

const PREFIX = 'outbox-send:';
const INDEX = 'index:outbox-send';
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

export async function enqueue(tx: ChatData, entry: OutboxEntry): Promise<void> {
  const seq = (await tx.json<number>(COUNTER)) ?? 0;
  if ((await tx.members(INDEX)).length >= MAX_OUTBOX) throw new RangeError('the outbox is full');
  const key = `${PREFIX}${seq.toString().padStart(12, '0')}`;
  await tx.putJson(COUNTER, seq + 1);
  await tx.putJson(key, entry);
  await tx.addMember(INDEX, key);
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

/** Removes a sent (or refused) entry. */
export async function remove(tx: ChatData, key: string): Promise<void> {
  await tx.delete(key);
  await tx.removeMember(INDEX, key);
}

/** True when something waits for `target`'s conversation (a new text queues behind it). */
export async function hasPendingFor(tx: ChatData, target: OutboxTarget): Promise<boolean> {
  return (await pending(tx)).some(
    ({ entry: e }) =>
      e.target.kind === target.kind &&
      (e.target.kind === 'dm'
        ? e.target.contact === (target as { contact: string }).contact
        : e.target.id === (target as { id: string }).id),
  );
}
