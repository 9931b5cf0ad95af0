/**
 * The web client as a messenger, in Debian's Chromium (playwright-core, no browser download), at a
 * phone width (390 px) and a desktop width: the encryption notice, local times, sent → delivered →
 * read ticks, 60 messages scrolling inside the chat with the composer still on screen and nothing
 * wider than the window, texts written while the relay is down sent when it is back, a re-install
 * from the UI with the recovery code (the contact's safety-number notice in that chat only, its
 * Verify opening that contact, the old device saying it lost its registration), and backups:
 * key shown once with its warning, password change, the five-try lockout surviving a reload.
 *
 * Screenshots go to test/artifacts/ (git-ignored; CI keeps the folder). No uncaught error and no
 * console error from the app may appear (Chromium's own network lines aside: see browser-harness).
 */
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { browserSuite, checkLayout, DESKTOP, PHONE, say, type Viewport } from './browser-harness.js';

const suite = browserSuite('chat messenger test', { prefix: 'e2ee-chat-messenger-', restartable: true });
const problems: string[] = [];

const newPage = (label: string, viewport: Viewport): Promise<Page> => suite.page(label, viewport, problems);

async function register(name: string, viewport: Viewport): Promise<Page> {
  const page = await newPage(name, viewport);
  await page.getByTestId('register-name').fill(name);
  await page.getByTestId('register-submit').click();
  await eventually(() => page.getByTestId('connection').textContent()).toBe('connected');
  expect(await page.getByTestId('recovery-code').textContent()).toMatch(/^[0-9a-f]{32}$/);
  return page;
}

/** Contacts are the people one added, by exact name (the relay lists no one). */
async function addContact(page: Page, name: string): Promise<void> {
  await page.getByTestId('add-contact-name').fill(name);
  await page.getByTestId('add-contact-submit').click();
  await eventually(() => page.getByTestId('add-contact-status').textContent()).toBe(`added ${name}`);
}

/** A PNG's width, from its IHDR chunk (bytes 16..20). */
const PNG_WIDTH = (png: Buffer) => png.readUInt32BE(16);
/** Polls until it holds: generous, since the machine may be shared and Argon2 runs in the page. */
const eventually = <T>(fn: () => T | Promise<T>) => expect.poll(fn, { timeout: 60_000, interval: 100 });
const texts = (page: Page) => page.getByTestId('message').allTextContents();
const lastStatus = (page: Page) => page.getByTestId('message-status').last().getAttribute('data-status');

it.skipIf(!suite.enabled)(
  'chats like a messenger at 390 px and on a desktop: notice, times, ticks, scrolling, outbox, re-install',
  async () => {
    const alice = await register('alice', PHONE);
    const bob = await register('bob', DESKTOP);
    await checkLayout(alice, 'phone-chats');

    // Alice (phone) adds Bob and opens him: the chat replaces the list; the encryption notice is at the top.
    await addContact(alice, 'bob');
    await alice.getByTestId('contact-bob').click({ timeout: 15_000 });
    expect(await alice.locator('#sidebar').isVisible()).toBe(false);
    await eventually(() => alice.getByTestId('e2ee-notice').textContent()).toMatch(/end-to-end encrypted/);
    const before = Date.now();
    await say(alice, 'Hi Bob, from my phone');
    await eventually(() => texts(alice)).toEqual(['Hi Bob, from my phone']);
    const time = alice.getByTestId('message-time').last();
    const stamp = Date.parse((await time.getAttribute('datetime')) ?? '');
    expect(stamp).toBeGreaterThanOrEqual(before - 1000);
    expect(stamp).toBeLessThanOrEqual(Date.now());
    expect(await time.textContent()).toMatch(/^\d{1,2}:\d{2}( [AP]M)?$/);
    // Bob's device is online: delivered; he opens the chat: read.
    await eventually(() => lastStatus(alice)).toBe('delivered');
    await addContact(bob, 'alice');
    await bob.getByTestId('contact-alice').click({ timeout: 15_000 });
    await eventually(() => texts(bob)).toEqual(['Hi Bob, from my phone']);
    await eventually(() => lastStatus(alice)).toBe('read');
    await checkLayout(alice, 'phone-chat-read');

    // 60 messages: they scroll inside the chat, the composer stays on screen, at both widths.
    for (let i = 1; i <= 60; i++)
      await say(bob, `message ${i} of 60, with some words so that lines wrap on a phone`);
    await eventually(async () => (await texts(alice)).length).toBe(61);
    await eventually(async () => (await texts(bob)).length).toBe(61);
    await checkLayout(alice, 'phone-chat-60');
    await checkLayout(bob, 'desktop-chat-60');
    expect(await alice.getByTestId('message').last().isVisible()).toBe(true);
    const scrolls = await alice.getByTestId('messages').evaluate((el) => el.scrollHeight > el.clientHeight);
    expect(scrolls).toBe(true);

    // The relay goes down: a text waits as pending (no error banner), and goes when it is back.
    await suite.relayDown();
    await say(alice, 'written while the relay is down');
    await eventually(() => lastStatus(alice)).toBe('pending');
    expect(await alice.getByTestId('notice').count()).toBe(0);
    await checkLayout(alice, 'phone-chat-pending');
    await suite.relayUp();
    await eventually(() => lastStatus(alice)).toMatch(/^(delivered|read)$/);
    await eventually(() => texts(bob)).toContain('written while the relay is down');

    // Carol writes to Alice, then re-installs in a new browser profile with her recovery code.
    const carol = await register('carol', DESKTOP);
    const carolCode = (await carol.getByTestId('recovery-code').textContent()) ?? '';
    await addContact(carol, 'alice');
    await carol.getByTestId('contact-alice').click({ timeout: 15_000 });
    await say(carol, 'Hi Alice, Carol here');
    await eventually(() => lastStatus(carol)).toMatch(/^(delivered|read)$/);
    const carol2 = await newPage('carol-reinstalled', DESKTOP);
    await carol2.getByTestId('register-name').fill('carol');
    await carol2.getByTestId('register-submit').click();
    await eventually(() => carol2.getByTestId('welcome-error').textContent()).toMatch(
      /recovery code to re-install/,
    );
    await carol2.getByTestId('register-code').fill(carolCode);
    await carol2.getByTestId('register-submit').click();
    await eventually(() => carol2.getByTestId('connection').textContent()).toBe('connected');
    // The old profile says what happened and what can be done.
    await eventually(() => carol.getByTestId('registration-lost').textContent()).toMatch(
      /no longer registered as carol.*restored or re-installed on another device/,
    );
    await checkLayout(carol, 'desktop-registration-lost');
    expect(await carol.getByTestId('lost-restore').isVisible()).toBe(true);

    // A re-install starts with no contacts (they lived in the old install, and in a backup).
    await addContact(carol2, 'alice');
    await carol2.getByTestId('contact-alice').click({ timeout: 15_000 });
    await say(carol2, 'Carol again, new install');
    // Alice is in Bob's chat: no banner there; in Carol's chat, the banner, whose Verify opens Carol.
    await eventually(() => texts(alice)).toContain('written while the relay is down');
    await eventually(() => alice.getByTestId('system-message').count()).toBe(0);
    expect(await alice.getByTestId('identity-banner').count()).toBe(0);
    await alice.getByTestId('back').click();
    await alice.getByTestId('chat-carol').click({ timeout: 15_000 });
    await eventually(() => texts(alice)).toEqual(['Hi Alice, Carol here', 'Carol again, new install']);
    await eventually(() => alice.getByTestId('identity-banner').textContent()).toMatch(
      /safety number with carol changed/,
    );
    await checkLayout(alice, 'phone-identity-banner');
    await alice.getByTestId('identity-verify').click();
    await eventually(() => alice.getByRole('heading', { name: 'Encryption with carol' }).count()).toBe(1);
    await eventually(() => alice.getByTestId('safety-digits').textContent()).toMatch(/^\d{60}$/);
    await checkLayout(alice, 'phone-safety');
    // Verify by scanning: a screenshot of Carol's QR code, picked as an image file on Alice's phone.
    await carol2.getByTestId('open-safety').click();
    const qr = await carol2.getByTestId('safety-qr').screenshot({ timeout: 15_000 });
    await alice
      .getByTestId('scan-image')
      .setInputFiles({ name: 'carol-qr.png', mimeType: 'image/png', buffer: qr });
    await eventually(() => alice.getByTestId('scan-result').textContent()).toBe('Match: carol is verified.');
    await eventually(() => alice.getByTestId('safety-status').textContent()).toBe('Verified');
    // A photo (that same screenshot) to Carol: encrypted on Alice's phone, decrypted in Carol's tab.
    await alice.getByTestId('safety-back').click();
    await alice
      .getByTestId('attach-input')
      .setInputFiles({ name: 'qr.png', mimeType: 'image/png', buffer: qr });
    await eventually(() => alice.getByTestId('photo').count()).toBe(1);
    await carol2.getByTestId('safety-back').click();
    const shown = carol2.getByTestId('photo');
    await eventually(() => shown.evaluate((img) => (img as HTMLImageElement).naturalWidth)).toBe(
      PNG_WIDTH(qr),
    );
    await checkLayout(alice, 'phone-photo');
    await checkLayout(carol2, 'desktop-photo');
    await alice.getByTestId('open-safety').click();
    await checkLayout(bob, 'desktop-chat-after');

    // A group: when Bob removes Carol, both headers stop listing her.
    await addContact(bob, 'carol');
    await bob.getByTestId('new-group').click();
    await bob.getByTestId('group-title').fill('Friday');
    await bob.getByTestId('member-alice').check();
    await bob.getByTestId('member-carol').check();
    await bob.getByTestId('create-group').click();
    await eventually(() => bob.getByTestId('group-members').textContent()).toBe('bob, alice, carol');
    await alice.getByTestId('safety-back').click();
    await alice.getByTestId('back').click();
    await alice.getByTestId('group-Friday').click({ timeout: 15_000 });
    await eventually(() => alice.getByTestId('group-members').textContent()).toBe('bob, alice, carol');
    await bob.getByTestId('remove-member').selectOption('carol');
    await eventually(() => bob.getByTestId('group-members').textContent()).toBe('bob, alice');
    await eventually(() => alice.getByTestId('group-members').textContent()).toBe('bob, alice');
    await say(alice, 'just the two of us');
    await eventually(() => lastStatus(alice)).toBe('sent');
    await checkLayout(alice, 'phone-group');
    await checkLayout(bob, 'desktop-group');

    // The old Carol profile: "re-install here" erases its copy and opens the form, name filled in.
    await carol.getByTestId('lost-reinstall').click();
    await eventually(() => carol.getByTestId('register-name').inputValue()).toBe('carol');
    expect(await carol.getByTestId('reinstall').getAttribute('open')).toBe('');
    expect(await carol.getByTestId('me').count()).toBe(0);

    // Carol re-installs once more there. Alice had verified her: sending is refused until Alice
    // verifies again or accepts — and only this refusal offers those two buttons.
    await carol.getByTestId('register-code').fill(carolCode);
    await carol.getByTestId('register-submit').click();
    await eventually(() => carol.getByTestId('connection').textContent()).toBe('connected');
    await addContact(carol, 'alice');
    await carol.getByTestId('contact-alice').click({ timeout: 15_000 });
    await say(carol, 'third install');
    await alice.getByTestId('back').click();
    await alice.getByTestId('chat-carol').click();
    await eventually(() => texts(alice)).toContain('third install');
    await say(alice, 'is that you?');
    await eventually(() => alice.getByTestId('notice').textContent()).toMatch(
      /^Not sent\. carol's safety number changed since you verified it\./,
    );
    expect(await alice.getByTestId('notice-verify').isVisible()).toBe(true);
    expect(await alice.getByTestId('identity-banner').count()).toBe(0);
    await checkLayout(alice, 'phone-untrusted');
    await alice.getByTestId('notice-accept').click();
    await eventually(() => alice.getByTestId('notice').count()).toBe(0);
    expect(await alice.getByTestId('identity-banner').count()).toBe(0);
    await alice.getByTestId('send').click(); // the text stayed in the composer
    await eventually(() => texts(carol)).toContain('is that you?');

    expect(problems).toEqual([]);
  },
  240_000,
);

it.skipIf(!suite.enabled)(
  'backs up like a messenger: key shown once with its warning, password change, lockout kept across a reload',
  async () => {
    problems.length = 0;
    const dave = await register('dave', DESKTOP);
    await dave.getByTestId('open-backup').click();
    expect(await dave.getByTestId('backup-info').textContent()).toMatch(/No backup yet/);
    await dave.getByTestId('backup-password').fill('first backup password');
    await dave.getByTestId('backup-create').click();
    const key = (await dave.getByTestId('backup-key').textContent({ timeout: 60_000 })) ?? '';
    expect(key).toMatch(/^(\d{4} ){15}\d{4}$/);
    expect(await dave.getByTestId('backup-key-box').textContent()).toMatch(
      /shown only this once.*the backup is gone/,
    );
    const code = (await dave.getByTestId('backup-recovery-code').textContent()) ?? '';
    await checkLayout(dave, 'desktop-backup-key');
    await dave.getByTestId('backup-key-done').click();
    expect(await dave.getByTestId('backup-key').count()).toBe(0);
    // Coming back: the page tells what a new backup would do to this one and its key.
    await dave.getByTestId('open-backup').click();
    await eventually(() => dave.getByTestId('backup-replace-warning').textContent()).toMatch(
      /64-digit key will no longer open anything/,
    );

    // Password change: the old password is the current one; afterwards the new one opens it.
    await dave.getByTestId('change-current').fill('first backup password');
    await dave.getByTestId('change-new').fill('second backup password');
    await dave.getByTestId('change-again').fill('second backup password');
    await dave.getByTestId('change-submit').click();
    await eventually(() => dave.getByTestId('change-result').textContent()).toMatch(/^Password changed/);

    // A new phone: five wrong passwords, then a pause that a reload does not lift.
    const phone = await newPage('dave-phone', PHONE);
    const submit = async (secret: string) => {
      await phone.evaluate(() => document.querySelector('[data-testid="welcome-error"]')?.remove());
      await phone.getByTestId('restore-name').fill('dave');
      await phone.getByTestId('restore-code').fill(code);
      await phone.getByTestId('restore-secret').fill(secret);
      await phone.getByTestId('restore-submit').click();
    };
    const attempt = async (secret: string) => {
      await submit(secret);
      await eventually(() => phone.getByTestId('welcome-error').count()).toBe(1);
      return (await phone.getByTestId('welcome-error').textContent()) ?? '';
    };
    expect(await attempt('first backup password')).toBe(
      'Wrong password or key. 4 tries left before a pause.',
    );
    for (const left of ['3 tries', '2 tries', '1 try'])
      expect(await attempt(`wrong ${left}`)).toContain(`${left} left`);
    expect(await attempt('wrong again')).toMatch(/^Wrong password or key\. Too many attempts: try again at /);
    await phone.reload();
    const locked = await attempt('second backup password');
    expect(locked).toMatch(/^Too many wrong attempts\. You can try again at \d{1,2}:\d{2}:\d{2}( [AP]M)?\.$/);
    expect(locked).not.toMatch(/Z|LOCKED_OUT|T\d\d:/);
    await checkLayout(phone, 'phone-restore-locked');
    // The 64-digit key has its own budget: it restores, and the old device is told it was replaced.
    await submit(key);
    await eventually(() => phone.getByTestId('connection').textContent()).toBe('connected');
    await eventually(() => dave.getByTestId('registration-lost').count()).toBe(1);
    await checkLayout(phone, 'phone-restored');
    expect(problems).toEqual([]);
  },
  240_000,
);

it.skipIf(!suite.enabled)(
  'a text the outbox could not send says "Not sent" with Send again, and goes once after the change is accepted',
  async () => {
    problems.length = 0;
    const erin = await register('erin', PHONE);
    const frank = await register('frank', DESKTOP);
    const frankCode = (await frank.getByTestId('recovery-code').textContent()) ?? '';
    await addContact(erin, 'frank');
    await erin.getByTestId('contact-frank').click({ timeout: 15_000 });
    await say(erin, 'hello frank');
    await eventually(() => lastStatus(erin)).toMatch(/^(delivered|read)$/);
    // Erin verifies Frank by a screenshot of his QR code.
    await frank.getByTestId('chat-erin').click({ timeout: 15_000 });
    await frank.getByTestId('open-safety').click();
    const qr = await frank.getByTestId('safety-qr').screenshot({ timeout: 15_000 });
    await erin.getByTestId('open-safety').click();
    await erin
      .getByTestId('scan-image')
      .setInputFiles({ name: 'frank-qr.png', mimeType: 'image/png', buffer: qr });
    await eventually(() => erin.getByTestId('scan-result').textContent()).toBe('Match: frank is verified.');
    await erin.getByTestId('safety-back').click();

    // Erin's sends cannot reach the relay (her connection stays up): the text waits.
    const sends = /\/v1\/(fanout|sealed)\//;
    await erin.route(sends, (route) => route.abort());
    await say(erin, 'are you still there?');
    await eventually(() => lastStatus(erin)).toBe('pending');
    // Meanwhile Frank re-installs in a new profile: a new safety number.
    const frank2 = await newPage('frank-reinstalled', DESKTOP);
    await frank2.getByTestId('register-name').fill('frank');
    await frank2.getByTestId('register-submit').click();
    await frank2.getByTestId('register-code').fill(frankCode);
    await frank2.getByTestId('register-submit').click();
    await eventually(() => frank2.getByTestId('connection').textContent()).toBe('connected');

    // The relay is reachable again: the outbox tries, and the changed verified number stops it.
    await erin.unroute(sends);
    await eventually(() => lastStatus(erin)).toBe('failed');
    expect(await erin.getByTestId('message-failed').textContent()).toMatch(/^Not sent\./);
    await eventually(() => erin.getByTestId('notice').textContent()).toMatch(
      /^Not sent\. frank's safety number changed since you verified it\./,
    );
    await checkLayout(erin, 'phone-not-sent');
    await erin.getByTestId('notice-accept').click();
    await erin.getByTestId('message-send-again').click();
    await eventually(() => lastStatus(erin)).toMatch(/^(sent|delivered|read)$/);
    expect(await erin.getByTestId('message-failed').count()).toBe(0);
    await frank2.getByTestId('chat-erin').click({ timeout: 15_000 });
    await eventually(() => texts(frank2)).toEqual(['are you still there?']);
    expect(problems).toEqual([]);
  },
  180_000,
);
