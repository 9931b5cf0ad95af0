/**
 * Linked devices and retry receipts in Debian's Chromium (playwright-core, no browser download):
 * a second browser profile links to an account — its QR code is read from a screenshot with jsQR
 * (independent of the QR encoder) and handed to the signed-in profile as an image — messages appear
 * on both devices, sent ones too, a group message too, and unlinking removes the device; then an
 * account restored from an old backup in a fresh profile reads a message it could no longer
 * decrypt, through a retry receipt. Both run at a phone and a desktop width, with screenshots in
 * test/artifacts/ and layout checks; no uncaught or console error of the app may appear.
 *
 * Without Chromium the tests are skipped with one line saying so (CI installs `chromium`).
 */
import jsQR from 'jsqr';
import type { Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import {
  addContact,
  browserSuite,
  checkLayout,
  messages,
  openFromList,
  registerOn,
  say,
  WIDTHS,
  waitConnected,
} from './browser-harness.js';

const suite = browserSuite('chat device browser tests', { prefix: 'e2ee-chat-devices-' });

const connected = waitConnected;

describe.each(WIDTHS)('at a %s width', (width, viewport) => {
  const problems: string[] = [];

  const fresh = (label: string): Promise<Page> => suite.page(label, viewport, problems);

  async function register(name: string): Promise<Page> {
    const page = await fresh(name);
    await registerOn(page, name);
    return page;
  }

  it.skipIf(!suite.enabled)(
    'a second profile links by its QR code; messages, sent ones too, appear on both devices; unlink removes it',
    async () => {
      problems.length = 0;
      const [aliceName, bobName] = [`${width}-alice`, `${width}-bob`];
      const alice = await register(aliceName);
      const bob = await register(bobName);

      // The new browser shows its link code.
      const tablet = await fresh(`${aliceName}-tablet`);
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
      await checkLayout(tablet, `${width}-link-code`);

      // Alice's browser takes the screenshot as an image (read in the page), confirms, links.
      await openFromList(alice, 'open-devices');
      await alice
        .getByTestId('link-code-image')
        .setInputFiles({ name: 'qr.png', mimeType: 'image/png', buffer: shot });
      await expect
        .poll(() => alice.getByTestId('link-code-input').inputValue(), { timeout: 15_000 })
        .toBe(uri);
      await alice.getByTestId('link-code-submit').click();
      await checkLayout(alice, `${width}-link-confirm`);
      await alice.getByTestId('link-confirm').click();
      await connected(tablet, 30_000);
      expect(await tablet.getByTestId('me').textContent()).toBe(aliceName);
      await expect.poll(() => alice.getByTestId('device-2').count(), { timeout: 15_000 }).toBe(1);
      await checkLayout(alice, `${width}-devices-linked`);
      const aliceAci = suite.relay.store.accountByName(aliceName)?.aci ?? '';
      // The link time is the relay's word (nothing signed carries it): a relay that says the tablet
      // was linked in 2001 is shown as saying so, not as a fact.
      suite.relay.store.db
        .prepare('UPDATE devices SET created_at = ? WHERE aci = ? AND device_id = 2')
        .run(Date.UTC(2001, 0, 2), aliceAci);
      await openFromList(alice, 'open-devices');
      await expect
        .poll(() => alice.getByTestId('device-2').textContent(), { timeout: 15_000 })
        .toMatch(/the relay says it was linked .*2001/);
      expect(suite.relay.store.deviceIds(aliceAci)).toEqual([1, 2]);

      // Bob writes once: both of Alice's devices read it. Contacts are the account's: the one Alice
      // adds on her phone is listed on her tablet too.
      await addContact(bob, aliceName);
      await addContact(alice, bobName);
      await openFromList(bob, `contact-${aliceName}`);
      await say(bob, 'Hello to all your devices');
      await openFromList(alice, `contact-${bobName}`);
      await openFromList(tablet, `contact-${bobName}`);
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
      await checkLayout(tablet, `${width}-tablet-chat`);

      // A group Bob makes with Alice shows on her tablet too (Bob is a contact there as well, so his
      // add joins on both devices), and his message in it reaches both her devices.
      await openFromList(bob, 'new-group');
      await bob.getByTestId('group-title').fill('family');
      await bob.getByTestId(`member-${aliceName}`).click();
      await bob.getByTestId('create-group').click();
      await expect.poll(() => bob.getByTestId('conversation-title').textContent()).toBe('family');
      await say(bob, 'A group message for every device');
      await openFromList(alice, 'group-family');
      await openFromList(tablet, 'group-family');
      for (const device of [alice, tablet]) {
        await expect
          .poll(() => device.getByTestId('group-members').textContent(), { timeout: 15_000 })
          .toBe(`${bobName}, ${aliceName}`);
        await expect
          .poll(() => messages(device), { timeout: 15_000 })
          .toEqual([expect.stringMatching(/A group message for every device$/)]);
      }
      await checkLayout(tablet, `${width}-tablet-group`);

      // Unlink the tablet: the relay drops it; Bob's next message reaches only Alice's first browser.
      await openFromList(alice, 'open-devices');
      await alice.getByTestId('unlink-2').click();
      await expect.poll(() => alice.getByTestId('device-2').count(), { timeout: 15_000 }).toBe(0);
      expect(suite.relay.store.deviceIds(aliceAci)).toEqual([1]);
      await openFromList(bob, `contact-${aliceName}`);
      await say(bob, 'Only one device now');
      await openFromList(alice, `contact-${bobName}`);
      await expect.poll(() => messages(alice), { timeout: 15_000 }).toContain('Only one device now');
      expect(suite.relay.store.pending(aliceAci, 2)).toEqual([]);
      expect(await messages(tablet)).not.toContain('Only one device now');
      expect(problems).toEqual([]);
      for (const p of [alice, bob, tablet]) await p.context().close();
    },
    180_000,
  );

  it.skipIf(!suite.enabled)(
    'restored from an old backup in a fresh profile, the conversation goes on: what meets the old state is asked for again (retry receipt)',
    async () => {
      problems.length = 0;
      const [carolName, daveName] = [`${width}-carol`, `${width}-dave`];
      const carol = await register(carolName);
      const dave = await register(daveName);
      await addContact(carol, daveName);
      await addContact(dave, carolName);
      await openFromList(carol, `contact-${daveName}`);
      await say(carol, 'Before the backup');
      await openFromList(dave, `contact-${carolName}`);
      await expect.poll(() => messages(dave), { timeout: 15_000 }).toEqual(['Before the backup']);

      await openFromList(carol, 'open-backup');
      await carol.getByTestId('backup-password').fill('an old backup password');
      await carol.getByTestId('backup-create').click();
      const recoveryCode =
        (await carol.getByTestId('backup-recovery-code').textContent({ timeout: 90_000 })) ?? '';
      expect(recoveryCode).toMatch(/^[0-9a-f]{32}$/);

      // The conversation goes on after the backup: both ratchets move past what it holds.
      await openFromList(carol, `contact-${daveName}`);
      await say(dave, 'After the backup');
      await expect
        .poll(() => messages(carol), { timeout: 15_000 })
        .toEqual(['Before the backup', 'After the backup']);
      await say(carol, 'Still after the backup');
      await expect.poll(() => messages(dave), { timeout: 15_000 }).toContain('Still after the backup');
      await carol.context().close();

      // Carol's browser is gone; she restores the old backup in a fresh profile.
      const restored = await fresh(`${carolName}-restored`);
      await restored.getByTestId('restore-name').fill(carolName);
      await restored.getByTestId('restore-code').fill(recoveryCode);
      await restored.getByTestId('restore-secret').fill('an old backup password');
      await restored.getByTestId('restore-submit').click();
      await connected(restored, 90_000);
      await openFromList(restored, `contact-${daveName}`);
      expect(await messages(restored)).toEqual(['Before the backup']);

      // Dave writes. Whichever message first meets the stale session state of the old backup cannot
      // be decrypted and is asked for again with a retry receipt: the restored profile's receipts
      // (on its old state) at Dave's browser, or Dave's text at the restored profile, whose old state
      // lacks the ratchet keys of the messages after the backup — which one comes first is a race
      // between the two browsers. The asked side says so; a new session follows, nothing is lost.
      await say(dave, 'Are you there?');
      await expect
        .poll(() => messages(restored), { timeout: 30_000 })
        .toEqual(['Before the backup', 'Are you there?']);
      const asked = async () => [
        ...(await dave.getByTestId('system-message').allTextContents()).filter((t) =>
          t.match(new RegExp(`^could not decrypt a message from ${carolName} .*; asked for it again$`)),
        ),
        ...(await restored.getByTestId('system-message').allTextContents()).filter((t) =>
          t.match(new RegExp(`^could not decrypt a message from ${daveName} .*; asked for it again$`)),
        ),
      ];
      await expect.poll(async () => (await asked()).length, { timeout: 30_000 }).toBeGreaterThan(0);
      await checkLayout(dave, `${width}-retry-notice`);
      await say(restored, 'Yes, restored');
      await expect.poll(() => messages(dave), { timeout: 15_000 }).toContain('Yes, restored');
      await checkLayout(restored, `${width}-old-backup-restored`);
      expect(problems).toEqual([]);
      for (const p of [dave, restored]) await p.context().close();
    },
    240_000,
  );
});
