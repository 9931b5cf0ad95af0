/**
 * What waited in the outbox when a backup was taken: the backup carries the waiting texts and
 * photos (a photo's encrypted blob first among the backup's photos), the restored device sends them
 * in order with the ids they had, and a receiver keeps one copy per message id, so a message the
 * old device sent after the backup is not shown twice. What a backup cannot send (no outbox entry,
 * or a photo whose blob did not fit) is restored as "failed", never as "pending" forever, and a
 * failed text can be sent again (`sendAgain`), shown once even if an earlier try reached the contact.
 */
import { MIN_ARGON2_PARAMS } from '@e2ee-kit/backup-kdf';
import { describe, expect, it } from 'vitest';
import { ChatData } from '../src/app-data.js';
import { ChatClient, type ChatClientOptions, type FetchLike } from '../src/index.js';
import { setStatus } from '../src/receipts.js';
import { perTestRelay } from './per-test-relay.js';

let down = false;
const bed = perTestRelay(() => {
  down = false;
});
const { clients } = bed;
/**
 * The old phone's network: when `down`, every request but the backup's upload fails as fetch does
 * with no answer — so nothing flushes the outbox before the backup is taken.
 */
const oldPhoneFetch: FetchLike = (input, init) =>
  down && !new URL(input).pathname.startsWith('/v1/backup')
    ? Promise.reject(new TypeError('fetch failed'))
    : globalThis.fetch(input, init);
const { opts } = bed;
const PASSWORD = 'backup password';
const picture = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));
const shown = async (c: ChatClient, conv: string) =>
  (await c.messages(conv))
    .filter((m) => !m.system)
    .map((m) => `${m.attachment ? 'photo' : m.text}:${m.status ?? 'in'}`);

/**
 * Alice writes a text and sends a photo while her phone is offline (both wait), then the relay is
 * back and she makes a backup before anything flushed the outbox.
 */
async function backupWithWaitingItems(extra: Partial<ChatClientOptions> = {}) {
  const alice = await ChatClient.register('alice', opts({ fetch: oldPhoneFetch, ...extra }));
  const bob = await ChatClient.register('bob', opts());
  clients.push(alice, bob);
  await alice.send('dm:bob', 'before');
  const photo = picture(3_000, 5);
  down = true;
  expect((await alice.send('dm:bob', 'written offline')).status).toBe('pending');
  expect((await alice.sendPhoto('dm:bob', photo, { contentType: 'image/png' })).message.status).toBe(
    'pending',
  );
  const created = await alice.backup({ password: PASSWORD, argon2: MIN_ARGON2_PARAMS });
  expect(await shown(alice, 'dm:bob')).toEqual(['before:sent', 'written offline:pending', 'photo:pending']);
  down = false;
  return { alice, bob, photo, created, code: await alice.recoveryCode() };
}

async function restoreAlice(code: string) {
  const { client: restored } = await ChatClient.restore('alice', code, { password: PASSWORD }, opts());
  clients.push(restored);
  return restored;
}

describe('a backup with items waiting in the outbox', () => {
  it('is restored with them waiting, and the new device sends them (the old one never did)', async () => {
    const { alice, bob, photo, created, code } = await backupWithWaitingItems();
    expect(created.photos).toBe(1); // the waiting photo's blob travels with the backup
    alice.disconnect(); // the old phone is lost before it was back online
    const restored = await restoreAlice(code);
    expect(await shown(restored, 'dm:bob')).toEqual([
      'before:sent',
      'written offline:pending',
      'photo:pending',
    ]);
    expect(await restored.flushOutbox()).toBe(2);
    expect(await shown(restored, 'dm:bob')).toEqual(['before:sent', 'written offline:sent', 'photo:sent']);
    await bob.syncOnce();
    expect(await shown(bob, 'dm:alice')).toEqual(['before:in', 'written offline:in', 'photo:in']);
    const got = (await bob.messages('dm:alice')).find((m) => m.attachment);
    expect(same(await bob.openAttachment(got!.attachment!), photo)).toBe(true);
    expect(await restored.flushOutbox()).toBe(0);
  });

  it('sends them again from the new device when the old one sent them already: shown once', async () => {
    const { alice, bob, code } = await backupWithWaitingItems();
    expect(await alice.flushOutbox()).toBe(2); // the old phone sent them after the backup
    await bob.syncOnce();
    expect(await shown(bob, 'dm:alice')).toEqual(['before:in', 'written offline:in', 'photo:in']);
    const restored = await restoreAlice(code);
    expect(await restored.flushOutbox()).toBe(2);
    await bob.syncOnce();
    // The same message ids from the same sender: one copy each.
    expect(await shown(bob, 'dm:alice')).toEqual(['before:in', 'written offline:in', 'photo:in']);
    // Delivery receipts reach the restored device (which took over the account's queue), and its
    // ticks move past "sent".
    await expect
      .poll(
        async () => {
          await restored.syncOnce();
          return shown(restored, 'dm:bob');
        },
        { timeout: 10_000 },
      )
      .toEqual(['before:delivered', 'written offline:delivered', 'photo:delivered']);
  });

  it('restores a waiting photo whose blob the backup could not carry as "failed"', async () => {
    // A backup with room for no photo: the waiting photo's blob is left out.
    const { alice, code, created } = await backupWithWaitingItems({ backupMediaBytes: 1 });
    expect(created.photosLeftOut).toBe(1);
    alice.disconnect();
    const restored = await restoreAlice(code);
    expect(await shown(restored, 'dm:bob')).toEqual([
      'before:sent',
      'written offline:pending',
      'photo:failed',
    ]);
    expect(await restored.flushOutbox()).toBe(1);
    expect(await shown(restored, 'dm:bob')).toEqual(['before:sent', 'written offline:sent', 'photo:failed']);
  });

  it('restores a pending message without an outbox entry (an older backup) as "failed"', async () => {
    const carol = await ChatClient.register('carol', opts({ fetch: oldPhoneFetch }));
    clients.push(carol);
    clients.push(await ChatClient.register('bob', opts()));
    down = true;
    expect((await carol.send('dm:bob', 'never sent')).status).toBe('pending');
    // What a backup made before the outbox travelled with it holds: the message, no entry.
    await carol.store.transaction((tx) => tx.app.delete('index:outbox-send'));
    await carol.backup({ password: PASSWORD, argon2: MIN_ARGON2_PARAMS });
    down = false;
    const code = await carol.recoveryCode();
    carol.disconnect();
    const { client: restored } = await ChatClient.restore('carol', code, { password: PASSWORD }, opts());
    clients.push(restored);
    expect(await shown(restored, 'dm:bob')).toEqual(['never sent:failed']);
    // The user sends it again: it waits, goes, and Bob has it once.
    const bob = clients[1]!;
    const again = await restored.sendAgain((await restored.messages('dm:bob'))[0]!.id);
    expect(again.status).toBe('pending');
    await expect.poll(() => shown(restored, 'dm:bob'), { timeout: 10_000 }).toEqual(['never sent:sent']);
    await bob.syncOnce();
    expect(await shown(bob, 'dm:carol')).toEqual(['never sent:in']);
  });

  it('sends a failed text again with its id: a copy that did reach the contact is not shown twice', async () => {
    const alice = await ChatClient.register('alice', opts());
    const bob = await ChatClient.register('bob', opts());
    clients.push(alice, bob);
    const sent = await alice.send('dm:bob', 'did it go?');
    // As if the relay had taken it but the client recorded a failure (its answer was lost).
    await alice.store.transaction((tx) => setStatus(new ChatData(tx.app), sent.id, 'failed'));
    await bob.syncOnce();
    await alice.sendAgain(sent.id);
    await expect.poll(() => shown(alice, 'dm:bob'), { timeout: 10_000 }).toEqual(['did it go?:sent']);
    await bob.syncOnce();
    expect(await shown(bob, 'dm:alice')).toEqual(['did it go?:in']);
    // Only a failed text can be sent again.
    await expect(alice.sendAgain(sent.id)).rejects.toThrow(RangeError);
    await expect(alice.sendAgain('no-such-id')).rejects.toThrow(RangeError);
  });
});
