/**
 * Photos in the outbox: a photo sent while the relay cannot be reached is encrypted at once, kept
 * (encrypted) in the client's store, shown as pending, and uploaded and sent in order with the texts
 * around it once the relay answers. A restart between the upload and the send neither loses the
 * photo nor uploads or sends it twice; a lost upload answer stores no second blob on the relay.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Relay, silentLogger, startRelay } from '../../server/src/index.js';
import {
  ChatClient,
  type ChatClientOptions,
  type ChatMessage,
  type FetchLike,
  MAX_OUTBOX_PHOTOS,
} from '../src/index.js';
import { memoryStore } from '../src/memory-store.js';

let relay: Relay;
const clients: ChatClient[] = [];
let down = false;
/** Set to fail every request after the next attachment upload was answered by the relay. */
let downAfterUpload = false;
/** Set to drop the answer of the next attachment upload (the relay stored it; the client never hears). */
let loseUploadAnswer = false;
const uploads: string[] = [];
const flakyFetch: FetchLike = async (input, init) => {
  if (down) throw new TypeError('fetch failed');
  const upload = init?.method === 'POST' && new URL(input).pathname === '/v1/attachments';
  const res = await globalThis.fetch(input, init);
  if (upload) {
    uploads.push(String(res.status));
    if (loseUploadAnswer) {
      loseUploadAnswer = false;
      throw new TypeError('fetch failed');
    }
    if (downAfterUpload) down = true;
  }
  return res;
};
const opts = (store = memoryStore()): ChatClientOptions => ({
  serverUrl: relay.url,
  webSocket: (url) => new WebSocket(url) as never,
  fetch: flakyFetch,
  store,
});
async function register(name: string, store = memoryStore()) {
  const c = await ChatClient.register(name, opts(store));
  clients.push(c);
  return c;
}
// Not a real image: the cipher and the relay treat every photo as opaque bytes.
const picture = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 13 + seed) & 0xff);
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));
const shown = async (c: ChatClient, conv: string) =>
  (await c.messages(conv))
    .filter((m) => !m.system)
    .map((m) => `${m.attachment ? 'photo' : m.text}:${m.status ?? 'in'}`);
const storedBlobs = () =>
  (relay.store.db.prepare('SELECT count(*) AS n FROM attachments').get() as { n: number }).n;
const photosOf = async (c: ChatClient, conv: string): Promise<ChatMessage[]> =>
  (await c.messages(conv)).filter((m) => m.attachment !== undefined);

beforeEach(async () => {
  down = false;
  downAfterUpload = false;
  loseUploadAnswer = false;
  uploads.length = 0;
  relay = await startRelay({ logger: silentLogger });
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await relay.close();
});

describe('photos in the outbox', () => {
  it('wait encrypted while the relay is down, open on this device, and go in order with the texts', async () => {
    const alice = await register('alice');
    const bob = await register('bob');
    await alice.send('dm:bob', 'hello');
    down = true;
    const photo = picture(5_000, 1);
    await alice.send('dm:bob', 'before the photo');
    const sent = await alice.sendPhoto('dm:bob', photo, { contentType: 'image/png', width: 50, height: 20 });
    expect(sent.envelopes).toEqual([]);
    expect(sent.message.status).toBe('pending');
    await alice.send('dm:bob', 'after the photo');
    expect(uploads).toEqual([]); // nothing reached the relay
    // Waiting, it opens from the encrypted copy in the store (MAC and digest checked), offline.
    const waiting = sent.message.attachment;
    expect(waiting).toBeDefined();
    expect(same(await alice.openAttachment(waiting!), photo)).toBe(true);
    expect(await shown(alice, 'dm:bob')).toEqual([
      'hello:sent',
      'before the photo:pending',
      'photo:pending',
      'after the photo:pending',
    ]);

    down = false;
    expect(await alice.flushOutbox()).toBe(3);
    expect(uploads).toEqual(['201']);
    expect(await shown(alice, 'dm:bob')).toEqual([
      'hello:sent',
      'before the photo:sent',
      'photo:sent',
      'after the photo:sent',
    ]);
    // The key and digest are the ones fixed at send time; only the blob id is the relay's now.
    const [mine] = await photosOf(alice, 'dm:bob');
    expect(mine!.attachment!.digest).toBe(waiting!.digest);
    expect(mine!.attachment!.key).toBe(waiting!.key);
    expect(mine!.attachment!.id).not.toBe(waiting!.id);

    await bob.syncOnce();
    expect(await shown(bob, 'dm:alice')).toEqual([
      'hello:in',
      'before the photo:in',
      'photo:in',
      'after the photo:in',
    ]);
    const [got] = await photosOf(bob, 'dm:alice');
    expect(same(await bob.openAttachment(got!.attachment!), photo)).toBe(true);
    expect(await alice.flushOutbox()).toBe(0);
  });

  it('queue behind a waiting text even when the relay answers, and go to a group too', async () => {
    const alice = await register('alice');
    const bob = await register('bob');
    await bob.addContact('alice'); // so her add joins him instead of inviting him
    const group = await alice.createGroup('trip', ['bob']);
    await bob.syncOnce();
    down = true;
    await alice.send(`group:${group.id}`, 'offline text');
    down = false;
    // The relay answers, but the text waits: the photo queues behind it and both go, in order.
    const photo = picture(2_000, 7);
    const sent = await alice.sendPhoto(`group:${group.id}`, photo, { contentType: 'image/jpeg' });
    expect(sent.message.status).toBe('pending');
    await expect
      .poll(() => shown(alice, `group:${group.id}`), { timeout: 10_000 })
      .toEqual(['offline text:sent', 'photo:sent']);
    await bob.syncOnce();
    expect(await shown(bob, `group:${group.id}`)).toEqual(['offline text:in', 'photo:in']);
    const [got] = await photosOf(bob, `group:${group.id}`);
    expect(same(await bob.openAttachment(got!.attachment!), photo)).toBe(true);
  });

  it('survive a restart between the upload and the send: uploaded once, sent once', async () => {
    const store = memoryStore();
    const alice = await register('alice', store);
    const bob = await register('bob');
    await alice.send('dm:bob', 'hello');
    down = true;
    const photo = picture(3_000, 3);
    await alice.sendPhoto('dm:bob', photo, { contentType: 'image/png' });
    down = false;
    // The upload is answered, then the network goes before the message is sent.
    downAfterUpload = true;
    expect(await alice.flushOutbox()).toBe(0);
    expect(uploads).toEqual(['201']);
    expect(storedBlobs()).toBe(1);
    alice.disconnect();

    // The app restarts on the same store; the relay is back.
    downAfterUpload = false;
    down = false;
    const again = await ChatClient.open(opts(store));
    clients.push(again);
    expect(await shown(again, 'dm:bob')).toEqual(['hello:sent', 'photo:pending']);
    expect(await again.flushOutbox()).toBe(1);
    expect(uploads).toEqual(['201']); // the recorded blob id was used, nothing uploaded again
    expect(await shown(again, 'dm:bob')).toEqual(['hello:sent', 'photo:sent']);
    await bob.syncOnce();
    const got = await photosOf(bob, 'dm:alice');
    expect(got).toHaveLength(1);
    expect(same(await bob.openAttachment(got[0]!.attachment!), photo)).toBe(true);
    expect(await again.flushOutbox()).toBe(0);
    await bob.syncOnce();
    expect(await photosOf(bob, 'dm:alice')).toHaveLength(1);
  });

  it('store one blob on the relay when an upload answer was lost and the photo is uploaded again', async () => {
    const alice = await register('alice');
    const bob = await register('bob');
    await alice.send('dm:bob', 'hello');
    loseUploadAnswer = true;
    const photo = picture(4_000, 9);
    // The relay stored the blob, the client never heard: the photo waits as if the relay were down.
    const sent = await alice.sendPhoto('dm:bob', photo, { contentType: 'image/png' });
    expect(sent.message.status).toBe('pending');
    expect(storedBlobs()).toBe(1);
    expect(await alice.flushOutbox()).toBe(1);
    // Same bytes, same account: the relay answered the stored blob's id (200), kept no copy.
    expect(uploads).toEqual(['201', '200']);
    expect(storedBlobs()).toBe(1);
    await bob.syncOnce();
    const got = await photosOf(bob, 'dm:alice');
    expect(got).toHaveLength(1);
    expect(same(await bob.openAttachment(got[0]!.attachment!), photo)).toBe(true);
  });

  it('send a photo whose upload answer was lost even when that upload filled the account quota', async () => {
    // One blob per account: the lost upload uses the whole quota, so only the relay's dedupe
    // lets the retry through (the relay must see it is a copy, not a second blob).
    await relay.close();
    relay = await startRelay({ logger: silentLogger, blobLimits: { maxBlobsPerAccount: 1 } });
    const alice = await register('alice');
    const bob = await register('bob');
    await alice.send('dm:bob', 'hello');
    loseUploadAnswer = true;
    const photo = picture(5_000, 4);
    expect((await alice.sendPhoto('dm:bob', photo, { contentType: 'image/png' })).message.status).toBe(
      'pending',
    );
    expect(await alice.flushOutbox()).toBe(1);
    expect(uploads).toEqual(['201', '200']);
    expect(await shown(alice, 'dm:bob')).toEqual(['hello:sent', 'photo:sent']);
    await bob.syncOnce();
    const got = await photosOf(bob, 'dm:alice');
    expect(got).toHaveLength(1);
    expect(same(await bob.openAttachment(got[0]!.attachment!), photo)).toBe(true);
  });

  it('keep a bounded number of photos waiting and refuse more', async () => {
    const alice = await register('alice');
    await register('bob');
    down = true;
    for (let i = 0; i < MAX_OUTBOX_PHOTOS; i++)
      await alice.sendPhoto('dm:bob', picture(600, i), { contentType: 'image/png' });
    await expect(alice.sendPhoto('dm:bob', picture(600, 99), { contentType: 'image/png' })).rejects.toThrow(
      RangeError,
    );
    expect((await photosOf(alice, 'dm:bob')).length).toBe(MAX_OUTBOX_PHOTOS);
  });
});
