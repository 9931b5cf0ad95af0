/**
 * Photos: a per-photo key, an opaque padded blob on the relay, and a pointer (id, key, digest) that
 * travels only inside the end-to-end encryption. The receiver checks digest and MAC before it
 * decrypts; the relay's blob holds no plaintext.
 */
import { nobleProvider } from '@e2ee-kit/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Relay, silentLogger, startRelay } from '../../server/src/index.js';
import {
  AttachmentError,
  ChatClient,
  type ChatClientOptions,
  decodeContent,
  decryptAttachment,
  encryptAttachment,
  MAX_ATTACHMENT_BYTES,
  paddedSize,
  RelayError,
} from '../src/index.js';

let relay: Relay;
const clients: ChatClient[] = [];
const opts = (extra: Partial<ChatClientOptions> = {}): ChatClientOptions => ({
  serverUrl: relay.url,
  webSocket: (url) => new WebSocket(url) as never,
  ...extra,
});
async function register(name: string) {
  const c = await ChatClient.register(name, opts());
  clients.push(c);
  return c;
}
/** Not a real PNG: recognisable bytes that must never appear on the relay. */
const photo = () => {
  const b = new Uint8Array(30_000);
  for (let i = 0; i < b.length; i++) b[i] = (i * 7 + 3) & 0xff;
  b.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return b;
};

beforeEach(async () => {
  relay = await startRelay({ logger: silentLogger });
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await relay.close();
});

describe('photos', () => {
  it('sends a photo as an opaque blob plus an encrypted pointer, and the contact decrypts it', async () => {
    const alice = await register('alice');
    const bob = await register('bob');
    const bytes = photo();
    const sent = await alice.sendPhoto('dm:bob', bytes, 'image/png', 'the view');
    expect(sent.attachment?.size).toBe(bytes.length);
    await bob.syncOnce();
    const [got] = (await bob.messages('dm:alice')).filter((m) => !m.system);
    expect(got?.text).toBe('the view');
    expect(got?.attachment).toEqual(sent.attachment);
    expect(Buffer.from(await bob.photo(got!.attachment!)).equals(Buffer.from(bytes))).toBe(true);

    const rows = relay.store.db.prepare('SELECT body FROM attachments').all() as { body: Buffer }[];
    expect(rows).toHaveLength(1);
    const blob = rows[0]!.body;
    expect(blob.length).toBe(16 + (Math.floor(paddedSize(bytes.length) / 16) + 1) * 16 + 32);
    expect(blob.includes(Buffer.from(bytes.subarray(0, 64)))).toBe(false);
    expect(blob.includes(Buffer.from(bytes.subarray(10_000, 10_064)))).toBe(false);
  });

  it('refuses a blob whose digest or MAC does not match, and pointers that are malformed', async () => {
    const p = nobleProvider;
    const { blob, pointer } = await encryptAttachment(photo(), 'image/png', p);
    const full = { id: '0'.repeat(32), ...pointer };
    const flipped = blob.slice();
    flipped[40]! ^= 1;
    await expect(decryptAttachment(flipped, full, p)).rejects.toThrow(/digest mismatch/);
    // Same change, digest made to match (a sender lying about the blob): the MAC still refuses it.
    const forged = { ...full, digest: Buffer.from(await p.sha256(flipped)).toString('base64') };
    await expect(decryptAttachment(flipped, forged, p)).rejects.toThrow(/MAC mismatch/);
    await expect(decryptAttachment(blob.subarray(0, 40), full, p)).rejects.toBeInstanceOf(AttachmentError);
    await expect(decryptAttachment(blob, { ...full, size: blob.length * 2 }, p)).rejects.toBeInstanceOf(
      AttachmentError,
    );
    const text = (attachment: unknown) =>
      new TextEncoder().encode(JSON.stringify({ t: 'text', id: 'ab', text: '', sentAt: 1, attachment }));
    expect(() => decodeContent(text({ ...full, contentType: 'text/html' }))).toThrow(TypeError);
    expect(() => decodeContent(text({ ...full, size: MAX_ATTACHMENT_BYTES + 1 }))).toThrow(TypeError);
    expect(() => decodeContent(text({ ...full, id: '../x' }))).toThrow(TypeError);
    expect(() => decodeContent(text({ ...full, extra: 1 }))).toThrow(TypeError);
    expect(decodeContent(text(full))).toMatchObject({ attachment: full });
  });

  it('enforces the size limits on both sides', async () => {
    await expect(
      encryptAttachment(new Uint8Array(MAX_ATTACHMENT_BYTES + 1), 'image/png', nobleProvider),
    ).rejects.toBeInstanceOf(AttachmentError);
    await expect(encryptAttachment(new Uint8Array(0), 'image/png', nobleProvider)).rejects.toBeInstanceOf(
      AttachmentError,
    );
    const alice = await register('alice');
    await expect(alice.sendPhoto('dm:alice', photo(), 'image/svg+xml')).rejects.toBeInstanceOf(
      AttachmentError,
    );
    await expect(alice.api.putAttachment(new Uint8Array(6 * 1024 * 1024))).rejects.toSatisfy(
      (e: unknown) => e instanceof RelayError && e.status === 413,
    );
    await expect(alice.api.getAttachment('0'.repeat(32))).rejects.toSatisfy(
      (e: unknown) => e instanceof RelayError && e.status === 404,
    );
    const anonymous = await fetch(`${relay.url}/v1/attachments/${'0'.repeat(32)}`);
    expect(anonymous.status).toBe(401);
  });

  it('pads to a size bucket: never smaller, at least 541 bytes, at most 5 % larger', () => {
    for (const n of [1, 540, 541, 542, 1000, 30_000, 1_000_000, MAX_ATTACHMENT_BYTES]) {
      const p = paddedSize(n);
      expect(p).toBeGreaterThanOrEqual(Math.max(n, 541));
      if (n > 541) expect(p).toBeLessThanOrEqual(Math.ceil(n * 1.05));
    }
  });
});
