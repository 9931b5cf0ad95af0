/**
 * Linked devices and retry receipts in Debian's Chromium (playwright-core, no browser download):
 * a second browser profile links to an account — its QR code is read from a screenshot with jsQR
 * (independent of the QR encoder) and handed to the signed-in profile as an image — messages appear
 * on both devices, sent ones too, and unlinking removes the device; then an account restored from
 * an old backup in a fresh profile reads a message it could no longer decrypt, through a retry
 * receipt.
 *
 * Without Chromium the tests are skipped with one line saying so (CI installs `chromium`).
 */
import jsQR from 'jsqr';
import type { Browser, Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Relay, silentLogger, startRelay } from '../server/src/index.js';
import {
  addContact,
  builtWeb,
  findChromium,
  launchChromium,
  messages,
  registerOn,
  say,
  waitConnected,
} from './browser-harness.js';

const executablePath = findChromium('chat device browser tests');

let relay: Relay;
let browser: Browser;
let web: Awaited<ReturnType<typeof builtWeb>> | undefined;

beforeAll(async () => {
  if (!executablePath) return;
  web = await builtWeb('e2ee-chat-devices-');
  relay = await startRelay({ logger: silentLogger, staticDir: web.web });
  browser = await launchChromium(executablePath);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await relay?.close();
  web?.remove();
});

async function fresh(): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(relay.url);
  return { page, errors };
}

const connected = waitConnected;

async function register(name: string): Promise<Page> {
  const { page, errors } = await fresh();
  await registerOn(page, name);
  expect(errors).toEqual([]);
  return page;
}

it.skipIf(!executablePath)(
  'a second profile links by its QR code; messages, sent ones too, appear on both devices; unlink removes it',
  async () => {
    const alice = await register('alice');
    const bob = await register('bob');

    // The new browser shows its link code.
    const { page: tablet, errors } = await fresh();
    await tablet.getByTestId('link-this-browser').click();
    const qr = tablet.getByTestId('link-qr');
    await qr.locator('svg').waitFor({ timeout: 15_000 });
    const shot = await qr.screenshot();
    const png = PNG.sync.read(shot);
    const decoded = jsQR(
      new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.length),
      png.width,
      png.height,
    );
    expect(decoded).not.toBeNull();
    const uri = decoded?.data ?? '';
    expect(uri).toMatch(/^e2ee-chat:\/\/linkdevice\?uuid=[A-Za-z0-9_-]{22}&pub_key=/);
    expect(await tablet.getByTestId('link-uri').inputValue()).toBe(uri);

    // Alice's browser takes the screenshot as an image (read in the page), confirms, links.
    await alice.getByTestId('open-devices').click();
    await alice
      .getByTestId('link-code-image')
      .setInputFiles({ name: 'qr.png', mimeType: 'image/png', buffer: shot });
    await expect.poll(() => alice.getByTestId('link-code-input').inputValue(), { timeout: 15_000 }).toBe(uri);
    await alice.getByTestId('link-code-submit').click();
    await alice.getByTestId('link-confirm').click();
    await connected(tablet, 30_000);
    expect(await tablet.getByTestId('me').textContent()).toBe('alice');
    await expect.poll(() => alice.getByTestId('device-2').count(), { timeout: 15_000 }).toBe(1);
    const aliceAci = relay.store.accountByName('alice')?.aci ?? '';
    expect(relay.store.deviceIds(aliceAci)).toEqual([1, 2]);

    // Bob writes once: both of Alice's devices read it. (Contacts are app rows of each device: the
    // tablet finds Bob's chat under "Other chats".)
    await addContact(bob, 'alice');
    await addContact(alice, 'bob');
    await bob.getByTestId('contact-alice').click({ timeout: 15_000 });
    await say(bob, 'Hello to all your devices');
    await alice.getByTestId('contact-bob').click({ timeout: 15_000 });
    await tablet.getByTestId('chat-bob').click({ timeout: 15_000 });
    await expect.poll(() => messages(alice), { timeout: 15_000 }).toEqual(['Hello to all your devices']);
    await expect.poll(() => messages(tablet), { timeout: 15_000 }).toEqual(['Hello to all your devices']);

    // The tablet answers: Bob reads it, and Alice's first browser shows it as sent.
    await say(tablet, 'Answered from the tablet');
    await expect
      .poll(() => messages(bob), { timeout: 15_000 })
      .toEqual(['Hello to all your devices', 'Answered from the tablet']);
    await expect
      .poll(() => messages(alice), { timeout: 15_000 })
      .toEqual(['Hello to all your devices', 'Answered from the tablet']);
    expect(await alice.locator('.msg.out [data-testid="message"]').allTextContents()).toEqual([
      'Answered from the tablet',
    ]);
    expect(errors).toEqual([]);

    // Unlink the tablet: the relay drops it; Bob's next message reaches only Alice's first browser.
    await alice.getByTestId('open-devices').click();
    await alice.getByTestId('unlink-2').click();
    await expect.poll(() => alice.getByTestId('device-2').count(), { timeout: 15_000 }).toBe(0);
    expect(relay.store.deviceIds(aliceAci)).toEqual([1]);
    await say(bob, 'Only one device now');
    await alice.getByTestId('contact-bob').click();
    await expect.poll(() => messages(alice), { timeout: 15_000 }).toContain('Only one device now');
    expect(relay.store.pending(aliceAci, 2)).toEqual([]);
    expect(await messages(tablet)).not.toContain('Only one device now');
    for (const p of [alice, bob, tablet]) await p.context().close();
  },
  180_000,
);

it.skipIf(!executablePath)(
  'restored from an old backup in a fresh profile, the conversation goes on: what Dave cannot decrypt he asks for again (retry receipt)',
  async () => {
    const carol = await register('carol');
    const dave = await register('dave');
    await addContact(carol, 'dave');
    await addContact(dave, 'carol');
    await carol.getByTestId('contact-dave').click({ timeout: 15_000 });
    await say(carol, 'Before the backup');
    await dave.getByTestId('contact-carol').click({ timeout: 15_000 });
    await expect.poll(() => messages(dave), { timeout: 15_000 }).toEqual(['Before the backup']);

    await carol.getByTestId('open-backup').click();
    await carol.getByTestId('backup-password').fill('an old backup password');
    await carol.getByTestId('backup-create').click();
    const recoveryCode =
      (await carol.getByTestId('backup-recovery-code').textContent({ timeout: 90_000 })) ?? '';
    expect(recoveryCode).toMatch(/^[0-9a-f]{32}$/);

    // The conversation goes on after the backup: both ratchets move past what it holds.
    await carol.getByTestId('contact-dave').click();
    await say(dave, 'After the backup');
    await expect
      .poll(() => messages(carol), { timeout: 15_000 })
      .toEqual(['Before the backup', 'After the backup']);
    await say(carol, 'Still after the backup');
    await expect.poll(() => messages(dave), { timeout: 15_000 }).toContain('Still after the backup');
    await carol.context().close();

    // Carol's browser is gone; she restores the old backup in a fresh profile.
    const { page: restored } = await fresh();
    await restored.getByTestId('restore-name').fill('carol');
    await restored.getByTestId('restore-code').fill(recoveryCode);
    await restored.getByTestId('restore-secret').fill('an old backup password');
    await restored.getByTestId('restore-submit').click();
    await connected(restored, 90_000);
    await restored.getByTestId('contact-dave').click({ timeout: 15_000 });
    expect(await messages(restored)).toEqual(['Before the backup']);

    // Dave writes; the restored profile answers with delivery and read receipts on the session
    // state of the old backup, which Dave's browser cannot decrypt: it sends a retry receipt, the
    // restored profile starts a new session, and nothing is lost either way.
    await say(dave, 'Are you there?');
    await expect
      .poll(() => messages(restored), { timeout: 30_000 })
      .toEqual(['Before the backup', 'Are you there?']);
    await expect
      .poll(() => dave.getByTestId('system-message').allTextContents(), { timeout: 30_000 })
      .toContainEqual(expect.stringMatching(/could not decrypt a message from carol .*asked for it again/));
    await say(restored, 'Yes, restored');
    await expect.poll(() => messages(dave), { timeout: 15_000 }).toContain('Yes, restored');
    for (const p of [dave, restored]) await p.context().close();
  },
  240_000,
);
