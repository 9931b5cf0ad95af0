/**
 * This device's history of the messages it sends now: the raw sends (`sendText`, `sendGroupText`:
 * no outbox) and the outbox path's first try (`send`, `sendPhoto` in outbox-send.ts). The message
 * is written into the history in the operation that sends it, after the relay took it; when that
 * commit fails, the recipients have a message this device does not show. So before the first
 * ciphertext leaves, the send writes a pending-history row (committed with the ratchet steps,
 * operation.ts), removed in the same commit as the history entry. A send that fails after the
 * relay took it writes the entry in a step of its own (`sendDm` in direct.ts, `sendGroup` in
 * groups.ts, `send` and `sendPhoto`); one that failed before removes the row (in the same commit
 * as its outbox entry, when it waits there: the outbox's "pending" line is its history entry). A
 * row still there at the next outbox flush (the repair failed too, or the process stopped) becomes
 * a history entry marked "failed": whether the relay took it is not known, and **Send again** is
 * safe — the receiver keeps one copy per message id.
 *
 * App rows (in the running operation's transaction): `history-pending:<message id>` →
 * `{ conversation, content }` as JSON, and the index row `index:history-pending`. Not carried by
 * backups.
 */
import type { ChatData } from './app-data.js';
import type { MessageContent } from './content.js';

const PREFIX = 'history-pending:';
const INDEX = 'index:history-pending';
/** Rows kept at most (one per send whose bookkeeping failed); a send past it keeps none. */
export const MAX_HISTORY_PENDING = 200;

export interface PendingHistory {
  readonly conversation: string;
  readonly content: MessageContent;
}

const keyOf = (messageId: string) => `${PREFIX}${messageId}`;

/** Notes, before it is sent, that `content` goes to `conversation`. */
export async function notePending(
  tx: ChatData,
  conversation: string,
  content: MessageContent,
): Promise<void> {
  if ((await tx.members(INDEX)).length >= MAX_HISTORY_PENDING) return;
  await tx.putJson(keyOf(content.id), { conversation, content } satisfies PendingHistory);
  await tx.addMember(INDEX, keyOf(content.id));
}

/** The history has the message now (or it was never sent). */
export async function clearPending(tx: ChatData, messageId: string): Promise<void> {
  if ((await tx.get(keyOf(messageId))) === undefined) return;
  await tx.delete(keyOf(messageId));
  await tx.removeMember(INDEX, keyOf(messageId));
}

/** The rows left by sends whose history entry was never written, oldest first. */
export async function leftPending(tx: ChatData): Promise<PendingHistory[]> {
  const out: PendingHistory[] = [];
  for (const key of await tx.members(INDEX)) {
    const row = await tx.json<PendingHistory>(key);
    if (row) out.push(row);
    else await tx.removeMember(INDEX, key);
  }
  return out;
}
