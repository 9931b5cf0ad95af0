/**
 * Delivery and read receipts: end-to-end encrypted contents between the two devices, applied only
 * to the receiver's own texts in the 1:1 chat with the sender, and never moving a status backwards.
 */
import { MIN_ARGON2_PARAMS } from '@e2ee-kit/backup-kdf';
import { DecodeError } from '@e2ee-kit/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Relay, silentLogger, startRelay } from '../../server/src/index.js';
import { ChatData } from '../src/app-data.js';
import {
  advanceStatus,
  ChatClient,
  type ChatClientOptions,
  type ChatMessage,
  decodeContent,
} from '../src/index.js';
import { memoryStore } from '../src/memory-store.js';
import { applyReceipt, indexMessage } from '../src/receipts.js';

let relay: Relay;
const clients: ChatClient[] = [];
const opts = (extra: Partial<ChatClientOptions> = {}): ChatClientOptions => ({
  serverUrl: relay.url,
  webSocket: (url) => new WebSocket(url) as never,
  store: memoryStore(),
  ...extra,
});
async function register(name: string) {
  const c = await ChatClient.register(name, opts());
  clients.push(c);
  return c;
}
const statusOf = async (c: ChatClient, conv: string, text: string) =>
  (await c.messages(conv)).find((m) => m.text === text)?.status;

beforeEach(async () => {
  relay = await startRelay({ logger: silentLogger });
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await relay.close();
});

describe('receipts', () => {
  it('moves a 1:1 text from sent to delivered when it arrives, and to read when the chat is opened', async () => {
    const alice = await register('alice');
    const bob = await register('bob');
    await alice.connect();
    const changes: string[] = [];
    alice.on('message-status', (m) => changes.push(`${m.text}:${m.status}`));
    const sent = await alice.send('dm:bob', 'are you there?');
    expect(sent.status).toBe('sent');
    expect(await statusOf(alice, 'dm:bob', 'are you there?')).toBe('sent');

    await bob.connect(); // receives, stores, acknowledges, then sends the delivered receipt
    await expect
      .poll(() => statusOf(alice, 'dm:bob', 'are you there?'), { timeout: 10_000 })
      .toBe('delivered');
    expect(await bob.markRead('dm:alice')).toBe(1);
    await expect.poll(() => statusOf(alice, 'dm:bob', 'are you there?'), { timeout: 10_000 }).toBe('read');
    expect(changes).toEqual(['are you there?:delivered', 'are you there?:read']);
    // Reading again reports nothing new.
    expect(await bob.markRead('dm:alice')).toBe(0);
  });

  it('moves the tick of a text sent before a backup on the device it was restored to', async () => {
    const alice = await register('alice');
    const bob = await register('bob');
    await alice.send('dm:bob', 'sent before the backup');
    await alice.backup({ password: 'long enough password', argon2: MIN_ARGON2_PARAMS });
    const { client: restored } = await ChatClient.restore(
      'alice',
      await alice.recoveryCode(),
      { password: 'long enough password' },
      opts(),
    );
    alice.disconnect();
    clients.push(restored);
    expect(await statusOf(restored, 'dm:bob', 'sent before the backup')).toBe('sent');
    await bob.syncOnce(); // stores the text; its delivered receipt goes to Alice's account
    expect(await bob.markRead('dm:alice')).toBe(1);
    await restored.connect();
    await expect
      .poll(() => statusOf(restored, 'dm:bob', 'sent before the backup'), { timeout: 10_000 })
      .toBe('read');
  });

  it('applies a receipt only to the own texts of the chat with its sender', async () => {
    const store = await memoryStore()({});
    const read = async (k: string) =>
      JSON.parse(new TextDecoder().decode(await store.app.get(k))) as ChatMessage;
    await store.transaction(async (t) => {
      const tx = new ChatData(t.app);
      const stored = async (key: string, m: Partial<ChatMessage> & { id: string; conversation: string }) => {
        const full: ChatMessage = {
          from: 'alice',
          text: 't',
          sentAt: 1,
          receivedAt: 1,
          outgoing: true,
          ...m,
        };
        await tx.put(key, new TextEncoder().encode(JSON.stringify(full)));
        await indexMessage(tx, m.id, key);
      };
      await stored('msg:dm:bob:0', { id: 'a1', conversation: 'dm:bob', status: 'sent' });
      await stored('msg:dm:carol:1', { id: 'c1', conversation: 'dm:carol', status: 'sent' });
      await stored('msg:dm:carol:2', { id: 'in1', conversation: 'dm:carol', outgoing: false, from: 'carol' });
      await stored('msg:dm:carol:3', { id: 'sys', conversation: 'dm:carol', system: true });
      // Carol names Alice's text to Bob, her own text, a system note and an unknown id.
      const changed = await applyReceipt(tx, 'carol', {
        t: 'receipt',
        kind: 'read',
        ids: ['a1', 'in1', 'sys', 'c1', 'zz'],
      });
      expect(changed.map((m) => [m.id, m.status])).toEqual([['c1', 'read']]);
    });
    expect((await read('msg:dm:bob:0')).status).toBe('sent');
    expect((await read('msg:dm:carol:1')).status).toBe('read');
    expect((await read('msg:dm:carol:2')).status).toBeUndefined();
    // A late "delivered" after "read" changes nothing.
    await store.transaction(async (t) => {
      expect(
        await applyReceipt(new ChatData(t.app), 'carol', { t: 'receipt', kind: 'delivered', ids: ['c1'] }),
      ).toEqual([]);
    });
  });

  it('refuses malformed receipt contents', () => {
    const bad = [
      { t: 'receipt', kind: 'seen', ids: ['ab'] },
      { t: 'receipt', kind: 'read', ids: [] },
      { t: 'receipt', kind: 'read', ids: [''] },
      { t: 'receipt', kind: 'read', ids: Array.from({ length: 101 }, (_, i) => `id${i}`) },
      { t: 'receipt', kind: 'read', ids: 'ab' },
      { t: 'receipt', kind: 'read', ids: [7] },
    ];
    for (const b of bad) {
      expect(() => decodeContent(new TextEncoder().encode(JSON.stringify(b)))).toThrow(DecodeError);
    }
  });

  it('never moves a status backwards', () => {
    expect(advanceStatus('read', 'delivered')).toBe('read');
    expect(advanceStatus('delivered', 'read')).toBe('read');
    expect(advanceStatus('pending', 'sent')).toBe('sent');
    expect(advanceStatus(undefined, 'sent')).toBe('sent');
    expect(advanceStatus('failed', 'sent')).toBe('sent');
  });
});
