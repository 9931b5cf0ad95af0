/**
 * Delivery and read receipts for 1:1 texts, carried inside the end-to-end encryption (the relay
 * sees one more small ciphertext, never which message it acknowledges). A received text queues a
 * "delivered" receipt; opening the chat queues "read" receipts for what was unread. Due receipts
 * are kept in storage until they were sent, so an offline relay only delays them.
 *
 * App rows (written inside the client's operation transactions; the store reads app rows by key
 * only, so the lists are explicit index rows):
 * - `msgid:<id>` → the row key of the message with that id (to update its status);
 * - `index:receipts-due` → the receipts still to send, as `<contact>:<kind>:<id>` strings;
 * - `index:receipts-unread:<contact>` → ids of incoming texts not yet reported as read.
 * Contacts are display names (receipts are sent like texts, to a name the directory resolves).
 */
import { fromUtf8, utf8 } from '@e2ee-kit/core';
import type { ChatData } from './app-data.js';
import { type Content, MAX_RECEIPT_IDS } from './content.js';
import type { ChatMessage, DeliveryStatus } from './types.js';

export type ReceiptKind = 'delivered' | 'read';

const RANK: Record<DeliveryStatus, number> = { failed: -1, pending: 0, sent: 1, delivered: 2, read: 3 };

/** Statuses only move forward (a late "delivered" after "read" changes nothing). */
export function advanceStatus(current: DeliveryStatus | undefined, next: DeliveryStatus): DeliveryStatus {
  if (current === undefined || current === 'failed') return next;
  return RANK[next] > RANK[current] ? next : current;
}

const DUE = 'index:receipts-due';
const due = (contact: string, kind: ReceiptKind, id: string) => `${contact}:${kind}:${id}`;
const unreadIndex = (contact: string) => `index:receipts-unread:${contact}`;
export const messageIndexKey = (id: string) => `msgid:${id}`;

/** Remembers where a message is stored (called for every appended message). */
export function indexMessage(tx: ChatData, id: string, rowKey: string): Promise<void> {
  return tx.put(messageIndexKey(id), utf8(rowKey));
}

/** The stored message with this id, if any (through the message index). */
export async function storedMessage(tx: ChatData, id: string): Promise<ChatMessage | undefined> {
  const where = await tx.get(messageIndexKey(id));
  return where ? tx.json<ChatMessage>(fromUtf8(where)) : undefined;
}

/** A text from `contact` arrived: queue its delivered receipt and remember it as unread. */
export async function onIncomingText(tx: ChatData, contact: string, id: string): Promise<void> {
  await queueDelivered(tx, contact, id);
  await tx.addMember(unreadIndex(contact), id);
}

/** Queues a delivered receipt only (a copy of a text already stored: its read state stays). */
export function queueDelivered(tx: ChatData, contact: string, id: string): Promise<void> {
  return tx.addMember(DUE, due(contact, 'delivered', id));
}

/** The user saw the chat with `contact`: marks its unread texts read and queues read receipts. */
export async function markRead(tx: ChatData, contact: string): Promise<number> {
  const ids = await tx.members(unreadIndex(contact));
  if (ids.length === 0) return 0;
  const all = await tx.members(DUE);
  const added = ids.map((id) => due(contact, 'read', id)).filter((k) => !all.includes(k));
  await tx.putJson(DUE, [...all, ...added]);
  await tx.delete(unreadIndex(contact));
  return ids.length;
}

export interface ReceiptBatch {
  readonly contact: string;
  readonly content: Extract<Content, { t: 'receipt' }>;
  /** The due entries this batch clears once sent. */
  readonly keys: readonly string[];
}

/** Receipts still to send, batched per contact and kind (at most `MAX_RECEIPT_IDS` ids each). */
export async function dueReceipts(tx: ChatData): Promise<ReceiptBatch[]> {
  const groups = new Map<string, { contact: string; kind: ReceiptKind; ids: string[]; keys: string[] }>();
  for (const k of await tx.members(DUE)) {
    // Names never contain ':' (the relay allows [a-z0-9_-]); ids are hex.
    const [contact, kind, id] = k.split(':');
    if (!contact || (kind !== 'delivered' && kind !== 'read') || !id) {
      await tx.removeMember(DUE, k);
      continue;
    }
    const g = groups.get(`${contact}:${kind}`) ?? { contact, kind, ids: [], keys: [] };
    groups.set(`${contact}:${kind}`, g);
    g.ids.push(id);
    g.keys.push(k);
  }
  const out: ReceiptBatch[] = [];
  for (const g of groups.values()) {
    for (let i = 0; i < g.ids.length; i += MAX_RECEIPT_IDS) {
      out.push({
        contact: g.contact,
        content: { t: 'receipt', kind: g.kind, ids: g.ids.slice(i, i + MAX_RECEIPT_IDS) },
        keys: g.keys.slice(i, i + MAX_RECEIPT_IDS),
      });
    }
  }
  return out;
}

/** Clears receipts that were sent (or refused for good). */
export async function clearReceipts(tx: ChatData, keys: readonly string[]): Promise<void> {
  const rest = (await tx.members(DUE)).filter((k) => !keys.includes(k));
  if (rest.length === 0) await tx.delete(DUE);
  else await tx.putJson(DUE, rest);
}

/**
 * Applies a receipt from `from`: only this account's own texts in the 1:1 chat with `from` change
 * (a contact cannot mark another chat's messages). Returns the messages whose status moved.
 */
export async function applyReceipt(
  tx: ChatData,
  from: string,
  receipt: Extract<Content, { t: 'receipt' }>,
): Promise<ChatMessage[]> {
  const changed: ChatMessage[] = [];
  for (const id of receipt.ids) {
    const where = await tx.get(messageIndexKey(id));
    if (!where) continue;
    const key = fromUtf8(where);
    const m = await tx.json<ChatMessage>(key);
    if (!m || !m.outgoing || m.system || m.conversation !== `dm:${from}`) continue;
    const status = advanceStatus(m.status, receipt.kind);
    if (status === m.status) continue;
    const updated: ChatMessage = { ...m, status };
    await tx.putJson(key, updated);
    changed.push(updated);
  }
  return changed;
}

/** Sets the status of one stored message by id (the outbox: pending → sent, or failed). */
export async function setStatus(
  tx: ChatData,
  id: string,
  status: DeliveryStatus,
): Promise<ChatMessage | undefined> {
  const where = await tx.get(messageIndexKey(id));
  if (!where) return undefined;
  const key = fromUtf8(where);
  const m = await tx.json<ChatMessage>(key);
  if (!m) return undefined;
  const updated: ChatMessage = {
    ...m,
    status: status === 'failed' ? 'failed' : advanceStatus(m.status, status),
  };
  await tx.putJson(key, updated);
  return updated;
}

/**
 * An outbox entry went out: its message is "sent" and, for a photo, shows the relay's blob id
 * instead of the placeholder it had while waiting.
 */
export async function markSent(
  tx: ChatData,
  content: Extract<Content, { t: 'text' | 'attachment' }>,
): Promise<ChatMessage | undefined> {
  const updated = await setStatus(tx, content.id, 'sent');
  if (!updated || content.t !== 'attachment') return updated;
  const withId: ChatMessage = { ...updated, attachment: content.attachment };
  const where = await tx.get(messageIndexKey(content.id));
  if (where) await tx.putJson(fromUtf8(where), withId);
  return withId;
}
