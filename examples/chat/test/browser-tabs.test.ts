/**
 * Two tabs of one profile are one device, and the relay keeps one connection per device: a newer
 * one closes the older (4409). Before, the closed tab reconnected 3 s later, closing the other,
 * which did the same: the tabs took the connection from each other every 3 s for as long as both
 * were open (each time a new socket, an auth, a re-send of every unacknowledged envelope, and both
 * tabs showing "offline" half the time). Now a tab whose connection was taken over says so and
 * connects again only when the user comes back to it. In Debian's Chromium; skipped without it.
 */
import type { WebSocket as PageSocket } from 'playwright-core';
import { expect, it } from 'vitest';
import { browserSuite, DESKTOP, waitConnected } from './browser-harness.js';

const suite = browserSuite('chat two-tab browser test', { prefix: 'e2ee-chat-tabs-' });

const status = (page: import('playwright-core').Page) => page.getByTestId('connection').textContent();

it.skipIf(!suite.enabled)(
  'the tab whose connection a newer tab took over stays off until the user comes back to it',
  async () => {
    const problems: string[] = [];
    const first = await suite.registeredPage('tabs-two', DESKTOP, problems);
    const sockets: PageSocket[] = [];
    first.on('websocket', (ws) => sockets.push(ws));
    const second = await first.context().newPage();
    second.on('websocket', (ws) => sockets.push(ws));
    await second.goto(suite.relay.url);
    await waitConnected(second);
    await expect.poll(() => status(first), { timeout: 15_000 }).toBe('open in another tab');
    // Four reconnect periods (3 s each) pass: no tab takes the connection back by itself.
    await new Promise((r) => setTimeout(r, 12_000));
    expect(sockets).toHaveLength(1); // the second tab's; the first tab's own came before counting
    expect(await status(second)).toBe('connected');
    expect(await status(first)).toBe('open in another tab');

    // The user comes back to the first tab: it connects again, and the second one steps aside.
    await first.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
    await waitConnected(first);
    await expect.poll(() => status(second), { timeout: 15_000 }).toBe('open in another tab');
    expect(sockets).toHaveLength(2);
    expect(problems).toEqual([]);
    await first.context().close();
  },
  90_000,
);
