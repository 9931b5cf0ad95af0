/**
 * Photos in backups: the relay forgets blobs after its retention period, so a backup carries the
 * history's encrypted photos itself (newest first, within a cap). Restored on a new device after the
 * relay dropped every blob, each photo of the history still opens (MAC and digest verified); a photo
 * past the cap opens only while the relay keeps it.
 */
import { MIN_ARGON2_PARAMS } from '@e2ee-kit/backup-kdf';
import { resolveProvider, toBase64 } from '@e2ee-kit/core';
import { describe, expect, it } from 'vitest';
import { ChatData } from '../src/app-data.js';
import { importMedia } from '../src/backup-media.js';
import {
  AttachmentError,
  ChatClient,
  type ChatClientOptions,
  type ChatMessage,
  MAX_BACKUP_MEDIA_BYTES,
} from '../src/index.js';
import { perTestRelay } from './per-test-relay.js';

const bed = perTestRelay();
const { clients, opts } = bed;
async function register(name: string, extra: Partial<ChatClientOptions> = {}) {
  const c = await ChatClient.register(name, opts(extra));
  clients.push(c);
  return c;
}
const picture = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));
const photosOf = async (c: ChatClient, conv: string): Promise<ChatMessage[]> =>
  (await c.messages(conv)).filter((m) => m.attachment !== undefined);
const tick = () => new Promise((r) => setTimeout(r, 5));
/** What the relay's retention period does to every blob. */
const expireBlobs = () => bed.relay.store.db.prepare('DELETE FROM attachments').run();

/** Alice sends two photos to Bob and gets one from him; returns the bytes by digest. */
async function chatWithPhotos(extra: Partial<ChatClientOptions> = {}) {
  const alice = await register('alice', extra);
  const bob = await register('bob');
  const sentBytes = [picture(4_000, 1), picture(6_000, 2)];
  const fromBob = picture(5_000, 3);
  for (const p of sentBytes) {
    await alice.sendPhoto('dm:bob', p, { contentType: 'image/png', width: 10, height: 10 });
    await tick();
  }
  await bob.syncOnce();
  await bob.sendPhoto('dm:alice', fromBob, { contentType: 'image/jpeg' });
  await alice.syncOnce();
  const originals = new Map<string, Uint8Array>();
  const all = [...sentBytes, fromBob];
  for (const [i, m] of (await photosOf(alice, 'dm:bob')).entries())
    originals.set(m.attachment!.digest, all[i]!);
  expect(originals.size).toBe(3);
  return { alice, originals };
}

async function restoreAlice(alice: ChatClient) {
  const code = await alice.recoveryCode();
  alice.disconnect();
  const { client } = await ChatClient.restore('alice', code, { password: 'backup password' }, opts());
  clients.push(client);
  return client;
}

describe('photos in backups', () => {
  it('restore on a new device with every photo, although the relay forgot the blobs', async () => {
    const { alice, originals } = await chatWithPhotos();
    const result = await alice.backup({ password: 'backup password', argon2: MIN_ARGON2_PARAMS });
    expect(result).toMatchObject({ photos: 3, photosLeftOut: 0 });
    expireBlobs();
    // Without the blobs in the backup the history would show pointers to nothing.
    const [first] = await photosOf(alice, 'dm:bob');
    await expect(alice.openAttachment(first!.attachment!)).rejects.toThrow(AttachmentError);

    const restored = await restoreAlice(alice);
    const photos = await photosOf(restored, 'dm:bob');
    expect(photos).toHaveLength(3);
    for (const m of photos) {
      // openAttachment checks the blob's MAC and its SHA-256 against the pointer's digest.
      expect(same(await restored.openAttachment(m.attachment!), originals.get(m.attachment!.digest)!)).toBe(
        true,
      );
    }
    // The kept bytes are verified on every open: under another photo's key they do not open.
    const wrongKey = { ...photos[1]!.attachment!, key: photos[0]!.attachment!.key };
    await expect(restored.openAttachment(wrongKey)).rejects.toSatisfy(
      (e: unknown) => e instanceof AttachmentError && e.code === 'ATTACHMENT_BAD_MAC',
    );
  });

  it('carry the newest photos within the cap; an older one opens only while the relay keeps it', async () => {
    // Room for the newest photo (Bob's 5,000 bytes, about 5.3 KB encrypted) and no other.
    const { alice, originals } = await chatWithPhotos({ backupMediaBytes: 6_000 });
    const result = await alice.backup({ password: 'backup password', argon2: MIN_ARGON2_PARAMS });
    expect(result).toMatchObject({ photos: 1, photosLeftOut: 2 });
    const restored = await restoreAlice(alice);
    const [oldest, middle, newest] = await photosOf(restored, 'dm:bob');
    // Still on the relay: the photo left out opens from there.
    expect(
      same(await restored.openAttachment(oldest!.attachment!), originals.get(oldest!.attachment!.digest)!),
    ).toBe(true);
    expireBlobs();
    expect(
      same(await restored.openAttachment(newest!.attachment!), originals.get(newest!.attachment!.digest)!),
    ).toBe(true);
    await expect(restored.openAttachment(middle!.attachment!)).rejects.toSatisfy(
      (e: unknown) => e instanceof AttachmentError && e.code === 'ATTACHMENT_UNAVAILABLE',
    );
  });

  it('keep on restore only blobs the history names, whose SHA-256 is that digest, within the cap', async () => {
    const rows = new Map<string, Uint8Array>();
    const app = {
      get: async (k: string) => rows.get(k),
      put: async (k: string, v: Uint8Array) => void rows.set(k, v),
      delete: async (k: string) => void rows.delete(k),
    };
    const tx = new ChatData(app as never);
    const provider = resolveProvider(undefined);
    const blobs = [picture(100, 1), picture(100, 2), picture(100, 3)];
    const digests = await Promise.all(blobs.map(async (b) => toBase64(await provider.sha256(b))));
    // The history names the first two photos only (keys and ids do not matter here).
    for (const [i, digest] of digests.slice(0, 2).entries()) {
      const attachment = {
        id: `photo-id-${i}-0123456789`,
        key: toBase64(new Uint8Array(64)),
        digest,
        size: 10,
        contentType: 'image/png',
      };
      await tx.appendMessage('dm:bob', { id: `m${i}`, sentAt: i, attachment });
    }
    const kept = await importMedia(
      tx,
      [
        [digests[0], toBase64(blobs[0]!)], // named, matching: kept
        [digests[1], toBase64(blobs[2]!)], // named, but other bytes: skipped
        [digests[2], toBase64(blobs[2]!)], // matching, but not in the history: skipped
        ['not a pair'],
      ],
      provider,
    );
    expect(kept).toBe(1);
    expect([...rows.keys()].filter((k) => k.startsWith('blob:'))).toEqual([`blob:${digests[0]}`]);
    // Over the cap: a blob that alone exceeds it is not kept.
    const huge = new Uint8Array(MAX_BACKUP_MEDIA_BYTES + 1);
    const hugeDigest = toBase64(await provider.sha256(huge));
    const attachment = {
      id: 'photo-id-huge-0123456789',
      key: toBase64(new Uint8Array(64)),
      digest: hugeDigest,
      size: 10,
      contentType: 'image/png',
    };
    await tx.appendMessage('dm:bob', { id: 'm9', sentAt: 9, attachment });
    expect(await importMedia(tx, [[hugeDigest, toBase64(huge)]], provider)).toBe(0);
  });
});
