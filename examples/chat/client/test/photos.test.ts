/**
 * Photos through a real relay: Alice sends one to Bob and one to a group; Bob and Carol open them
 * (downloaded, verified, decrypted on their side); a relay that changes one byte of a stored blob
 * makes the open fail with the typed error; and the size bound holds before and during download.
 */
import { E2eeError } from '@e2ee-kit/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Relay, silentLogger, startRelay } from '../../server/src/index.js';
import {
  AttachmentError,
  ChatClient,
  type ChatClientOptions,
  type ChatMessage,
  MAX_ATTACHMENT_BYTES,
} from '../src/index.js';
import { memoryStore } from '../src/memory-store.js';

let relay: Relay;
const clients: ChatClient[] = [];
const requests: string[] = [];
async function register(name: string, extra: Partial<ChatClientOptions> = {}) {
  const c = await ChatClient.register(name, {
    serverUrl: relay.url,
    webSocket: (url) => new WebSocket(url) as never,
    store: memoryStore(),
    fetch: (input, init) => {
      requests.push(`${init?.method ?? 'GET'} ${new URL(input).pathname}`);
      return fetch(input, init);
    },
    ...extra,
  });
  clients.push(c);
  return c;
}
const photos = async (c: ChatClient, conv: string): Promise<ChatMessage[]> =>
  (await c.messages(conv)).filter((m) => m.attachment !== undefined);
// Not a real PNG: the relay and the cipher treat every photo as opaque bytes.
const picture = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

beforeEach(async () => {
  relay = await startRelay({ logger: silentLogger });
  requests.length = 0;
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await relay.close();
});

async function typedError(p: Promise<unknown>): Promise<AttachmentError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AttachmentError);
  return err as AttachmentError;
}

describe('photos', () => {
  it('reach a contact and a group encrypted, open on every side, and a flipped byte on the relay is caught', async () => {
    const alice = await register('alice');
    const bob = await register('bob');
    const carol = await register('carol');
    const dmPhoto = picture(50_000, 1);
    const sent = await alice.sendPhoto('dm:bob', dmPhoto, {
      contentType: 'image/png',
      width: 40,
      height: 30,
    });
    expect(sent.message.attachment).toMatchObject({
      contentType: 'image/png',
      width: 40,
      height: 30,
      size: 50_000,
    });

    // The relay holds one blob, of a padded length, which is not the photo.
    const stored = relay.store.db.prepare('SELECT id, data FROM attachments').all() as {
      id: string;
      data: Uint8Array;
    }[];
    expect(stored).toHaveLength(1);
    expect(stored[0]?.data.length).toBeGreaterThan(50_000 + 48);
    expect(Buffer.from(stored[0]!.data).includes(Buffer.from(dmPhoto.subarray(0, 64)))).toBe(false);

    await bob.syncOnce();
    const [got] = await photos(bob, 'dm:alice');
    expect(got?.from).toBe('alice');
    expect(got?.text).toBe('[photo]');
    expect(got?.attachment?.id).toBe(stored[0]?.id);
    expect(same(await bob.openAttachment(got!.attachment!), dmPhoto)).toBe(true);
    expect(same(await alice.openAttachment(sent.message.attachment!), dmPhoto)).toBe(true);

    // A group photo: one blob, one sender-key ciphertext, opened by both members (who added Alice
    // as a contact, so her add joins them instead of inviting them).
    for (const member of [bob, carol]) await member.addContact('alice');
    const group = await alice.createGroup('pics', ['bob', 'carol']);
    await bob.syncOnce();
    await carol.syncOnce();
    const groupPhoto = picture(3_000, 9);
    await alice.sendPhoto(`group:${group.id}`, groupPhoto, { contentType: 'image/jpeg' });
    await bob.syncOnce();
    await carol.syncOnce();
    for (const member of [bob, carol]) {
      const [m] = await photos(member, `group:${group.id}`);
      expect(m?.from).toBe('alice');
      expect(same(await member.openAttachment(m!.attachment!), groupPhoto)).toBe(true);
    }

    // The relay flips one byte of the DM photo's blob: Bob's open fails, typed, with a clear text.
    const row = relay.store.db
      .prepare('SELECT data FROM attachments WHERE id = ?')
      .get(got!.attachment!.id) as {
      data: Uint8Array;
    };
    const flipped = Buffer.from(row.data);
    flipped[1000] = (flipped[1000] as number) ^ 0x01;
    relay.store.db.prepare('UPDATE attachments SET data = ? WHERE id = ?').run(flipped, got!.attachment!.id);
    const err = await typedError(bob.openAttachment(got!.attachment!));
    expect(E2eeError.is(err, 'ATTACHMENT_BAD_MAC')).toBe(true);
    expect(err.message).toMatch(/altered/);
  });

  it('of exactly the size limit fit the relay and open', async () => {
    const alice = await register('alice');
    const bob = await register('bob');
    const photo = picture(MAX_ATTACHMENT_BYTES, 5);
    await alice.sendPhoto('dm:bob', photo, { contentType: 'image/jpeg', width: 4000, height: 3000 });
    await bob.syncOnce();
    const [got] = await photos(bob, 'dm:alice');
    expect(same(await bob.openAttachment(got!.attachment!), photo)).toBe(true);
  });

  it('refuse an oversize pointer without downloading, and stop a download longer than the pointer allows', async () => {
    const alice = await register('alice');
    const bob = await register('bob');
    const sent = await alice.sendPhoto('dm:bob', picture(1_000, 2), { contentType: 'image/gif' });
    await bob.syncOnce();
    const [got] = await photos(bob, 'dm:alice');
    const pointer = got!.attachment!;

    requests.length = 0;
    const big = await typedError(bob.openAttachment({ ...pointer, size: MAX_ATTACHMENT_BYTES + 1 }));
    expect(big.code).toBe('ATTACHMENT_TOO_LARGE');
    expect(requests).toEqual([]);

    // The relay answers with a blob far longer than 1,000 bytes can encrypt to.
    relay.store.db
      .prepare('UPDATE attachments SET data = ? WHERE id = ?')
      .run(Buffer.alloc(5 * 1024 * 1024), pointer.id);
    expect((await typedError(bob.openAttachment(pointer))).code).toBe('ATTACHMENT_MALFORMED');

    // Sending refuses an oversize photo or a non-image type before anything is uploaded.
    requests.length = 0;
    const tooBig = await typedError(
      alice.sendPhoto('dm:bob', new Uint8Array(MAX_ATTACHMENT_BYTES + 1), { contentType: 'image/png' }),
    );
    expect(tooBig.code).toBe('ATTACHMENT_TOO_LARGE');
    await typedError(alice.sendPhoto('dm:bob', picture(10, 1), { contentType: 'text/html' }));
    expect(requests.filter((r) => r.startsWith('POST /v1/attachments'))).toEqual([]);

    // An unknown id: the relay has nothing, the error says so.
    relay.store.db.prepare('DELETE FROM attachments').run();
    expect((await typedError(alice.openAttachment(sent.message.attachment!))).code).toBe(
      'ATTACHMENT_UNAVAILABLE',
    );
  });
});
