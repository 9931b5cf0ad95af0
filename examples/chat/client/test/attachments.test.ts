/**
 * The attachment cipher. The independent check builds a blob with Node's own crypto straight from
 * Signal's published layout (IV ‖ AES-256-CBC ‖ HMAC-SHA256, digest = SHA-256 of the blob), so the
 * expected bytes never come from our encryptor; and our blob is opened with Node's crypto.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { DecodeError, E2eeError, nobleProvider, platformProvider } from '@e2ee-kit/core';
import { describe, expect, it } from 'vitest';
import {
  AttachmentError,
  decryptAttachment,
  encryptAttachment,
  isAttachmentPointer,
  MAX_ATTACHMENT_BYTES,
  maxEncryptedSize,
  paddedSize,
  pointerSecrets,
  toPointer,
} from '../src/attachments.js';
import { decodeContent, encodeContent } from '../src/content.js';

const providers = [nobleProvider, platformProvider];
const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

/** Signal's layout with Node's crypto: the reference blob. */
function nodeBlob(plaintext: Uint8Array, paddedTo: number) {
  const key = new Uint8Array(randomBytes(64));
  const iv = randomBytes(16);
  const padded = Buffer.alloc(paddedTo);
  padded.set(plaintext);
  const c = createCipheriv('aes-256-cbc', key.subarray(0, 32), iv);
  const ct = Buffer.concat([c.update(padded), c.final()]);
  const mac = createHmac('sha256', key.subarray(32)).update(iv).update(ct).digest();
  const blob = new Uint8Array(Buffer.concat([iv, ct, mac]));
  const digest = new Uint8Array(createHash('sha256').update(blob).digest());
  return { blob, key, digest };
}

async function expectCode(p: Promise<unknown>, code: string) {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AttachmentError);
  expect(E2eeError.is(err)).toBe(true);
  expect((err as AttachmentError).code).toBe(code);
  expect((err as AttachmentError).name).toBe('AttachmentError');
  return err as AttachmentError;
}

describe.each(providers)('attachments ($name provider)', (provider) => {
  it('round-trips sizes around the padding and block edges', async () => {
    for (const n of [0, 1, 15, 16, 540, 541, 542, 4096, 100_003]) {
      const plain = bytes(n, n);
      const enc = await encryptAttachment(plain, provider);
      expect(enc.blob.length).toBeLessThanOrEqual(maxEncryptedSize(n));
      expect(enc.key.length).toBe(64);
      const back = await decryptAttachment(enc.blob, enc, provider);
      expect(Buffer.from(back).equals(Buffer.from(plain))).toBe(true);
    }
  });

  it('opens a blob built by Node crypto from the published layout', async () => {
    const plain = bytes(1234, 7);
    // Any bucket the sender chose is accepted, as long as it is within the size bound.
    for (const paddedTo of [1234, 1300, paddedSize(1234)]) {
      const ref = nodeBlob(plain, paddedTo);
      const back = await decryptAttachment(ref.blob, { ...ref, size: 1234 }, provider);
      expect(Buffer.from(back).equals(Buffer.from(plain))).toBe(true);
    }
  });

  it('produces a blob that Node crypto verifies and decrypts', async () => {
    const plain = bytes(3000, 3);
    const enc = await encryptAttachment(plain, provider);
    const iv = enc.blob.subarray(0, 16);
    const ct = enc.blob.subarray(16, enc.blob.length - 32);
    const mac = createHmac('sha256', enc.key.subarray(32)).update(iv).update(ct).digest();
    expect(Buffer.from(enc.blob.subarray(enc.blob.length - 32)).equals(mac)).toBe(true);
    expect(Buffer.from(enc.digest).equals(createHash('sha256').update(enc.blob).digest())).toBe(true);
    const d = createDecipheriv('aes-256-cbc', enc.key.subarray(0, 32), iv);
    const padded = Buffer.concat([d.update(ct), d.final()]);
    // Signal's bucket for 3000 bytes: floor(1.05^ceil(log(3000)/log(1.05))) = floor(1.05^165).
    expect(padded.length).toBe(Math.floor(1.05 ** 165));
    expect(padded.subarray(0, 3000).equals(Buffer.from(plain))).toBe(true);
    expect(padded.subarray(3000).every((b) => b === 0)).toBe(true);
  });

  it('refuses a blob with one flipped byte anywhere (BAD_MAC)', async () => {
    const enc = await encryptAttachment(bytes(2000), provider);
    for (const at of [0, 16, enc.blob.length - 33, enc.blob.length - 1]) {
      const bad = enc.blob.slice();
      bad[at] = (bad[at] as number) ^ 0x01;
      await expectCode(decryptAttachment(bad, enc, provider), 'ATTACHMENT_BAD_MAC');
    }
  });

  it('refuses an intact blob under a different digest (BAD_DIGEST)', async () => {
    const ref = nodeBlob(bytes(800), paddedSize(800));
    const digest = ref.digest.slice();
    digest[5] = (digest[5] as number) ^ 0x80;
    const err = await expectCode(
      decryptAttachment(ref.blob, { key: ref.key, digest, size: 800 }, provider),
      'ATTACHMENT_BAD_DIGEST',
    );
    expect(err.message).toMatch(/digest does not match/);
  });

  it('refuses truncated and extended blobs (MALFORMED by length alone, else BAD_MAC)', async () => {
    const enc = await encryptAttachment(bytes(5000), provider);
    for (const blob of [
      enc.blob.subarray(0, enc.blob.length - 1),
      enc.blob.subarray(0, 47),
      new Uint8Array(0),
      new Uint8Array(maxEncryptedSize(5000) + 16),
    ]) {
      await expectCode(decryptAttachment(blob, enc, provider), 'ATTACHMENT_MALFORMED');
    }
    // Whole blocks cut off the end leave a plausible length: the MAC refuses it.
    await expectCode(
      decryptAttachment(enc.blob.subarray(0, enc.blob.length - 16), enc, provider),
      'ATTACHMENT_BAD_MAC',
    );
    // A pointer that claims more bytes than the blob holds.
    await expectCode(decryptAttachment(enc.blob, { ...enc, size: 6000 }, provider), 'ATTACHMENT_MALFORMED');
  });

  it('refuses oversize photos when encrypting and when opening (TOO_LARGE)', async () => {
    const err = await expectCode(
      encryptAttachment(new Uint8Array(MAX_ATTACHMENT_BYTES + 1), provider),
      'ATTACHMENT_TOO_LARGE',
    );
    expect(err.message).toBe('the photo is 10 MiB, over the 10 MiB limit');
    const enc = await encryptAttachment(bytes(100), provider);
    await expectCode(
      decryptAttachment(enc.blob, { ...enc, size: MAX_ATTACHMENT_BYTES + 1 }, provider),
      'ATTACHMENT_TOO_LARGE',
    );
  });
});

describe('attachment pointers', () => {
  it('validates what comes out of a message and checks the limit before anything is fetched', async () => {
    const enc = await encryptAttachment(bytes(10), nobleProvider);
    const p = toPointer('abcdefghijklmnopqrstuvwxyz012345', enc, {
      contentType: 'image/png',
      width: 2,
      height: 3,
    });
    expect(isAttachmentPointer(p)).toBe(true);
    expect(isAttachmentPointer(JSON.parse(JSON.stringify(p)))).toBe(true);
    expect(Buffer.from(pointerSecrets(p).key).equals(Buffer.from(enc.key))).toBe(true);
    for (const bad of [
      { ...p, id: 'short' },
      { ...p, key: p.key.slice(4) },
      { ...p, digest: `${p.digest.slice(0, -2)}!=` },
      { ...p, size: -1 },
      { ...p, size: 1.5 },
      { ...p, contentType: 'text/html' },
      { ...p, width: 0 },
      { ...p, extra: 1 },
      null,
      [],
    ]) {
      expect(isAttachmentPointer(bad)).toBe(false);
    }
    expect(() => pointerSecrets({ ...p, size: MAX_ATTACHMENT_BYTES + 1 })).toThrow(AttachmentError);
    // Inside a message: a well-formed pointer decodes, a malformed one makes the content refused.
    const content = { t: 'attachment' as const, id: 'm1', attachment: p, sentAt: 1 };
    expect(decodeContent(encodeContent(content))).toEqual(content);
    const broken = { ...content, attachment: { ...p, contentType: 'text/html' } };
    expect(() => decodeContent(encodeContent(broken))).toThrow(DecodeError);
    expect(() =>
      toPointer('abcdefghijklmnopqrstuvwxyz012345', enc, { contentType: 'application/pdf' }),
    ).toThrow(/image\/\* content type/);
  });

  it('a photo is a raster image: SVG (a document that runs scripts when opened on its own) is refused', async () => {
    // An SVG "photo" shown from a blob: URL runs its <script> with the messenger's origin (its
    // IndexedDB holds the keys) as soon as the user opens the image in a tab of its own.
    const enc = await encryptAttachment(bytes(10), nobleProvider);
    const id = 'abcdefghijklmnopqrstuvwxyz012345';
    for (const contentType of ['image/svg+xml', 'image/svg', 'image/x-icon', 'image/vnd.microsoft.icon']) {
      expect(() => toPointer(id, enc, { contentType })).toThrow(AttachmentError);
      const p = { ...toPointer(id, enc, { contentType: 'image/png' }), contentType };
      expect(isAttachmentPointer(p)).toBe(false);
      const content = { t: 'attachment' as const, id: 'm1', attachment: p, sentAt: 1 };
      expect(() => decodeContent(encodeContent(content))).toThrow(DecodeError);
    }
    for (const contentType of ['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif'])
      expect(isAttachmentPointer(toPointer(id, enc, { contentType }))).toBe(true);
  });
});
