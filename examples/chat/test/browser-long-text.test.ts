/**
 * The longest values a contact or group member may send, shown at a phone width in Debian's
 * Chromium: a 32-character group title without a break opportunity (in the invitation, the chat
 * list and the chat header), a 32-character name without one (the chat list, header and encryption
 * screen), a 16 KiB text without one, and a photo 1 pixel wide and 20 000 tall.
 * Each stays inside the window (nothing drawn past its right edge) and the photo no taller than the
 * window. Skipped with one line when Chromium is not installed.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import {
  addContact,
  browserSuite,
  checkLayout,
  messages,
  openFromList,
  PHONE,
  say,
  showChatList,
  solidPng,
} from './browser-harness.js';

const suite = browserSuite('chat long-text browser test', { prefix: 'e2ee-chat-long-' });

/**
 * The data-testid (or tag.class) of every element drawn past the window's right edge, or whose
 * content spills out of it sideways unclipped (an element that clips, as with an ellipsis, is fine).
 */
const pastRightEdge = (page: Page) =>
  page.evaluate(() => {
    const out: string[] = [];
    for (const el of Array.from(document.querySelectorAll('#app *'))) {
      const r = el.getBoundingClientRect();
      const style = getComputedStyle(el);
      const spills =
        style.display !== 'inline' && style.overflowX === 'visible' && el.scrollWidth > el.clientWidth + 1;
      if (r.width > 0 && (r.right > window.innerWidth + 0.5 || spills)) {
        out.push((el as HTMLElement).dataset['testid'] ?? `${el.tagName.toLowerCase()}.${el.className}`);
      }
    }
    return [...new Set(out)];
  });

describe('peer-controlled text at its longest', () => {
  it.skipIf(!suite.enabled)(
    'a 32-character unbroken group title and name, a 16 KiB unbroken text and a 1 x 20000 photo stay inside a phone window',
    async () => {
      const problems: string[] = [];
      // The longest name the relay registers, without a break opportunity either.
      const alice = `long${'w'.repeat(28)}`;
      const a = await suite.registeredPage(alice, PHONE, problems);
      const b = await suite.registeredPage('long-bob', PHONE, problems);
      const title = 'W'.repeat(32);
      await addContact(a, 'long-bob');
      await openFromList(a, 'new-group');
      await a.getByTestId('group-title').fill(title);
      await a.getByTestId('member-long-bob').click();
      await a.getByTestId('create-group').click();
      await expect.poll(() => a.getByTestId('conversation-title').textContent()).toBe(title);
      expect(await pastRightEdge(a)).toEqual([]);

      // Bob has not added Alice: an invitation first.
      await expect
        .poll(() => b.getByTestId('open-invitations').textContent(), { timeout: 15_000 })
        .toBe('Invitations (1)');
      await openFromList(b, 'open-invitations');
      await b.getByTestId(`invitation-${title}`).waitFor();
      expect(await pastRightEdge(b)).toEqual([]);
      await checkLayout(b, 'phone-long-invitation');
      await b.getByTestId('invitation-accept').click();
      await expect.poll(() => b.getByTestId('conversation-title').textContent()).toBe(title);
      expect(await pastRightEdge(b)).toEqual([]);

      const text = 'W'.repeat(16 * 1024);
      await say(a, text);
      await expect.poll(() => messages(b), { timeout: 15_000 }).toEqual([text]);
      expect(await pastRightEdge(b)).toEqual([]);
      await checkLayout(b, 'phone-long-text');

      await a.getByTestId('attach-input').setInputFiles({
        name: 'tall.png',
        mimeType: 'image/png',
        buffer: solidPng(1, 20_000, [9, 9, 9, 255]),
      });
      const photo = b.getByTestId('photo');
      await photo.waitFor({ timeout: 15_000 });
      await expect.poll(() => photo.evaluate((i) => (i as HTMLImageElement).complete)).toBe(true);
      const box = await photo.boundingBox();
      expect(box?.height).toBeGreaterThan(0);
      expect(box?.height).toBeLessThanOrEqual(PHONE.height);
      expect(await pastRightEdge(b)).toEqual([]);
      await checkLayout(b, 'phone-tall-photo');

      // Back in the chat list: the group's entry is cut with an ellipsis, not wider than the list.
      await showChatList(b);
      await b.getByTestId(`group-${title}`).waitFor();
      expect(await pastRightEdge(b)).toEqual([]);
      // Alice's long name: in the chat list, her chat's header and the encryption screen.
      await openFromList(a, 'contact-long-bob');
      await say(a, 'hi');
      await openFromList(b, `chat-${alice}`);
      expect(await pastRightEdge(b)).toEqual([]);
      await b.getByTestId('open-safety').click();
      await b.getByTestId('safety-digits').waitFor({ timeout: 15_000 });
      expect(await pastRightEdge(b)).toEqual([]);
      await checkLayout(b, 'phone-long-name-safety');
      expect(problems).toEqual([]);
    },
    120_000,
  );
});
