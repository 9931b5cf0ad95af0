/**
 * Sync copies that did not go with their message. A 1:1 send goes to the contact first, then (a
 * second fan-out call) to our own other devices. When the contact's devices took the message and
 * the sync copy then failed, the send stands — the contact has it, and the operation commits its
 * ratchet steps (rolling them back would encrypt the next message under the same keys again) — and
 * the sync copy waits here, to go alone (`only: 'sync'`) with the next outbox flush
 * (`flushSyncCopies` in sync-flush.ts). Sending the whole message again would give the contact a
 * second copy.
 *
 * App rows (written in the running operation's transaction): `sync-copy:<seq>` → `{ to, body }`
 * (the recipient's ServiceId, the sync content as base64), the index row `index:sync-copy` in
 * writing order, and `local:sync-copy-counter`. Not carried by backups: a restored device does not
 * send what the old one may have sent.
 */
import { fromBase64, toBase64 } from '@e2ee-kit/core';
import type { ChatData } from './app-data.js';

const PREFIX = 'sync-copy:';
const INDEX = 'index:sync-copy';
const COUNTER = 'local:sync-copy-counter';
/** Copies kept at most while our own account cannot be reached; a copy past it is not kept. */
export const MAX_SYNC_COPIES = 200;

interface SyncCopy {
  /** The ServiceId of the contact the message went to. */
  readonly to: string;
  readonly body: string;
}

/** Keeps a sync copy to send later; false when `MAX_SYNC_COPIES` wait already (it is not kept). */
export async function queueSyncCopy(tx: ChatData, to: string, sync: Uint8Array): Promise<boolean> {
  if ((await tx.members(INDEX)).length >= MAX_SYNC_COPIES) return false;
  const seq = (await tx.json<number>(COUNTER)) ?? 0;
  const key = `${PREFIX}${seq.toString().padStart(12, '0')}`;
  await tx.putJson(COUNTER, seq + 1);
  await tx.putJson(key, { to, body: toBase64(sync) } satisfies SyncCopy);
  await tx.addMember(INDEX, key);
  return true;
}

export interface WaitingSyncCopy {
  readonly key: string;
  /** The ServiceId of the contact the message went to. */
  readonly to: string;
  readonly sync: Uint8Array;
}

/** The waiting copies, oldest first. */
export async function pendingSyncCopies(tx: ChatData): Promise<WaitingSyncCopy[]> {
  const out: WaitingSyncCopy[] = [];
  for (const key of await tx.members(INDEX)) {
    const copy = await tx.json<SyncCopy>(key);
    if (copy) out.push({ key, to: copy.to, sync: fromBase64(copy.body) });
    else await tx.removeMember(INDEX, key);
  }
  return out;
}

/** Removes a copy that went (or never will). */
export async function dropSyncCopy(tx: ChatData, key: string): Promise<void> {
  await tx.delete(key);
  await tx.removeMember(INDEX, key);
}
