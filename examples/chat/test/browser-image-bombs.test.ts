/**
 * Decoding bombs in the web client, in Debian's Chromium: a 20,000 × 20,000 PNG of one colour is
 * ~50 kB but decodes to 1.6 GB, which crashed the tab. Picked as a QR screenshot (linking a device),
 * attached as a photo, or received from a contact (whose pointer claims 10 × 10), it is refused with a
 * visible message and never decoded: the page's createImageBitmap is counted, and no <img> gets it.
 * The header sizes the page reads are checked against Chromium's own decoder for every format a
 * photo may have. Skipped with one line when Chromium is missing.
 */
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ChatClient } from '../client/src/index.js';
import { memoryStore } from '../client/src/memory-store.js';
import { checkImageFile, imageSize } from '../web/src/image-size.js';
import { addContact, browserSuite, DESKTOP, openFromList, registerOn } from './browser-harness.js';

const suite = browserSuite('chat image-bomb browser test', { prefix: 'e2ee-chat-bombs-' });

/** A valid 1-bit greyscale PNG of `width` × `height` black pixels (CRCs are not checked by decoders' size reads, but are right). */
function bombPng(width: number, height: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (b: Buffer) => {
    let c = 0xffffffff;
    for (const x of b) c = (crcTable[(c ^ x) & 0xff] as number) ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc(body), body.length + 4);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 1; // bit depth 1, colour type 0 (grey): a row is 1 + width / 8 bytes
  const rows = Buffer.alloc((1 + Math.ceil(width / 8)) * height); // filter 0, all black
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(rows, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const BOMB_SIDE = 20_000;
const refusal = /it is 20000 × 20000 pixels; at most 25 megapixels are read/;

describe('pictures too large to decode', () => {
  it.skipIf(!suite.enabled)(
    'a 20,000 × 20,000 PNG is refused as a QR screenshot, as a photo to send and as a received photo, never decoded',
    async () => {
      const bomb = bombPng(BOMB_SIDE, BOMB_SIDE);
      expect(bomb.length).toBeLessThan(100_000);
      const problems: string[] = [];
      const alice = await suite.page('bomb-alice', DESKTOP, problems);
      // Counts every decode the page asks for, and refuses it: a decode here is the bug (and would
      // allocate 1.6 GB in this test's browser).
      await alice.addInitScript(() => {
        const w = window as unknown as { decodes: number };
        w.decodes = 0;
        window.createImageBitmap = () => {
          w.decodes++;
          return Promise.reject(new DOMException('not decoded in this test'));
        };
      });
      await alice.reload();
      await registerOn(alice, 'bomb-alice');
      const decodes = () => alice.evaluate(() => (window as unknown as { decodes: number }).decodes);

      // Linking a device: the QR screenshot.
      await openFromList(alice, 'open-devices');
      await alice
        .getByTestId('link-code-image')
        .setInputFiles({ name: 'qr.png', mimeType: 'image/png', buffer: bomb });
      await expect
        .poll(() => alice.getByTestId('link-scan-problem').textContent(), { timeout: 15_000 })
        .toMatch(refusal);
      expect(await decodes()).toBe(0);

      // A contact sends it as a photo whose pointer says 10 × 10.
      const mallory = await ChatClient.register('bomb-mallory', {
        serverUrl: suite.relay.url,
        webSocket: (url) => new WebSocket(url) as never,
        store: memoryStore(),
      });
      try {
        await addContact(alice, 'bomb-mallory');
        await openFromList(alice, 'contact-bomb-mallory');
        await mallory.addContact('bomb-alice');
        await mallory.sendPhoto('dm:bomb-alice', new Uint8Array(bomb), {
          contentType: 'image/png',
          width: 10,
          height: 10,
        });
        await expect
          .poll(() => alice.getByTestId('photo-error').textContent(), { timeout: 15_000 })
          .toMatch(new RegExp(`^This photo is not shown: ${refusal.source}`));
        expect(await alice.getByTestId('photo').count()).toBe(0);
      } finally {
        mallory.disconnect();
      }

      // Alice attaches it herself: refused before upload.
      const blobs = () =>
        (suite.relay.store.db.prepare('SELECT count(*) AS n FROM attachments').get() as { n: number }).n;
      const before = blobs();
      await alice
        .getByTestId('attach-input')
        .setInputFiles({ name: 'bomb.png', mimeType: 'image/png', buffer: bomb });
      await expect
        .poll(() => alice.getByTestId('attach-error').textContent(), { timeout: 15_000 })
        .toMatch(new RegExp(`^Photo not sent: bomb.png: ${refusal.source}`));
      expect(blobs()).toBe(before);
      expect(await decodes()).toBe(0);
      expect(problems).toEqual([]);
      await alice.context().close();
    },
    120_000,
  );

  it.skipIf(!suite.enabled)(
    'the size read from the header is the size Chromium decodes, for PNG, JPEG, WebP, GIF and AVIF',
    async () => {
      const problems: string[] = [];
      const page = await suite.page('sizes', DESKTOP, problems);
      const files = await page.evaluate(async () => {
        const b64 = (b: Uint8Array) => btoa(Array.from(b, (x) => String.fromCharCode(x)).join(''));
        const fromB64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
        const canvas = new OffscreenCanvas(37, 23);
        const ctx = canvas.getContext('2d');
        ctx?.fillRect(3, 3, 20, 10);
        const encoded = await Promise.all(
          ['image/png', 'image/jpeg', 'image/webp'].map(
            async (type) =>
              new Uint8Array(await (await canvas.convertToBlob({ type, quality: 0.9 })).arrayBuffer()),
          ),
        );
        // The 1 × 1 GIF widely used as a transparent pixel.
        const gif = fromB64('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7');
        // The 2 × 2 AVIF widely used to detect AVIF support (libavif output).
        const avif = fromB64(
          'AAAAIGZ0eXBhdmlmAAAAAGF2aWZtaWYxbWlhZk1BMUIAAADybWV0YQAAAAAAAAAoaGRscgAAAAAAAAAAcGljdAAAAAAAAAAAAAAAAGxpYmF2aWYAAAAADnBpdG0AAAAAAAEAAAAeaWxvYwAAAABEAAABAAEAAAABAAABGgAAAB0AAAAoaWluZgAAAAAAAQAAABppbmZlAgAAAAABAABhdjAxQ29sb3IAAAAAamlwcnAAAABLaXBjbwAAABRpc3BlAAAAAAAAAAIAAAACAAAAEHBpeGkAAAAAAwgICAAAAAxhdjFDgQ0MAAAAABNjb2xybmNseAACAAIAAYAAAAAXaXBtYQAAAAAAAAABAAEEAQKDBAAAACVtZGF0EgAKCBgANogQEAwgMg8f8D///8WfhwB8+ErK42A=',
        );
        // A JPEG whose frame header comes after 1 MiB of APP1 segments (extended XMP: a phone's
        // portrait photo keeps its depth map there, before the frame).
        const jpeg = encoded[1] as Uint8Array<ArrayBuffer>;
        const app1 = new Uint8Array(65_535 + 2).fill(0x20);
        app1.set([0xff, 0xe1, 0xff, 0xff]);
        const parts = [jpeg.subarray(0, 2), ...Array<Uint8Array>(16).fill(app1), jpeg.subarray(2)];
        const deepJpeg = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let at = 0;
        for (const p of parts) {
          deepJpeg.set(p, at);
          at += p.length;
        }
        const out: { name: string; bytes: string; decoded: string }[] = [];
        const named: [string, Uint8Array<ArrayBuffer>, string][] = [
          ['png', encoded[0] as Uint8Array<ArrayBuffer>, 'image/png'],
          ['jpeg', encoded[1] as Uint8Array<ArrayBuffer>, 'image/jpeg'],
          ['webp', encoded[2] as Uint8Array<ArrayBuffer>, 'image/webp'],
          ['jpeg after 1 MiB of metadata', deepJpeg, 'image/jpeg'],
          ['gif', gif, 'image/gif'],
          ['avif', avif, 'image/avif'],
        ];
        for (const [name, bytes, type] of named) {
          let decoded = 'not decoded';
          try {
            const bitmap = await createImageBitmap(new Blob([bytes], { type }));
            decoded = `${bitmap.width}x${bitmap.height}`;
          } catch {}
          out.push({ name, bytes: b64(bytes), decoded });
        }
        return out;
      });
      // Read as the page reads a picked file (checkImageFile) and a received photo (photoUrl's check).
      const read = await Promise.all(
        files.map(async ({ name, bytes }) => {
          const raw = new Uint8Array(Buffer.from(bytes, 'base64'));
          const size = imageSize(raw);
          const fromFile = await checkImageFile(new Blob([raw]));
          expect('size' in fromFile ? fromFile.size : fromFile.refused).toEqual(size);
          return { name, decoded: size ? `${size.width}x${size.height}` : 'not read' };
        }),
      );
      expect(files.map(({ name, decoded }) => ({ name, decoded }))).toEqual(read);
      // Every format was decoded by Chromium (so the comparison above compared real sizes).
      expect(files.every((f) => f.decoded !== 'not decoded')).toBe(true);
      expect(problems).toEqual([]);
      await page.context().close();
    },
    60_000,
  );
});
