/**
 * 1:1 messages: encrypting for one device (starting a session from a fresh bundle), sending a text
 * to every device of a contact with a sync copy for our own other devices, what a device-list change
 * means (noted in the chat, and for sender keys), pairwise sends to several accounts, and delivery
 * and read receipts.
 */
import type { Address } from '@e2ee-kit/core';
import type { DeviceChangeResult } from '@e2ee-kit/ratchet';
import { type EnvelopeKind, RelayError } from './api.js';
import { APP_KEYS, type ChatData } from './app-data.js';
import { type Content, encodeContent, type MessageContent } from './content.js';
import type { ClientCore } from './core.js';
import { activeGroups } from './groups.js';
import { clearPending, leftPending, notePending } from './history-pending.js';
import { failedAfterSend } from './operation.js';
import { isRetryable } from './outbox.js';
import { tellOwnDevices } from './own-device-news.js';
import { bundleFrom } from './prekeys.js';
import { clearReceipts, dueReceipts, markRead as markReadIn } from './receipts.js';
import { address, type ChatMessage, DEVICE_ID, dm, randomId, type SentInfo } from './types.js';

/**
 * Encrypts `content` for one device of `name` (the primary unless told), starting a session from a
 * fresh bundle if there is none.
 */
export async function encryptTo(
  c: ClientCore,
  name: string,
  content: Content,
  deviceId = DEVICE_ID,
): Promise<{ to: string; deviceId: number; kind: EnvelopeKind; body: Uint8Array }> {
  const aci = await c.directory.aciOf(c.data, name);
  const cipher = c.cipher(aci, deviceId);
  if (!(await cipher.hasSession())) {
    const { devices } = await c.api.bundles(aci);
    const bundle = devices.find((d) => d.deviceId === deviceId);
    if (!bundle) throw new RelayError(404, 'not_found', `${name} has no device ${deviceId}`);
    await cipher.initiate(bundleFrom(bundle));
  }
  // Our profile key rides along in every pairwise content: contacts derive our access key from it.
  await c.data.addMember(APP_KEYS.peers, aci);
  const pk = await c.sealed.profileKeyField(c.data);
  const msg = await cipher.encrypt(encodeContent({ ...content, ...pk } as Content));
  return { to: aci, deviceId, kind: msg.type, body: msg.body };
}

/** Sends a text to a contact. Throws `UntrustedIdentityError` if the contact's verified key changed. */
export function sendText(c: ClientCore, contact: string, text: string): Promise<SentInfo> {
  return sendDm(c, contact, { t: 'text', id: randomId(c.provider), text, sentAt: c.now() });
}

/** How a raw send (`sendDm`, `sendGroup`) runs for a caller that adds to it (`sendPhoto`). */
export interface SendOptions {
  /** Runs first in the send's operation, before anything is written or sent (it may throw). */
  readonly before?: (tx: ChatData) => Promise<void>;
}

/**
 * Sends `content` to every device of `contact` now (no outbox) and writes it into this device's
 * history. When recording it fails after the relay took it, the message is delivered: the history
 * entry is written in a step of its own, and the send resolves (history-pending.ts covers the
 * case where that fails too).
 */
export async function sendDm(
  c: ClientCore,
  contact: string,
  content: MessageContent,
  options: SendOptions = {},
): Promise<SentInfo> {
  const conversation = dm(contact);
  let sent: SentInfo['envelopes'] = [];
  try {
    return await c.run(async (tx) => {
      await options.before?.(tx);
      // Committed before the first ciphertext leaves, removed with the history entry.
      await notePending(tx, conversation, content);
      ({ envelopes: sent } = await deliverText(c, tx, contact, content));
      const message = await c.storeText(tx, conversation, c.name, content, true);
      await clearPending(tx, content.id);
      return { envelopes: sent, message };
    });
  } catch (err) {
    if (!failedAfterSend(err)) {
      // Nothing left: the row (committed if a send was tried) must not become a history entry.
      await c.run((tx) => clearPending(tx, content.id)).catch(() => {});
      throw err;
    }
    const message = await c.run(async (tx) => {
      const stored = await c.storeText(tx, conversation, c.name, content, true);
      await clearPending(tx, content.id);
      return stored;
    });
    return { envelopes: sent, message };
  }
}

/**
 * Writes the history entries of raw sends whose rows were left (history-pending.ts) as "failed":
 * the relay may or may not have taken them, and sending again is safe.
 */
export async function settleLeftHistory(c: ClientCore): Promise<void> {
  // Looked at first: a flush runs on every reconnect, and nearly always there is nothing.
  if ((await c.run(async (tx) => leftPending(tx), true)).length === 0) return;
  await c.run(async (tx) => {
    for (const row of await leftPending(tx)) {
      await c.storeText(tx, row.conversation, c.name, row.content, true, 'failed');
      await clearPending(tx, row.content.id);
    }
  });
}

/** Encrypts for every device of the contact, and a copy naming the contact for our own other devices. */
export async function deliverText(
  c: ClientCore,
  tx: ChatData,
  contact: string,
  content: MessageContent,
): Promise<Pick<SentInfo, 'envelopes'>> {
  const pk = await c.sealed.profileKeyField(tx);
  const plaintext = encodeContent({ ...content, ...pk } as Content);
  const sync = encodeContent({ ...content, to: contact, ...pk } as Content);
  const aci = await c.directory.aciOf(tx, contact);
  await tx.addMember(APP_KEYS.peers, aci);
  const out = await c.devices.send(aci, plaintext, sync);
  await devicesChanged(c, tx, out.result, dm(contact));
  for (const e of out.envelopes)
    await c.retries.remember(
      tx,
      address(e.to, e.deviceId),
      e.serverTimestamp,
      e.to === aci ? plaintext : sync,
    );
  return {
    envelopes: out.envelopes
      .filter((e) => e.to === aci)
      .map((e) => ({ to: contact, kind: e.kind, body: e.body })),
  };
}

/**
 * A device change is never applied silently: it is noted in `conversation`, and the sender-key
 * holders follow it — re-registered devices need our keys again (`markNeedsDistribution` in every
 * group they are in); added and removed ones change the member devices each send is prepared for
 * (`memberDevices` in groups.ts), so `prepareSend` lists new devices for the key and rotates past removed ones.
 */
export async function devicesChanged(
  c: ClientCore,
  tx: ChatData,
  result: DeviceChangeResult,
  conversation: string,
): Promise<void> {
  for (const change of result.changes) {
    const own = change.account === c.aci;
    const name = own ? c.name : await c.directory.nameOf(tx, change.account);
    const who = own ? 'you' : name;
    // A linked device learns of its own account's primary on its first send: not news.
    const added = own ? change.devicesAdded.filter((id) => id !== DEVICE_ID) : change.devicesAdded;
    const changes: [readonly number[], string][] = [
      [added, 'linked'],
      [change.devicesRemoved, 'unlinked'],
      [change.devicesReregistered, 're-registered'],
    ];
    for (const [ids, what] of changes)
      if (ids.length > 0) await c.note(tx, conversation, name, `${who} ${what} a device (${ids.join(', ')})`);
    // A newly linked (or re-linked) device of ours joins our groups (it reads what is sent from now
    // on); noted when the relay named it, it stays noted until this went (own-device-news.ts).
    if (own && added.length + change.devicesReregistered.length > 0) await tellOwnDevices(c, tx);
  }
  const me = address(c.name, c.deviceId);
  for (const a of result.keyHolders.redistribute) {
    const name = a.name === c.aci ? c.name : await c.directory.nameOf(tx, a.name);
    for (const g of await activeGroups(tx))
      if (g.members.includes(name))
        await c.groupCipher.markNeedsDistribution(me, g.id, [address(name, a.deviceId)]);
  }
}

/**
 * Sends `content` pairwise to every known device of each of `names` and of our own account (when
 * `self`), through the device fan-out (so 409/410 answers update the device lists). Returns the
 * devices (as display-name addresses) it reached and whether any device was found gone.
 */
export async function sendToDevices(
  c: ClientCore,
  tx: ChatData,
  names: readonly string[],
  content: Content,
  options: { self: boolean; conversation: string },
): Promise<{ reached: Address[]; removed: boolean }> {
  const plaintext = encodeContent({ ...content, ...(await c.sealed.profileKeyField(tx)) } as Content);
  const reached: Address[] = [];
  let removed = false;
  const targets = names.filter((n) => n !== c.name);
  if (options.self) targets.push(c.name);
  for (const name of new Set(targets)) {
    const aci = name === c.name ? c.aci : await c.directory.aciOf(tx, name);
    if (aci !== c.aci) await tx.addMember(APP_KEYS.peers, aci);
    const out = await c.devices.send(aci, plaintext, false);
    await devicesChanged(c, tx, out.result, options.conversation);
    removed ||= out.result.keyHolders.forget.length > 0;
    for (const a of out.result.accounts) for (const d of a.devices) reached.push(address(name, d.deviceId));
  }
  return { reached, removed };
}

/** Sends the receipts that are due (each contact's batch in its own operation). */
export async function flushReceipts(c: ClientCore): Promise<void> {
  const batches = await c.run(async (tx) => dueReceipts(tx), true);
  for (const b of batches) {
    try {
      await c.run(async (tx) => {
        await c.send([await encryptTo(c, b.contact, b.content)]);
        await clearReceipts(tx, b.keys);
      });
    } catch (err) {
      if (isRetryable(err)) throw err; // kept: sent on the next flush
      // Refused for good (an untrusted identity, an account that is gone): drop these receipts.
      await c.run((tx) => clearReceipts(tx, b.keys));
    }
  }
}

/**
 * The user is looking at `conversation`: its unread 1:1 texts are reported read to the sender
 * (an encrypted receipt). Returns how many were unread.
 */
export function markRead(c: ClientCore, conversation: string): Promise<number> {
  if (!conversation.startsWith('dm:') || !c.receipts) return Promise.resolve(0);
  return c.run(async (tx) => {
    const n = await markReadIn(tx, conversation.slice(3));
    if (n > 0) c.receiptsDue = true;
    return n;
  });
}

/** Messages of a conversation (`dm:<name>` or `group:<id>`), oldest first. */
export async function messages(c: ClientCore, conversation: string): Promise<ChatMessage[]> {
  return c.committed.messages<ChatMessage>(conversation);
}
