/**
 * Group messages that did not reach every member. A group send hands one ciphertext to the relay
 * per member account, one request each (groups.ts `deliverGroup`); the network or the relay can
 * fail after some of them were taken. Those members have the message and must not get it again;
 * the others must still get it. So once the relay took a first member's copy, the send writes a
 * row listing the member accounts not reached yet, and takes each one off as its copy is taken.
 * The relay API commits the running operation before each ciphertext (operation.ts), so the row,
 * as of the copy being sent, is in the store whatever fails next. What a failure rolls back (the
 * update after the last copy, or after the copy before a failure that sent nothing) is held in
 * memory by `GroupSendProgress`: the caller's repair writes it again (`settleGroupSend`).
 *
 * What is left goes with the next outbox flush (`flushGroupSends` in outbox-send.ts), encrypted
 * anew for those members only: a new sender-key iteration, the same message id (receivers keep
 * one copy per id). A new text of that group waits behind it, to keep the order.
 *
 * App rows (in the running operation's transaction): `group-send:<message id>` → `GroupSendRow`
 * as JSON, and the index row `index:group-send` in writing order. Not carried by backups: a
 * restored device does not send what the old one may have sent.
 */
import type { SendPlan } from '@e2ee-kit/sender-keys';
import type { ChatData } from './app-data.js';
import type { MessageContent } from './content.js';

const PREFIX = 'group-send:';
const INDEX = 'index:group-send';
/** Rows kept at most; a send past it is not kept (its unreached members miss it). */
export const MAX_GROUP_SENDS = 200;

export interface GroupSendRow {
  readonly group: string;
  readonly content: MessageContent;
  /** Display names of the member accounts (ours: our other devices) still to be sent to. */
  readonly remaining: readonly string[];
}

export interface WaitingGroupSend extends GroupSendRow {
  readonly key: string;
}

/** What one group send got through, in memory (the store may have lost the last of it). */
export class GroupSendProgress {
  /** The member accounts the message is for (display names; ours: our other devices). */
  targets: readonly string[] = [];
  /** The member accounts whose copy the relay took. */
  readonly reached = new Set<string>();
  /** The member account whose copy is being sent now. */
  current: string | undefined;
  /** The sender-key ciphertext every member gets, once encrypted. */
  body: Uint8Array | undefined;
  /** The send's plan (rotation, distribution), once prepared. */
  plan: SendPlan | undefined;
}

const keyOf = (messageId: string) => `${PREFIX}${messageId}`;

/**
 * Records what `progress` says the relay took of `content`: its row lists the targets not
 * reached, and is gone when there are none. Nothing is written before a first member was reached
 * (then the message did not leave, and whoever sent it sends it again whole).
 */
export async function settleGroupSend(
  tx: ChatData,
  group: string,
  content: MessageContent,
  progress: GroupSendProgress,
): Promise<void> {
  if (progress.reached.size === 0) return;
  const key = keyOf(content.id);
  const known = (await tx.get(key)) !== undefined;
  const remaining = progress.targets.filter((m) => !progress.reached.has(m));
  if (remaining.length === 0) {
    if (known) await dropGroupSend(tx, key);
    return;
  }
  if (!known && (await tx.members(INDEX)).length >= MAX_GROUP_SENDS) return;
  await tx.putJson(key, { group, content, remaining } satisfies GroupSendRow);
  if (!known) await tx.addMember(INDEX, key);
}

/** The waiting rows, oldest first. */
export async function pendingGroupSends(tx: ChatData): Promise<WaitingGroupSend[]> {
  const out: WaitingGroupSend[] = [];
  for (const key of await tx.members(INDEX)) {
    const row = await tx.json<GroupSendRow>(key);
    if (row) out.push({ key, ...row });
    else await tx.removeMember(INDEX, key);
  }
  return out;
}

/** True when a message of `group` still waits for some member (a new one goes behind it). */
export async function hasGroupSendFor(tx: ChatData, group: string): Promise<boolean> {
  return (await pendingGroupSends(tx)).some((r) => r.group === group);
}

/** Takes one member account off a row (the relay refused their copy for good). */
export async function dropGroupTarget(tx: ChatData, key: string, member: string): Promise<void> {
  const row = await tx.json<GroupSendRow>(key);
  if (!row) return;
  const remaining = row.remaining.filter((m) => m !== member);
  if (remaining.length === 0) await dropGroupSend(tx, key);
  else await tx.putJson(key, { ...row, remaining } satisfies GroupSendRow);
}

export async function dropGroupSend(tx: ChatData, key: string): Promise<void> {
  await tx.delete(key);
  await tx.removeMember(INDEX, key);
}
