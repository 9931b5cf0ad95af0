/**
 * The chat app's own rows — credentials, messages, groups, verified keys, outbox, pending group
 * messages — in the store's `app` table. Always used through the running transaction's `tx.app`, so
 * they commit in the same store transaction as the protocol state the operation changed (a received
 * message lands with its session state, or neither does).
 *
 * The store reads app rows by key only (with at-rest encryption row keys are one-way HMACs), so every
 * list the client needs is kept explicitly: small sets in one JSON index row each, and a conversation's
 * messages as a counter row plus one row per message.
 */
import { fromUtf8, utf8 } from '@e2ee-kit/core';
import type { AppView } from '@e2ee-kit/store-kv';

export const APP_KEYS = {
  credentials: 'local:credentials',
  /** Index rows (JSON string arrays). */
  conversations: 'index:conversations',
  groups: 'index:groups',
  /** Accounts (ServiceIds) we hold a session or an identity key for (what a backup walks). */
  peers: 'index:peers',
  pending: (group: string, from: string) => `index:pending:${group}:${from}`,
  messageCount: (conversation: string) => `msg-count:${conversation}`,
  message: (conversation: string, n: number) => `msg:${conversation}:${n.toString().padStart(12, '0')}`,
  group: (id: string) => `group:${id}`,
  /** The newest group texts this device sent, for re-sends (one JSON array per group). */
  outbox: (group: string) => `outbox:${group}`,
  verified: (contact: string) => `verified:${contact}`,
  /** The drop notices written in a conversation since its last message (core.ts `dropNote`). */
  dropNotes: (conversation: string) => `drop-notes:${conversation}`,
} as const;

export function jsonBytes(value: unknown): Uint8Array {
  return utf8(JSON.stringify(value));
}

export function parseJsonBytes<T>(bytes: Uint8Array | undefined): T | undefined {
  return bytes === undefined ? undefined : (JSON.parse(fromUtf8(bytes)) as T);
}

/** Typed access to the app rows of one transaction. */
export class ChatData {
  constructor(readonly app: AppView) {}

  get(key: string): Promise<Uint8Array | undefined> {
    return this.app.get(key);
  }
  put(key: string, value: Uint8Array): Promise<void> {
    return this.app.put(key, value);
  }
  delete(key: string): Promise<void> {
    return this.app.delete(key);
  }
  async json<T>(key: string): Promise<T | undefined> {
    return parseJsonBytes<T>(await this.app.get(key));
  }
  putJson(key: string, value: unknown): Promise<void> {
    return this.app.put(key, jsonBytes(value));
  }

  /** The members of an index row, in insertion order. */
  async members(index: string): Promise<string[]> {
    return (await this.json<string[]>(index)) ?? [];
  }
  async addMember(index: string, member: string): Promise<void> {
    const all = await this.members(index);
    if (!all.includes(member)) await this.putJson(index, [...all, member]);
  }
  async removeMember(index: string, member: string): Promise<void> {
    const all = await this.members(index);
    if (!all.includes(member)) return;
    const rest = all.filter((m) => m !== member);
    if (rest.length === 0) await this.delete(index);
    else await this.putJson(index, rest);
  }

  /** Appends a message row to its conversation; returns the row's key. */
  async appendMessage(conversation: string, message: unknown): Promise<string> {
    const n = (await this.json<number>(APP_KEYS.messageCount(conversation))) ?? 0;
    const key = APP_KEYS.message(conversation, n);
    await this.putJson(APP_KEYS.messageCount(conversation), n + 1);
    await this.putJson(key, message);
    await this.addMember(APP_KEYS.conversations, conversation);
    return key;
  }

  /** A conversation's message rows, oldest first. */
  async messages<T>(conversation: string): Promise<T[]> {
    const n = (await this.json<number>(APP_KEYS.messageCount(conversation))) ?? 0;
    const out: T[] = [];
    for (let i = 0; i < n; i++) {
      const m = await this.json<T>(APP_KEYS.message(conversation, i));
      if (m !== undefined) out.push(m);
    }
    return out;
  }
}
