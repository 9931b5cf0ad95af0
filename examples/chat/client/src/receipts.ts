/**
 * Delivery and read receipts for 1:1 texts, carried inside the end-to-end encryption (the relay
 * sees one more small ciphertext, never which message it acknowledges). A received text queues a
 * "delivered" receipt; opening the chat queues "read" receipts for what was unread. Due receipts
 * are kept in storage until they were sent, so an offline relay only delays them.
 *
 * Storage keys (all in the client's storage, written inside the client's transactions):
 * - `msgid:<id>` → the storage key of the message with that id (to update its status);
 * - `receipt-due:<contact>:<kind>:<id>` → a receipt still to send;
 * - `receipt-unread:<contact>:<id>` → an incoming text not yet reported as read.
 */
import { fromUtf8, utf8 } from '@e2ee-kit/core';
import type { ChatMessage, DeliveryStatus } from './client.js';
import { type Content, MAX_RECEIPT_IDS } from './content.js';
import { jsonBytes, parseJsonBytes, type Transaction } from './storage.js';

export type ReceiptKind = 'delivered' | 'read';

const RANK: Record<DeliveryStatus, number> = { failed: -1, pending: 0, sent: 1, delivered: 2, read: 3 };

/** Statuses only move forward (a late "delivered" after "read" changes nothing). */
export function advanceStatus(current: DeliveryStatus | undefined, next: DeliveryStatus): DeliveryStatus {
  if (current === undefined || current === 'failed') return next;
  return RANK[next] > RANK[current] ? next : current;
}

const dueKey = (contact: string, kind: ReceiptKind, id: string) => `receipt-due:${contact}:${kind}:${id}`;
const unreadKey = (contact: string, id: string) => `receipt-unread:${contact}:${id}`;
export const messageIndexKey = (id: string) => `msgid:${id}`;
const ONE = new Uint8Array([1]);

/** Remembers where a message is stored (called for every appended message). */
export function indexMessage(tx: Transaction, id: string, storageKey: string): void {
  tx.set(messageIndexKey(id), utf8(storageKey));
}

/** A text from `contact` arrived: queue its delivered receipt and remember it as unread. */
export function onIncomingText(tx: Transaction, contact: string, id: string): void {
  tx.set(dueKey(contact, 'delivered', id), ONE);
  tx.set(unreadKey(contact, id), ONE);
}

/** The user saw the chat with `contact`: marks its unread texts read and queues read receipts. */
export async function markRead(tx: Transaction, contact: string): Promise<number> {
  const keys = await tx.keys(`receipt-unread:${contact}:`);
  for (const k of keys) {
    const id = k.slice(`receipt-unread:${contact}:`.length);
    tx.delete(k);
    tx.set(dueKey(contact, 'read', id), ONE);
  }
  return keys.length;
}

export interface ReceiptBatch {
  readonly contact: string;
  readonly content: Extract<Content, { t: 'receipt' }>;
  /** The storage keys this batch clears once sent. */
  readonly keys: readonly string[];
}

/** Receipts still to send, batched per contact and kind (at most `MAX_RECEIPT_IDS` ids each). */
export async function dueReceipts(tx: Transaction): Promise<ReceiptBatch[]> {
  const groups = new Map<string, { contact: string; kind: ReceiptKind; ids: string[]; keys: string[] }>();
  for (const k of await tx.keys('receipt-due:')) {
    // Names never contain ':' (the relay allows [a-z0-9_-]); ids are hex.
    const [, contact, kind, id] = k.split(':');
    if (!contact || (kind !== 'delivered' && kind !== 'read') || !id) {
      tx.delete(k);
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

/**
 * Applies a receipt from `from`: only this account's own texts in the 1:1 chat with `from` change
 * (a contact cannot mark another chat's messages). Returns the messages whose status moved.
 */
export async function applyReceipt(
  tx: Transaction,
  from: string,
  receipt: Extract<Content, { t: 'receipt' }>,
): Promise<ChatMessage[]> {
  const changed: ChatMessage[] = [];
  for (const id of receipt.ids) {
    const where = await tx.get(messageIndexKey(id));
    if (!where) continue;
    const key = fromUtf8(where);
    const m = parseJsonBytes<ChatMessage>(await tx.get(key));
    if (!m || !m.outgoing || m.system || m.conversation !== `dm:${from}`) continue;
    const status = advanceStatus(m.status, receipt.kind);
    if (status === m.status) continue;
    const updated: ChatMessage = { ...m, status };
    tx.set(key, jsonBytes(updated));
    changed.push(updated);
  }
  return changed;
}

/** Sets the status of one stored message by id (the outbox: pending → sent, or failed). */
export async function setStatus(
  tx: Transaction,
  id: string,
  status: DeliveryStatus,
): Promise<ChatMessage | undefined> {
  const where = await tx.get(messageIndexKey(id));
  if (!where) return undefined;
  const key = fromUtf8(where);
  const m = parseJsonBytes<ChatMessage>(await tx.get(key));
  if (!m) return undefined;
  const updated: ChatMessage = {
    ...m,
    status: status === 'failed' ? 'failed' : advanceStatus(m.status, status),
  };
  tx.set(key, jsonBytes(updated));
  return updated;
}
