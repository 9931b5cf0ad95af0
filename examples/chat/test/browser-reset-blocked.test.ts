/**
 * Erasing this browser's copy of the account while another tab keeps the database open (a tab of an
 * older version of the page, which does not close its connection when asked): the page says so and
 * waits, and the reset finishes once that tab is closed. In Debian's Chromium; skipped without it.
 */
import { expect, it } from 'vitest';
import { browserSuite, DESKTOP } from './browser-harness.js';

const suite = browserSuite('chat reset blocked by another tab', { prefix: 'e2ee-chat-reset-' });

it.skipIf(!suite.enabled)(
  'a reset another tab blocks shows a message, and finishes once that tab is closed',
  async () => {
    const problems: string[] = [];
    const page = await suite.registeredPage('reset-blocked', DESKTOP, problems);
    // The other tab: a connection that ignores versionchange (what an older release of the page held).
    const other = await page.context().newPage();
    await other.goto(`${suite.relay.url}/no-such-page`);
    await other.evaluate(
      () =>
        new Promise<void>((resolve, reject) => {
          const req = indexedDB.open('e2ee-kit-chat-store');
          req.onsuccess = () => {
            (globalThis as { held?: IDBDatabase }).held = req.result;
            resolve();
          };
          req.onerror = () => reject(req.error);
        }),
    );
    await page.evaluate(() => {
      localStorage.setItem('e2ee-kit-chat:erase', JSON.stringify({ name: '', next: 'none' }));
      location.reload();
    });
    await expect
      .poll(() => page.getByTestId('erase-blocked').textContent(), { timeout: 15_000 })
      .toContain('Close that tab');
    await other.close();
    // The database is gone: the welcome screen (no account) replaces the message.
    await expect.poll(() => page.getByTestId('erase-blocked').count(), { timeout: 15_000 }).toBe(0);
    expect(await page.evaluate(() => localStorage.getItem('e2ee-kit-chat:erase'))).toBeNull();
    await page.context().close();
  },
  90_000,
);
