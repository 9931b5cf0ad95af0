/**
 * Contacts, who may add this user to groups, and invitations (the rules are in group-consent.ts):
 * the people this user added, the setting synced to the account's other devices, and accepting or
 * declining an invitation.
 */
import { APP_KEYS, type ChatData } from './app-data.js';
import type { Content } from './content.js';
import type { ClientCore } from './core.js';
import { sendToDevices } from './direct.js';
import { GroupConsent, type Invitation, type WhoCanAddMe } from './group-consent.js';
import { announce, loadGroup, removeFromGroup } from './groups.js';
import { address, dm, type Group, groupConversation } from './types.js';

export function consent(c: ClientCore, tx: ChatData): GroupConsent {
  return new GroupConsent(tx, c.now());
}

/** The people this user added (never the relay's directory). */
export function contacts(c: ClientCore): Promise<string[]> {
  return c.run((tx) => consent(c, tx).contacts(), true);
}

/** People with a 1:1 conversation, contacts or not (someone who wrote first is listed too). */
export async function chatPartners(c: ClientCore): Promise<string[]> {
  const all = await c.committed.members(APP_KEYS.conversations);
  return all.filter((c) => c.startsWith('dm:')).map((c) => c.slice(3));
}

/** Adds a contact, after the relay confirmed an account of exactly that name exists. */
export function addContact(c: ClientCore, name: string): Promise<void> {
  return c.run(async (tx) => {
    if (name === c.name) throw new Error('you cannot add yourself');
    await c.api.lookupName(name);
    await consent(c, tx).addContact(name);
    await syncContacts(c, tx);
  });
}

export function removeContact(c: ClientCore, name: string): Promise<void> {
  return c.run(async (tx) => {
    await consent(c, tx).removeContact(name);
    await syncContacts(c, tx);
  });
}

/**
 * Contacts and who may add us are the account's, not one device's (as WhatsApp's linked devices):
 * every change goes to our other devices, and a newly linked device gets them with our groups.
 */
export async function syncContacts(c: ClientCore, tx: ChatData): Promise<void> {
  const settings = consent(c, tx);
  const content: Content = {
    t: 'contacts',
    contacts: await settings.contacts(),
    whoCanAddMe: await settings.whoCanAddMe(),
  };
  await sendToDevices(c, tx, [], content, { self: true, conversation: 'directory' });
}

export function whoCanAddMe(c: ClientCore): Promise<WhoCanAddMe> {
  return c.run((tx) => consent(c, tx).whoCanAddMe(), true);
}

export function setWhoCanAddMe(c: ClientCore, setting: WhoCanAddMe): Promise<WhoCanAddMe> {
  return c.run(async (tx) => {
    const checked = await consent(c, tx).setWhoCanAddMe(setting);
    await syncContacts(c, tx);
    return checked;
  });
}

/** Pending (unexpired) group invitations, oldest first. */
export function invitations(c: ClientCore): Promise<Invitation[]> {
  return c.run((tx) => consent(c, tx).invitations(), true);
}

/** Joins the group of a pending invitation and tells its members (throws once it expired). */
export function acceptInvitation(c: ClientCore, groupId: string): Promise<Group> {
  return c.run(async (tx) => {
    const { group: g, inviter } = await consent(c, tx).take(groupId, true);
    const group: Group = { ...g, members: [...g.members], active: true };
    await tx.putJson(APP_KEYS.group(g.id), group);
    await tx.addMember(APP_KEYS.groups, g.id);
    const answer: Content = { t: 'invite-answer', group: g.id, accepted: true };
    const conversation = groupConversation(g.id);
    await sendToDevices(c, tx, g.members, answer, { self: false, conversation });
    // Our other devices join with this one.
    await announce(c, tx, group, []);
    await c.note(tx, groupConversation(g.id), inviter, `you joined "${g.title}" (invited by ${inviter})`);
    c.emit('group', group);
    return group;
  });
}

/** Declines a pending invitation: tells the inviter, keeps nothing of the group. */
export function declineInvitation(c: ClientCore, groupId: string): Promise<void> {
  return c.run(async () => {
    const tx = c.data;
    const { group, inviter } = await consent(c, tx).take(groupId, false);
    const answer: Content = { t: 'invite-answer', group: group.id, accepted: false };
    await sendToDevices(c, tx, [inviter], answer, { self: false, conversation: dm(inviter) });
  });
}

export async function invitationAnswered(
  c: ClientCore,
  tx: ChatData,
  from: string,
  groupId: string,
  accepted: boolean,
) {
  const group = await loadGroup(tx, groupId);
  if (!group || !group.active || !group.members.includes(from)) return;
  const conversation = groupConversation(groupId);
  if (accepted) {
    // Whatever key we sent before they accepted was dropped unread (by every device of theirs):
    // send it again with our next message.
    const aci = await c.directory.aciOf(tx, from);
    const devices = (await c.devices.fanout().devices(aci)).map((d) => address(from, d.deviceId));
    if (devices.length > 0)
      await c.groupCipher.markNeedsDistribution(address(c.name, c.deviceId), groupId, devices);
    await c.note(tx, conversation, from, `${from} joined`);
  } else if (group.admin === c.name) {
    await removeFromGroup(c, tx, group, from, `${from} declined the invitation`);
  }
}
