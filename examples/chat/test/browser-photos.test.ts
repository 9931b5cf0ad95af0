/**
 * Photos in the web client, in Debian's Chromium driven by playwright-core (no browser download):
 * Alice attaches a small PNG, Bob's tab downloads, verifies and decrypts it and shows it inline (an
 * <img> whose decoded size is the PNG's); a blob the relay altered is not shown, and the page says
 * why. At a phone and a desktop width, with screenshots in test/artifacts/ and layout checks.
 * Skipped with one line when Chromium is not installed.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  addContact,
  browserSuite,
  checkLayout,
  messages,
  openFromList,
  say,
  solidPng,
  type Viewport,
  WIDTHS,
} from './browser-harness.js';

const suite = browserSuite('chat photo browser test', { prefix: 'e2ee-chat-photos-' });

const open = (name: string, viewport: Viewport, problems: string[]): Promise<Page> =>
  suite.registeredPage(name, viewport, problems);

const png = (width: number, height: number) => solidPng(width, height, [200, 40, 90, 255]);

const attach = (page: Page, name: string, buffer: Buffer) =>
  page.getByTestId('attach-input').setInputFiles({ name, mimeType: 'image/png', buffer });

/** naturalWidth × naturalHeight of every photo shown (0 × 0 for one that did not decode). */
const shown = (page: Page) =>
  page
    .getByTestId('photo')
    .evaluateAll((imgs) =>
      (imgs as HTMLImageElement[]).map((i) =>
        i.complete ? `${i.naturalWidth}x${i.naturalHeight}` : 'loading',
      ),
    );

describe.each(WIDTHS)('at a %s width', (width, viewport) => {
  it.skipIf(!suite.enabled)(
    'a photo attached in one tab is verified, decrypted and shown inline in the other; an altered one is refused with a clear text',
    async () => {
      const problems: string[] = [];
      const [aliceName, bobName] = [`${width}-photo-alice`, `${width}-photo-bob`];
      const alice = await open(aliceName, viewport, problems);
      const bob = await open(bobName, viewport, problems);
      await addContact(alice, bobName);
      await openFromList(alice, `contact-${bobName}`);
      await attach(alice, 'dot.png', png(7, 5));
      await expect.poll(() => shown(alice), { timeout: 15_000 }).toEqual(['7x5']);

      // Bob did not add Alice: her chat is under "Other chats" once her message arrived.
      await openFromList(bob, `chat-${aliceName}`);
      await expect.poll(() => shown(bob), { timeout: 15_000 }).toEqual(['7x5']);
      await checkLayout(alice, `${width}-photo-sent`);
      await checkLayout(bob, `${width}-photo-shown`);
      // The <img> shows decrypted bytes from this page, not a relay URL.
      expect(await bob.getByTestId('photo').getAttribute('src')).toMatch(/^blob:/);

      // From now on the relay flips one byte of every blob it stores.
      suite.relay.store.db.function('flip_byte', (data) => {
        const b = Buffer.from(data as Uint8Array);
        b[20] = (b[20] as number) ^ 0x01;
        return b;
      });
      suite.relay.store.db.exec(`CREATE TEMP TRIGGER tamper_attachments AFTER INSERT ON main.attachments BEGIN
      UPDATE main.attachments SET data = flip_byte(NEW.data) WHERE id = NEW.id; END`);
      onTestFinished(() => {
        suite.relay.store.db.exec('DROP TRIGGER IF EXISTS temp.tamper_attachments');
      });
      await attach(alice, 'second.png', png(3, 3));
      await expect
        .poll(() => bob.getByTestId('photo-error').textContent(), { timeout: 15_000 })
        .toMatch(/^This photo is not shown: the photo was altered after it was encrypted/);
      // The first photo is still shown; the altered one produced no image at all.
      expect(await shown(bob)).toEqual(['7x5']);
      await checkLayout(bob, `${width}-photo-refused`);
      // Every new message re-renders the chat: a photo refused for good (altered, here) is not
      // downloaded and decrypted again each time — the relay could otherwise make each render
      // fetch up to 10 MiB per such photo.
      const downloads: string[] = [];
      bob.on('request', (r) => {
        if (r.method() === 'GET' && r.url().includes('/v1/attachments/')) downloads.push(r.url());
      });
      for (const text of ['one more', 'and another']) await say(alice, text);
      await expect.poll(() => messages(bob), { timeout: 15_000 }).toEqual(['one more', 'and another']);
      await expect
        .poll(() => bob.getByTestId('photo-error').textContent(), { timeout: 15_000 })
        .toMatch(/^This photo is not shown: the photo was altered/);
      expect(downloads).toEqual([]);

      // A file that is not an image is refused in the page, before anything is uploaded.
      const before = (
        suite.relay.store.db.prepare('SELECT count(*) AS n FROM attachments').get() as { n: number }
      ).n;
      await alice
        .getByTestId('attach-input')
        .setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
      await expect
        .poll(() => alice.getByTestId('attach-error').textContent(), { timeout: 15_000 })
        .toBe('Photo not sent: notes.txt is not an image');
      // So is one over the size limit (checked from the file's size, before it is read).
      await alice
        .getByTestId('attach-input')
        .setInputFiles({ name: 'big.png', mimeType: 'image/png', buffer: Buffer.alloc(11 * 1024 * 1024) });
      await expect
        .poll(() => alice.getByTestId('attach-error').textContent(), { timeout: 15_000 })
        .toBe('Photo not sent: big.png is 11 MiB; photos may be at most 10 MiB');
      expect(
        (suite.relay.store.db.prepare('SELECT count(*) AS n FROM attachments').get() as { n: number }).n,
      ).toBe(before);
      await checkLayout(alice, `${width}-photo-not-sent`);
      expect(problems).toEqual([]);
      for (const p of [alice, bob]) await p.context().close();
    },
    120_000,
  );
});
