/**
 * The outbox: a text written while the relay cannot be reached is stored as "pending" and sent, in
 * order, once the relay answers again — by an explicit flush or by the reconnect itself.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Relay, silentLogger, startRelay } from '../../server/src/index.js';
import { ChatClient, type ChatClientOptions, type FetchLike, isRetryable, RelayError } from '../src/index.js';
import { memoryStore } from '../src/memory-store.js';

let relay: Relay;
let dir: string;
const clients: ChatClient[] = [];
let down = false;
/** The network: when `down`, every request fails the way fetch fails without an answer. */
const flakyFetch: FetchLike = (input, init) => {
  if (down) return Promise.reject(new TypeError('fetch failed'));
  return globalThis.fetch(input, init);
};
const opts = (extra: Partial<ChatClientOptions> = {}): ChatClientOptions => ({
  serverUrl: relay.url,
  webSocket: (url) => new WebSocket(url) as never,
  fetch: flakyFetch,
  store: memoryStore(),
  ...extra,
});
async function register(name: string) {
  const c = await ChatClient.register(name, opts());
  clients.push(c);
  return c;
}
const shown = async (c: ChatClient, conv: string) =>
  (await c.messages(conv)).filter((m) => !m.system).map((m) => `${m.text}:${m.status ?? 'in'}`);

beforeEach(async () => {
  down = false;
  dir = mkdtempSync(join(tmpdir(), 'e2ee-chat-outbox-'));
  relay = await startRelay({ logger: silentLogger, dbPath: join(dir, 'relay.db') });
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await relay.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('outbox', () => {
  it('keeps texts written offline as pending and sends them in order when the relay answers', async () => {
    const alice = await register('alice');
    const bob = await register('bob');
    await alice.send('dm:bob', 'first');
    down = true;
    expect((await alice.send('dm:bob', 'offline one')).status).toBe('pending');
    expect((await alice.send('dm:bob', 'offline two')).status).toBe('pending');
    expect(await alice.flushOutbox()).toBe(0); // still down: nothing sent, nothing lost
    expect(await shown(alice, 'dm:bob')).toEqual([
      'first:sent',
      'offline one:pending',
      'offline two:pending',
    ]);

    down = false;
    // A text written after the relay is back still queues behind the ones waiting.
    expect((await alice.send('dm:bob', 'back online')).status).toBe('pending');
    // …and writing it starts sending what waits (no reconnect needed: the relay answers).
    await expect
      .poll(() => shown(alice, 'dm:bob'), { timeout: 10_000 })
      .toEqual(['first:sent', 'offline one:sent', 'offline two:sent', 'back online:sent']);
    await bob.syncOnce();
    expect((await bob.messages('dm:alice')).map((m) => m.text)).toEqual([
      'first',
      'offline one',
      'offline two',
      'back online',
    ]);
    expect(await alice.flushOutbox()).toBe(0);
  });

  it('sends what waited when the WebSocket reconnects after a relay restart', async () => {
    const alice = await register('alice');
    const bob = await register('bob');
    await alice.send('dm:bob', 'before the restart');
    await alice.connect();
    const port = relay.port;
    await relay.close();
    const pendingText = await alice.send('dm:bob', 'while the relay is down');
    expect(pendingText.status).toBe('pending');
    relay = await startRelay({ logger: silentLogger, dbPath: join(dir, 'relay.db'), port });
    const statuses: string[] = [];
    alice.on('message-status', (m) => statuses.push(`${m.text}:${m.status}`));
    await alice.connect(); // what the app does on reconnect; the outbox goes on "ready"
    await expect.poll(() => statuses, { timeout: 10_000 }).toContain('while the relay is down:sent');
    await bob.syncOnce();
    expect((await bob.messages('dm:alice')).map((m) => m.text)).toEqual([
      'before the restart',
      'while the relay is down',
    ]);
  });

  it('marks a waiting text failed when the relay, once back, refuses it for good', async () => {
    const alice = await register('alice');
    down = true;
    expect((await alice.send('dm:nobody', 'to an account that does not exist')).status).toBe('pending');
    down = false;
    const changes: string[] = [];
    alice.on('message-status', (m) => changes.push(`${m.status}:${m.error}`));
    expect(await alice.flushOutbox()).toBe(0);
    expect(await shown(alice, 'dm:nobody')).toEqual(['to an account that does not exist:failed']);
    expect(changes).toEqual(['failed:not_found']);
    expect(await alice.flushOutbox()).toBe(0); // not tried again
  });

  it('throws, and stores nothing, when the relay refuses the send', async () => {
    const alice = await register('alice');
    await expect(alice.send('dm:nobody', 'hello?')).rejects.toSatisfy(
      (e: unknown) => e instanceof RelayError && e.status === 404,
    );
    expect(await alice.messages('dm:nobody')).toEqual([]);
    expect(await alice.flushOutbox()).toBe(0);
  });

  it('retries only what an unreachable or briefly failing relay explains', () => {
    expect(isRetryable(new TypeError('Failed to fetch'))).toBe(true);
    expect(isRetryable(new TypeError('fetch failed'))).toBe(true);
    expect(isRetryable(new RelayError(503, 'unavailable', 'x'))).toBe(true);
    expect(isRetryable(new RelayError(429, 'rate_limited', 'x'))).toBe(true);
    expect(isRetryable(new RelayError(401, 'unauthorized', 'x'))).toBe(false);
    expect(isRetryable(new RelayError(404, 'not_found', 'x'))).toBe(false);
    expect(isRetryable(new TypeError('x is not a function'))).toBe(false);
    expect(isRetryable(new Error('fetch failed'))).toBe(false);
  });
});
