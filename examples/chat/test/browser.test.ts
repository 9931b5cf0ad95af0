/**
 * The web client in Debian's Chromium, driven by playwright-core (no browser download): two browser
 * contexts (two profiles, two devices) register, exchange messages both ways, and one verifies the
 * other by reading the QR code from a screenshot with an independent decoder (jsQR); and two tabs of
 * one profile send at once over the one IndexedDB they share. Groups with consent (invitations,
 * the Privacy setting with its "My contacts except…" picker) run at a phone and a desktop width,
 * with screenshots in test/artifacts/ and layout checks.
 *
 * When Chromium is not installed this one test is skipped with a single line saying so (CI installs
 * the `chromium` apt package).
 */
import { PreKeySignalMessage } from '@e2ee-kit/ratchet';
import jsQR from 'jsqr';
import type { Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import {
  addContact,
  browserSuite,
  checkLayout,
  DESKTOP,
  messages,
  openFromList,
  registerOn,
  say,
  showChatList,
  WIDTHS,
} from './browser-harness.js';

const suite = browserSuite('chat browser test', { prefix: 'e2ee-chat-web-' });

async function open(name: string, viewport = DESKTOP, problems: string[] = []): Promise<Page> {
  const page = await suite.page(name, viewport, problems);
  await registerOn(page, name);
  expect(await page.getByTestId('me').textContent()).toBe(name);
  expect(problems).toEqual([]);
  return page;
}

describe.each(WIDTHS)('chat, verify and restore at a %s width', (width, viewport) => {
  it.skipIf(!suite.enabled)(
    'two browser profiles chat both ways, verify each other by QR code, and a backup restores into a fresh profile',
    async () => {
      const problems: string[] = [];
      const [aliceName, bobName] = [`${width}-chat-alice`, `${width}-chat-bob`];
      const alice = await open(aliceName, viewport, problems);
      const bob = await open(bobName, viewport, problems);

      // Bob starts typing a contact's name: when the chat list redraws (Alice's message arrives) the
      // field keeps its focus and its text.
      await showChatList(bob);
      await bob.getByTestId('add-contact-name').fill('some');

      // Alice adds Bob by his exact name and writes; Bob, who did not add her, finds her chat under
      // "Other chats" once her message arrived.
      await addContact(alice, bobName);
      await openFromList(alice, `contact-${bobName}`);
      await say(alice, 'Hello Bob, from a browser');
      await expect.poll(() => messages(alice), { timeout: 15_000 }).toEqual(['Hello Bob, from a browser']);
      await bob.getByTestId(`chat-${aliceName}`).waitFor({ timeout: 15_000 });
      expect(await bob.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe(
        'add-contact-name',
      );
      expect(await bob.getByTestId('add-contact-name').inputValue()).toBe('some');

      // Bob sees it arrive over the WebSocket, answers.
      await openFromList(bob, `chat-${aliceName}`);
      await expect.poll(() => messages(bob), { timeout: 15_000 }).toEqual(['Hello Bob, from a browser']);
      await say(bob, 'Hi Alice, decrypted in my tab');
      await expect
        .poll(() => messages(alice), { timeout: 15_000 })
        .toEqual(['Hello Bob, from a browser', 'Hi Alice, decrypted in my tab']);
      await checkLayout(alice, `${width}-chat`);

      // Safety numbers: both screens show the same 60 digits.
      await alice.getByTestId('open-safety').click();
      await bob.getByTestId('open-safety').click();
      const digitsA = (await alice.getByTestId('safety-digits').textContent({ timeout: 15_000 })) ?? '';
      const digitsB = (await bob.getByTestId('safety-digits').textContent({ timeout: 15_000 })) ?? '';
      expect(digitsA).toMatch(/^\d{60}$/);
      expect(digitsB).toBe(digitsA);
      await checkLayout(alice, `${width}-safety`);

      // Bob "scans" Alice's QR code: a screenshot, decoded by jsQR (independent of the QR encoder).
      const shot = await alice.getByTestId('safety-qr').screenshot();
      const png = PNG.sync.read(shot);
      const code = jsQR(
        new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.length),
        png.width,
        png.height,
      );
      expect(code).not.toBeNull();
      const scanned = Buffer.from(code!.binaryData).toString('hex');
      expect(scanned).toBe(await alice.getByTestId('safety-payload').textContent());
      await bob.getByTestId('scan-input').fill(scanned);
      await bob.getByTestId('scan-compare').click();
      await expect
        .poll(() => bob.getByTestId('scan-result').textContent(), { timeout: 15_000 })
        .toBe(`Match: ${aliceName} is verified.`);
      await expect
        .poll(() => bob.getByTestId('safety-status').textContent(), { timeout: 15_000 })
        .toBe('Verified');

      // A code that is not Alice's (a one-byte change) is a mismatch, not a match.
      const tampered = `${scanned.slice(0, -2)}${scanned.endsWith('00') ? '01' : '00'}`;
      await bob.getByTestId('scan-input').fill(tampered);
      await bob.getByTestId('scan-compare').click();
      await expect
        .poll(() => bob.getByTestId('scan-result').textContent(), { timeout: 15_000 })
        .toMatch(/^Mismatch/);
      await checkLayout(bob, `${width}-safety-mismatch`);

      // Alice exports an encrypted backup and restores it into a fresh browser profile, which
      // continues the conversation.
      await openFromList(alice, 'open-backup');
      await alice.getByTestId('backup-password').fill('browser backup password');
      await alice.getByTestId('backup-create').click();
      const recoveryCode =
        (await alice.getByTestId('backup-recovery-code').textContent({ timeout: 60_000 })) ?? '';
      expect(recoveryCode).toMatch(/^[0-9a-f]{32}$/);
      expect(await alice.getByTestId('backup-key').textContent()).toMatch(/^(\d{4} ){15}\d{4}$/);
      await checkLayout(alice, `${width}-backup-created`);
      await alice.context().close();
      const fresh = await suite.page(`${aliceName}-restored`, viewport, problems);
      await fresh.getByTestId('restore-name').fill(aliceName);
      await fresh.getByTestId('restore-code').fill(recoveryCode);
      await fresh.getByTestId('restore-secret').fill('browser backup password');
      await fresh.getByTestId('restore-submit').click();
      await expect
        .poll(() => fresh.getByTestId('connection').textContent(), { timeout: 60_000 })
        .toBe('connected');
      await openFromList(fresh, `contact-${bobName}`);
      await expect
        .poll(() => messages(fresh), { timeout: 15_000 })
        .toEqual(['Hello Bob, from a browser', 'Hi Alice, decrypted in my tab']);
      await say(fresh, 'Restored in a fresh profile');
      await openFromList(bob, `chat-${aliceName}`);
      await expect.poll(() => messages(bob), { timeout: 15_000 }).toContain('Restored in a fresh profile');
      await checkLayout(fresh, `${width}-restored-chat`);
      expect(problems).toEqual([]);
      for (const p of [bob, fresh]) await p.context().close();
    },
    120_000,
  );
});

it.skipIf(!suite.enabled)(
  'two tabs of one profile on one IndexedDB send at once: the Web Lock leaves no counter repeated and no message lost',
  async () => {
    // Every ciphertext the relay is handed for Bob (rows are deleted once acknowledged).
    const bodies: Buffer[] = [];
    suite.relay.store.db.function('record_tab_envelope', (body) => {
      bodies.push(Buffer.from(body as Uint8Array));
      return null;
    });
    // Envelopes are addressed by ServiceId: those for the account whose display name is tabs-bob.
    suite.relay.store.db.exec(`CREATE TEMP TRIGGER watch_tab_envelopes AFTER INSERT ON main.envelopes
      WHEN NEW.to_aci = (SELECT aci FROM main.accounts WHERE name = 'tabs-bob') BEGIN
      SELECT record_tab_envelope(NEW.body); END`);
    const bob = await open('tabs-bob');
    const first = await open('tabs-alice');
    // A second tab of the same profile: same origin, same IndexedDB, the account opens from it.
    await addContact(first, 'tabs-bob');
    const second = await first.context().newPage();
    await second.goto(suite.relay.url);
    await expect.poll(() => second.getByTestId('me').textContent(), { timeout: 20_000 }).toBe('tabs-alice');
    for (const tab of [first, second]) await tab.getByTestId('contact-tabs-bob').click({ timeout: 15_000 });

    const perTab = 12;
    const texts = (tab: string) => Array.from({ length: perTab }, (_, i) => `${tab} tab, message ${i}`);
    // Each tab submits all its messages at once (its client queues them), both tabs together, so
    // the two tabs' sends overlap throughout.
    const burst = (page: Page, lines: string[]) =>
      page.evaluate((all) => {
        const input = document.querySelector<HTMLInputElement>('[data-testid="composer"]');
        if (!input?.form) throw new Error('no composer');
        for (const t of all) {
          input.value = t;
          input.form.requestSubmit();
        }
      }, lines);
    await Promise.all([burst(first, texts('first')), burst(second, texts('second'))]);
    await bob.getByTestId('chat-tabs-alice').click({ timeout: 15_000 });
    await expect
      .poll(async () => (await messages(bob)).length, { timeout: 30_000 })
      .toBeGreaterThanOrEqual(2 * perTab);
    expect((await messages(bob)).sort()).toEqual([...texts('first'), ...texts('second')].sort());

    // Bob never answered, so Alice's messages all go identified, as PreKey messages on one chain:
    // each must sit at its own (ratchet key, counter).
    expect(bodies).toHaveLength(2 * perTab);
    const positions = bodies.map((b) => {
      const m = PreKeySignalMessage.deserialize(new Uint8Array(b)).message;
      return `${Buffer.from(m.ratchetKey.serialize()).toString('hex')}:${m.counter}`;
    });
    expect(new Set(positions).size).toBe(2 * perTab);
  },
  120_000,
);

it.skipIf(!suite.enabled)(
  'a message arriving while a chat is being clicked counts as unread and does not swallow the click',
  async () => {
    const bob = await open('click-bob');
    const alice = await open('click-alice');
    await addContact(alice, 'click-bob');
    await openFromList(alice, 'contact-click-bob');
    await say(alice, 'first');
    const row = bob.getByTestId('chat-click-alice');
    await expect.poll(() => row.locator('.badge').textContent(), { timeout: 15_000 }).toBe('1');
    // The press starts on the row, a message arrives and its badge counts it, then the release:
    // the row under the pointer must still be the one pressed, so the click opens the chat.
    const box = await row.boundingBox();
    if (!box) throw new Error('chat row not laid out');
    await bob.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await bob.mouse.down();
    await say(alice, 'second');
    await expect.poll(() => row.locator('.badge').textContent(), { timeout: 15_000 }).toBe('2');
    await bob.mouse.up();
    await expect.poll(() => bob.getByTestId('conversation-title').textContent()).toBe('click-alice');
    await expect.poll(() => messages(bob)).toEqual(['first', 'second']);
    await expect(row.locator('.badge').count()).resolves.toBe(0);
  },
  120_000,
);

/** Alice creates a group `title` with `members` (her contacts) and is left in it. */
async function createGroup(page: Page, title: string, members: string[]): Promise<void> {
  await openFromList(page, 'new-group');
  await page.getByTestId('group-title').fill(title);
  for (const m of members) await page.getByTestId(`member-${m}`).click();
  await page.getByTestId('create-group').click();
  await expect.poll(() => page.getByTestId('conversation-title').textContent()).toBe(title);
}

async function savePrivacy(page: Page, choice: 'everyone' | 'contacts' | 'except', except: string[] = []) {
  await openFromList(page, 'open-privacy');
  await page.getByTestId(`privacy-${choice}`).check();
  for (const n of except) await page.getByTestId(`privacy-except-${n}`).check();
  await page.getByTestId('privacy-save').click();
  await expect.poll(() => page.getByTestId('privacy-result').textContent()).toBe('Saved.');
}

describe.each(WIDTHS)('group consent at a %s width', (width, viewport) => {
  it.skipIf(!suite.enabled)(
    'an add from a non-contact is an invitation with its expiry, accepted; with "Everyone" the next add joins directly; "My contacts except…" turns an excepted contact\'s add into an invitation, declined',
    async () => {
      const problems: string[] = [];
      const [alice, bob, carol] = [`${width}-alice`, `${width}-bob`, `${width}-carol`];
      const a = await open(alice, viewport, problems);
      const b = await open(bob, viewport, problems);
      await addContact(a, bob);
      await createGroup(a, 'lunch', [bob]);

      // Bob has not added Alice (the default "My contacts"): an invitation, not a group.
      await expect
        .poll(() => b.getByTestId('open-invitations').textContent(), { timeout: 15_000 })
        .toBe('Invitations (1)');
      expect(await b.getByTestId('group-lunch').count()).toBe(0);
      await openFromList(b, 'open-invitations');
      const invitation = b.getByTestId('invitation-lunch');
      expect(await invitation.getByTestId('invitation-expiry').textContent()).toBe(
        'expires in 2 days 23 hours',
      );
      await checkLayout(b, `${width}-invitations`);
      await invitation.getByTestId('invitation-accept').click();
      await expect.poll(() => b.getByTestId('conversation-title').textContent()).toBe('lunch');
      await say(a, 'welcome, Bob');
      await expect
        .poll(() => messages(b), { timeout: 15_000 })
        .toEqual([expect.stringMatching(/welcome, Bob$/)]);
      await checkLayout(b, `${width}-group-accepted`);

      // Bob lets everyone add him: Alice's next group joins directly.
      await savePrivacy(b, 'everyone');
      await createGroup(a, 'dinner', [bob]);
      await openFromList(b, 'group-dinner');
      expect(await b.getByTestId('open-invitations').textContent()).toBe('Invitations');

      // "My contacts except…": Bob adds Alice and Carol as contacts and excepts Alice in the picker.
      const c = await open(carol, viewport, problems);
      await addContact(b, alice);
      await addContact(b, carol);
      await openFromList(b, 'open-privacy');
      await expect.poll(() => b.getByTestId('privacy-picker').isVisible()).toBe(false);
      await b.getByTestId('privacy-except').check();
      await expect.poll(() => b.getByTestId('privacy-picker').isVisible()).toBe(true);
      await b.getByTestId(`privacy-except-${alice}`).check();
      await checkLayout(b, `${width}-privacy-except`);
      await b.getByTestId('privacy-save').click();
      await expect.poll(() => b.getByTestId('privacy-result').textContent()).toBe('Saved.');
      // The screen shows the saved setting when it is opened again.
      await openFromList(b, `contact-${alice}`);
      await openFromList(b, 'open-privacy');
      await expect.poll(() => b.getByTestId(`privacy-except-${alice}`).isChecked()).toBe(true);
      expect(await b.getByTestId('privacy-except').isChecked()).toBe(true);
      expect(await b.getByTestId(`privacy-except-${carol}`).isChecked()).toBe(false);

      // Carol, a contact not excepted, adds Bob: he is in her group at once.
      await addContact(c, bob);
      await createGroup(c, 'tea', [bob]);
      await openFromList(b, 'group-tea');
      // Alice, excepted, adds Bob: an invitation, which Bob declines.
      await createGroup(a, 'picnic', [bob]);
      await expect
        .poll(() => b.getByTestId('open-invitations').textContent(), { timeout: 15_000 })
        .toBe('Invitations (1)');
      expect(await b.getByTestId('group-picnic').count()).toBe(0);
      await openFromList(b, 'open-invitations');
      await b.getByTestId('invitation-picnic').getByTestId('invitation-decline').click();
      await expect.poll(() => b.getByTestId('no-invitations').count()).toBe(1);
      expect(await b.getByTestId('open-invitations').textContent()).toBe('Invitations');
      expect(await b.getByTestId('group-picnic').count()).toBe(0);
      await checkLayout(b, `${width}-invitation-declined`);
      expect(problems).toEqual([]);
      for (const p of [a, b, c]) await p.context().close();
    },
    120_000,
  );
});
