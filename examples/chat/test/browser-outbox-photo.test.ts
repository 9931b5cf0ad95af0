/**
 * A photo sent while the relay is down, in Debian's Chromium driven by playwright-core: Alice's tab
 * encrypts it at once and shows it in the chat as pending (opened from the encrypted copy it keeps),
 * with no error; once the relay restarts, the page reconnects, uploads and sends it, and Bob's tab
 * shows it, verified and decrypted. At a phone and a desktop width, with screenshots in
 * test/artifacts/ and layout checks. Skipped with one line when Chromium is not installed.
 */
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Relay, silentLogger, startRelay } from '../server/src/index.js';
import {
  addContact,
  builtWeb,
  checkLayout,
  findChromium,
  launchChromium,
  openFromList,
  registerOn,
  say,
  type Viewport,
  WIDTHS,
  waitConnected,
  watchProblems,
} from './browser-harness.js';

const executablePath = findChromium('chat outbox photo browser test');

let relay: Relay | undefined;
let browser: Browser;
let web: Awaited<ReturnType<typeof builtWeb>> | undefined;
let port = 0;

/** (Re)starts the relay on the same port and database: the pages reconnect to it. */
async function relayUp(): Promise<void> {
  if (!web) throw new Error('web client not built');
  relay = await startRelay({
    logger: silentLogger,
    staticDir: web.web,
    dbPath: join(web.dir, 'relay.db'),
    port,
  });
  port = relay.port;
}

beforeAll(async () => {
  if (!executablePath) return;
  web = await builtWeb('e2ee-chat-outbox-photo-');
  await relayUp();
  browser = await launchChromium(executablePath);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await relay?.close();
  web?.remove();
});

async function open(name: string, viewport: Viewport, problems: string[]): Promise<Page> {
  const page = await (await browser.newContext({ viewport })).newPage();
  watchProblems(page, name, problems);
  await page.goto(relay!.url);
  await registerOn(page, name);
  return page;
}

function png(width: number, height: number): Buffer {
  const image = new PNG({ width, height });
  for (let i = 0; i < width * height; i++) image.data.set([30, 120, 200, 255], i * 4);
  return PNG.sync.write(image);
}

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
  it.skipIf(!executablePath)(
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
        (relay!.store.db.prepare('SELECT count(*) AS n FROM attachments').get() as { n: number }).n;
      const before = blobs();
      await relay!.close();
      relay = undefined;
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

      await relayUp();
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
