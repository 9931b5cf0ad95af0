/**
 * A text the outbox gave up on can be sent again: written while the relay could not be reached, to
 * a contact the user verified, who re-installed before it went — the outbox marks it "failed"
 * (`UNTRUSTED_IDENTITY`, not a clock that stays); once the user accepts the new safety number,
 * `sendAgain` sends it, and the contact shows it once. And a contact who re-installed can be
 * written to first when the user had not verified them: the new key is taken, the change noted.
 */
import { KvStore } from '@e2ee-kit/store-kv';
import { MemoryKvBackend } from '@e2ee-kit/store-kv/testing';
import { expect, it } from 'vitest';
import { ChatClient, type ChatClientOptions, type ChatMessage, type FetchLike } from '../src/index.js';
import { perTestRelay } from './per-test-relay.js';

let sendsFail = false;
const bed = perTestRelay(() => {
  sendsFail = false;
});
const { clients } = bed;
/** Erin's network: while `sendsFail`, her message submissions get no answer (the rest works). */
const erinFetch: FetchLike = (input, init) =>
  sendsFail && /\/v1\/(fanout|sealed|messages)\b/.test(new URL(input).pathname)
    ? Promise.reject(new TypeError('fetch failed'))
    : globalThis.fetch(input, init);
const opts = (extra: Partial<ChatClientOptions> = {}) => bed.opts({ receipts: false, ...extra });
const shown = async (c: ChatClient, conv: string) =>
  (await c.messages(conv)).filter((m) => !m.system).map((m) => `${m.text}:${m.status ?? 'in'}`);

it('marks a text to a verified contact who re-installed meanwhile "failed", and sends it again once accepted', async () => {
  const erin = await ChatClient.register('erin', opts({ fetch: erinFetch }));
  const frank = await ChatClient.register('frank', opts());
  clients.push(erin, frank);
  await erin.send('dm:frank', 'hello frank');
  await frank.syncOnce();
  expect((await erin.verifySafetyNumber('frank', (await frank.safetyNumber('erin')).payload)).status).toBe(
    'match',
  );

  sendsFail = true;
  const waiting = await erin.send('dm:frank', 'are you still there?');
  expect(waiting.status).toBe('pending');
  const frank2 = await ChatClient.register('frank', { ...opts(), recoveryCode: await frank.recoveryCode() });
  clients.push(frank2);
  sendsFail = false;

  const changes: (ChatMessage & { error?: string })[] = [];
  erin.on('message-status', (m) => changes.push(m));
  expect(await erin.flushOutbox()).toBe(0);
  expect(await shown(erin, 'dm:frank')).toEqual(['hello frank:sent', 'are you still there?:failed']);
  expect(changes.map((m) => [m.id, m.status, m.error])).toEqual([
    [waiting.id, 'failed', 'UNTRUSTED_IDENTITY'],
  ]);

  // Sent again before the change is accepted: refused the same way (pending, then failed again).
  await erin.sendAgain(waiting.id);
  await expect.poll(() => changes.length).toBe(3);
  expect(changes.map((m) => [m.status, m.error])).toEqual([
    ['failed', 'UNTRUSTED_IDENTITY'],
    ['pending', undefined],
    ['failed', 'UNTRUSTED_IDENTITY'],
  ]);
  await erin.acceptIdentityChange('frank');
  expect((await erin.sendAgain(waiting.id)).status).toBe('pending');
  await expect
    .poll(() => shown(erin, 'dm:frank'), { timeout: 10_000 })
    .toEqual(['hello frank:sent', 'are you still there?:sent']);
  await frank2.syncOnce();
  expect(await shown(frank2, 'dm:erin')).toEqual(['are you still there?:in']);
  // The change is noted in Erin's chat.
  expect((await erin.messages('dm:frank')).filter((m) => m.system).map((m) => m.text)).toContain(
    'your safety number with frank changed',
  );
});

it('writes first to a contact who re-installed (not verified): sent under the new key, the change noted', async () => {
  const erin = await ChatClient.register('erin', opts());
  const frank = await ChatClient.register('frank', opts());
  clients.push(erin, frank);
  await erin.send('dm:frank', 'hello frank');
  await frank.syncOnce();
  const frank2 = await ChatClient.register('frank', { ...opts(), recoveryCode: await frank.recoveryCode() });
  clients.push(frank2);
  // Before, the fan-out refused the new key until Frank wrote first (and "Accept" changed nothing).
  expect((await erin.send('dm:frank', 'after your re-install')).status).toBe('sent');
  await frank2.syncOnce();
  expect(await shown(frank2, 'dm:erin')).toEqual(['after your re-install:in']);
  expect((await erin.messages('dm:frank')).filter((m) => m.system).map((m) => m.text)).toContain(
    'your safety number with frank changed',
  );
  // Frank answers on the new session.
  await frank2.send('dm:erin', 'yes, new phone');
  await erin.syncOnce();
  expect((await shown(erin, 'dm:frank')).at(-1)).toBe('yes, new phone:in');
});

it('notes the changed safety number in the same store commit as the new key', async () => {
  const backend = new MemoryKvBackend();
  const erin = await ChatClient.register('erin', opts({ store: (o) => KvStore.open(backend, o) }));
  const frank = await ChatClient.register('frank', opts());
  clients.push(erin, frank);
  await erin.send('dm:frank', 'hello frank');
  const frank2 = await ChatClient.register('frank', { ...opts(), recoveryCode: await frank.recoveryCode() });
  clients.push(frank2);
  // What each of Erin's commits wrote: its tables, and whether an app row holds the note's text
  // (the memory store is not sealed, so values are readable).
  const note = 'your safety number with frank changed';
  const commits: { tables: Set<string>; noted: boolean }[] = [];
  backend.onCommit = (writes) => {
    const text = (v: Uint8Array | null) => (v === null ? '' : new TextDecoder().decode(v));
    commits.push({
      tables: new Set(writes.filter((w) => w.value !== null).map((w) => w.table)),
      noted: writes.some((w) => w.table === 'app' && text(w.value).includes(note)),
    });
  };
  expect((await erin.send('dm:frank', 'after your re-install')).status).toBe('sent');
  const noting = commits.filter((c) => c.noted);
  expect(noting).toHaveLength(1);
  expect(noting[0]?.tables.has('identity')).toBe(true);
  expect((await erin.messages('dm:frank')).filter((m) => m.system).map((m) => m.text)).toEqual([note]);
});
