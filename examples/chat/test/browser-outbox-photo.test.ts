/**
 * A photo sent while the relay is down, in Debian's Chromium driven by playwright-core: Alice's tab
 * encrypts it at once and shows it in the chat as pending (opened from the encrypted copy it keeps),
 * with no error; once the relay restarts, the page reconnects, uploads and sends it, and Bob's tab
 * shows it, verified and decrypted. At a phone and a desktop width, with screenshots in
 * test/artifacts/ and layout checks. Skipped with one line when Chromium is not installed.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import {
  addContact,
  browserSuite,
  checkLayout,
  openFromList,
  say,
  solidPng,
  type Viewport,
  WIDTHS,
  waitConnected,
} from './browser-harness.js';

const suite = browserSuite('chat outbox photo browser test', {
  prefix: 'e2ee-chat-outbox-photo-',
  restartable: true,
});

const open = (name: string, viewport: Viewport, problems: string[]): Promise<Page> =>
  suite.registeredPage(name, viewport, problems);

const png = (width: number, height: number) => solidPng(width, height, [30, 120, 200, 255]);

const eventually = <T>(fn: () => T | Promise<T>) => expect.poll(fn, { timeout: 60_000, interval: 100 });
/** naturalWidth × naturalHeight of every photo shown. */
const shown = (page: Page) =>
  page
    .getByTestId('photo')
    .evaluateAll((imgs) =>
      (imgs as HTMLImageElement[]).map((i) =>
        i.complete ? `${i.naturalWidth}x${i.naturalHeight}` : 'loading',
      ),
    );
const statuses = (page: Page) =>
  page.getByTestId('message-status').evaluateAll((els) => els.map((e) => e.getAttribute('data-status')));
const texts = (page: Page) => page.getByTestId('message').allTextContents();

describe.each(WIDTHS)('at a %s width', (width, viewport) => {
  it.skipIf(!suite.enabled)(
    'a photo sent while the relay is stopped waits as pending and is delivered after it restarts',
    async () => {
      const problems: string[] = [];
      const [aliceName, bobName] = [`${width}-outbox-alice`, `${width}-outbox-bob`];
      const alice = await open(aliceName, viewport, problems);
      const bob = await open(bobName, viewport, problems);
      await addContact(alice, bobName);
      await openFromList(alice, `contact-${bobName}`);
      await say(alice, 'a photo follows');
      await openFromList(bob, `chat-${aliceName}`);
      await eventually(() => texts(bob)).toEqual([expect.stringContaining('a photo follows')]);

      const blobs = () =>
        (suite.relay.store.db.prepare('SELECT count(*) AS n FROM attachments').get() as { n: number }).n;
      const before = blobs();
      await suite.relayDown();
      await eventually(() => alice.getByTestId('connection').textContent()).not.toBe('connected');
      await alice
        .getByTestId('attach-input')
        .setInputFiles({ name: 'offline.png', mimeType: 'image/png', buffer: png(9, 4) });
      // Encrypted and kept on this device: shown at once, marked as waiting, and no error.
      await eventually(() => shown(alice)).toEqual(['9x4']);
      await eventually(() => statuses(alice)).toEqual([
        expect.stringMatching(/^(sent|delivered|read)$/),
        'pending',
      ]);
      expect(await alice.getByTestId('attach-error').textContent()).toBe('');
      await checkLayout(alice, `${width}-outbox-photo-pending`);

      await suite.relayUp();
      await waitConnected(alice, 60_000);
      await eventually(async () => (await statuses(alice))[1]).toMatch(/^(sent|delivered|read)$/);
      await eventually(() => shown(bob)).toEqual(['9x4']);
      expect(await bob.getByTestId('photo').getAttribute('src')).toMatch(/^blob:/);
      await checkLayout(alice, `${width}-outbox-photo-sent`);
      await checkLayout(bob, `${width}-outbox-photo-delivered`);
      // One more blob on the relay: the photo was uploaded once.
      expect(blobs()).toBe(before + 1);
      expect(problems).toEqual([]);
      for (const p of [alice, bob]) await p.context().close();
    },
    180_000,
  );
});
