/**
 * Groups: the group rows, creating a group and removing members (admin only), announcing its state,
 * and sending with sender keys — the distribution message to every member device that lacks this
 * device's key (rotating past removed devices), then one ciphertext for everyone, kept for re-sends.
 */
import { type Address, toBase64 } from '@e2ee-kit/core';
import { generateDistributionId, SenderKeyMessage, type SendPlan } from '@e2ee-kit/sender-keys';
import { APP_KEYS, type ChatData } from './app-data.js';
import {
  type Content,
  checkNewGroupTitle,
  decodeContent,
  encodeContent,
  type GroupInfo,
  type MessageContent,
} from './content.js';
import type { ClientCore } from './core.js';
import { devicesChanged, type SendOptions, sendToDevices } from './direct.js';
import { GroupSendProgress, settleGroupSend } from './group-sends.js';
import { clearPending, notePending } from './history-pending.js';
import { failedAfterSend } from './operation.js';
import {
  address,
  type ChatMessage,
  type Group,
  type GroupSentInfo,
  groupConversation,
  randomId,
} from './types.js';

export const OUTBOX_SIZE = 50;
/** Times a group send is prepared again because a device left while its key was being distributed. */
const DISTRIBUTE_ROUNDS = 3;
/** A group text this device sent, kept for a member that reports the key missing. */
export interface GroupOutboxEntry {
  readonly chain: number;
  readonly iteration: number;
  readonly content: Content;
}

export async function loadGroup(tx: ChatData, id: string): Promise<Group | undefined> {
  return tx.json<Group>(APP_KEYS.group(id));
}

export async function listGroups(c: ClientCore): Promise<Group[]> {
  const out: Group[] = [];
  const data = c.committed;
  for (const id of await data.members(APP_KEYS.groups)) {
    const g = await data.json<Group>(APP_KEYS.group(id));
    if (g) out.push(g);
  }
  return out;
}

export async function activeGroups(tx: ChatData): Promise<Group[]> {
  const out: Group[] = [];
  for (const id of await tx.members(APP_KEYS.groups)) {
    const g = await loadGroup(tx, id);
    if (g?.active) out.push(g);
  }
  return out;
}

/** The devices a group message goes to: every known device of every other member, and our other ones. */
export async function memberDevices(c: ClientCore, tx: ChatData, group: Group): Promise<Address[]> {
  const fanout = c.devices.fanout();
  const out: Address[] = [];
  for (const m of group.members) {
    const aci = m === c.name ? c.aci : await c.directory.aciOf(tx, m);
    for (const d of await fanout.devices(aci)) out.push(address(m, d.deviceId));
  }
  return out;
}

/** Creates a group with this account as admin and tells every member (over the 1:1 sessions). */
export async function createGroup(c: ClientCore, title: string, members: readonly string[]): Promise<Group> {
  checkNewGroupTitle(title);
  return c.run(async (tx) => {
    const id = generateDistributionId({ provider: c.provider });
    const all = [c.name, ...members.filter((m) => m !== c.name)];
    const group: Group = { id, title, admin: c.name, members: all, active: true };
    await tx.putJson(APP_KEYS.group(id), group);
    await tx.addMember(APP_KEYS.groups, id);
    await announce(c, tx, group, all);
    await c.note(tx, groupConversation(id), c.name, `you created "${title}" with ${all.join(', ')}`);
    c.emit('group', group);
    return group;
  });
}

/**
 * Removes a member (admin only). Every remaining member's next message rotates its sender key, so
 * the removed member cannot read what follows.
 */
export function removeMember(c: ClientCore, groupId: string, member: string): Promise<Group> {
  return c.run(async (tx) => {
    const old = await loadGroup(tx, groupId);
    if (!old || old.admin !== c.name) throw new Error('only the group admin can remove members');
    return removeFromGroup(c, tx, old, member, `you removed ${member}`);
  });
}

export async function removeFromGroup(
  c: ClientCore,
  tx: ChatData,
  old: Group,
  member: string,
  note: string,
): Promise<Group> {
  const group: Group = { ...old, members: old.members.filter((m) => m !== member) };
  await tx.putJson(APP_KEYS.group(old.id), group);
  await announce(c, tx, group, [...group.members, member]);
  await c.note(tx, groupConversation(old.id), c.name, note);
  c.emit('group', group);
  return group;
}

/** True when `from` may send us messages of this group: we joined it and they are a member. */
export async function inGroup(tx: ChatData, groupId: string, from: string): Promise<boolean> {
  const group = await loadGroup(tx, groupId);
  return group !== undefined && group.active && group.members.includes(from);
}

/** The group's state to every device of `recipients` and to our own other devices. */
export async function announce(
  c: ClientCore,
  tx: ChatData,
  group: Group,
  recipients: readonly string[],
): Promise<void> {
  const info: GroupInfo = { id: group.id, title: group.title, admin: group.admin, members: group.members };
  const conversation = groupConversation(group.id);
  await sendToDevices(c, tx, recipients, { t: 'group', group: info }, { self: true, conversation });
}

/**
 * Sends this device's sender key to the member devices that do not hold it (rotating first if
 * needed), pairwise to every device of their accounts. A device found gone meanwhile means the
 * chain must rotate past it: the send is prepared again (at most DISTRIBUTE_ROUNDS times).
 */
export async function distribute(c: ClientCore, tx: ChatData, group: Group) {
  const me = address(c.name, c.deviceId);
  for (let round = 1; ; round++) {
    const plan = await c.groupCipher.prepareSend(me, group.id, await memberDevices(c, tx, group));
    if (plan.needsDistribution.length === 0) return plan;
    const { reached, removed } = await sendSkdm(c, tx, group.id, plan, plan.needsDistribution);
    await c.groupCipher.markDelivered(me, group.id, plan.chainId, reached);
    if (!removed || round === DISTRIBUTE_ROUNDS) return plan;
  }
}

export function sendSkdm(
  c: ClientCore,
  tx: ChatData,
  groupId: string,
  plan: SendPlan,
  devices: readonly Address[],
) {
  const skdm = toBase64(plan.distributionMessage.serialize());
  const names = devices.map((d) => d.name);
  return sendToDevices(
    c,
    tx,
    names,
    { t: 'skdm', group: groupId, skdm },
    { self: names.includes(c.name), conversation: groupConversation(groupId) },
  );
}

/** Encrypts once with this device's sender key and sends the same ciphertext to every member. */
export function sendGroupText(c: ClientCore, groupId: string, text: string): Promise<GroupSentInfo> {
  const id = randomId(c.provider);
  return sendGroup(c, groupId, { t: 'text', id, text, sentAt: c.now(), group: groupId });
}

/**
 * Sends `content` to the group now (no outbox) and writes it into this device's history. When
 * recording it fails after the relay took it for a member, it is delivered: the history entry is
 * written in a step of its own (history-pending.ts covers that failing too), the members not
 * reached get it with the next outbox flush (group-sends.ts), and the send resolves, as `sendDm`
 * does, with what the relay took: envelopes for the members reached, the others in `waiting`.
 */
export async function sendGroup(
  c: ClientCore,
  groupId: string,
  content: MessageContent,
  options: SendOptions = {},
): Promise<GroupSentInfo> {
  const conversation = groupConversation(groupId);
  const progress = new GroupSendProgress();
  try {
    return await c.run(async (tx) => {
      await options.before?.(tx);
      // Committed before the first ciphertext leaves, removed with the history entry.
      await notePending(tx, conversation, content);
      const sent = await sendGroupContent(c, tx, groupId, content, progress);
      await clearPending(tx, content.id);
      return sent;
    });
  } catch (err) {
    if (!failedAfterSend(err) || progress.reached.size === 0) {
      // The message did not leave (at most the sender key did): no history entry for it.
      await c.run((tx) => clearPending(tx, content.id)).catch(() => {});
      throw err;
    }
    const message = await c.run(async (tx) => {
      await settleGroupSend(tx, groupId, content, progress);
      const stored = await c.storeText(tx, conversation, c.name, content, true);
      await clearPending(tx, content.id);
      return stored;
    });
    return sentInfo(c, progress, message);
  }
}

export async function sendGroupContent(
  c: ClientCore,
  tx: ChatData,
  groupId: string,
  content: MessageContent,
  progress = new GroupSendProgress(),
): Promise<GroupSentInfo> {
  await deliverGroup(c, tx, groupId, content, { progress });
  const message = await c.storeText(tx, groupConversation(groupId), c.name, content, true);
  return sentInfo(c, progress, message);
}

/** What `progress` says the relay took, as the send's result (our own other devices left out). */
function sentInfo(c: ClientCore, progress: GroupSendProgress, message: ChatMessage): GroupSentInfo {
  const members = progress.targets.filter((m) => m !== c.name);
  const body = progress.body ?? new Uint8Array(0);
  return {
    envelopes: members
      .filter((m) => progress.reached.has(m))
      .map((to) => ({ to, kind: 'senderkey' as const, body })),
    message,
    rotation: progress.plan?.rotation,
    distributedTo: [...new Set((progress.plan?.needsDistribution ?? []).map((a) => a.name))],
    waiting: members.filter((m) => !progress.reached.has(m)),
  };
}

/**
 * Encrypts with this device's sender key and sends the ciphertext to every other member (or to
 * `only` those member accounts: what an earlier try left, group-sends.ts), one account at a time.
 * Each account is added to `progress`, and the message's group-send row lists those not reached
 * yet, once the relay took its copy: a failure part-way leaves the others listed, to be sent to again.
 */
export async function deliverGroup(
  c: ClientCore,
  tx: ChatData,
  groupId: string,
  content: MessageContent,
  options: { only?: readonly string[]; progress?: GroupSendProgress | undefined } = {},
) {
  const group = await loadGroup(tx, groupId);
  if (!group || !group.active) throw new Error('not a member of this group');
  const progress = options.progress ?? new GroupSendProgress();
  const plan = await distribute(c, tx, group);
  progress.plan = plan;
  const body = await c.groupCipher.encrypt(address(c.name, c.deviceId), groupId, encodeContent(content));
  progress.body = body;
  // Kept for re-sends to members who report a missing key (the newest OUTBOX_SIZE per group).
  const skm = SenderKeyMessage.deserialize(body);
  const outbox = (await tx.json<GroupOutboxEntry[]>(APP_KEYS.outbox(groupId))) ?? [];
  outbox.push({ chain: skm.chainId, iteration: skm.iteration, content });
  await tx.putJson(APP_KEYS.outbox(groupId), outbox.slice(-OUTBOX_SIZE));
  const recipients = group.members.filter((m) => m !== c.name);
  const me = address(c.name, c.deviceId);
  const conversation = groupConversation(groupId);
  // Every device of every other member, and our own other devices (which show it as sent).
  const only = options.only;
  const targets = [...recipients, c.name].filter((r) => only === undefined || only.includes(r));
  progress.targets = targets;
  for (const r of targets) {
    progress.current = r;
    const aci = r === c.name ? c.aci : await c.directory.aciOf(tx, r);
    await c.devices.sendReady(aci, 'senderkey', body, async (change) => {
      await devicesChanged(c, tx, change, conversation);
      // Devices found new (or re-registered) now get this chain's key before the repeat.
      const fresh = [...change.keyHolders.add, ...change.keyHolders.redistribute].map((a) =>
        address(r, a.deviceId),
      );
      if (fresh.length === 0) return;
      const { reached } = await sendSkdm(c, tx, groupId, plan, fresh);
      await c.groupCipher.markDelivered(me, groupId, plan.chainId, reached);
    });
    progress.reached.add(r);
    progress.current = undefined;
    await settleGroupSend(tx, groupId, content, progress);
  }
  return { plan, recipients, body };
}

/**
 * Tries to decrypt a group ciphertext without storing anything (the demo hands Carol a message
 * sent after her removal). Returns the text, or why it cannot be read.
 */
export function inspectGroupCiphertext(
  c: ClientCore,
  sender: string,
  body: Uint8Array,
): Promise<{ readable: true; text: string } | { readable: false; reason: string }> {
  // Discarded transaction: this is a look, not a receive.
  return c.run(async () => {
    const outcome = await c.groupCipher.tryDecrypt(address(sender), body);
    if (outcome.status === 'decrypted') {
      return {
        readable: true as const,
        text: (decodeContent(outcome.plaintext) as { text?: string }).text ?? '',
      };
    }
    return {
      readable: false as const,
      reason:
        outcome.status === 'missing-sender-key'
          ? `missing sender key (chain ${outcome.chainId ?? 'unknown'})`
          : outcome.status,
    };
  }, true);
}
