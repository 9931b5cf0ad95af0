/**
 * What the chat example's browser tests share: Debian's Chromium found on the PATH (never a
 * downloaded browser) and launched headless with the flags the project uses, the web client built
 * and served by a relay, the two widths every flow runs at (a phone and a desktop), the layout
 * check with its screenshot, and the few page steps every flow takes (register, add a contact,
 * write, open something from the chat list — behind a back button on a phone).
 * Without Chromium each test file skips with one line saying so (CI installs the `chromium` package).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, expect } from 'vitest';
import { buildWeb } from '../scripts/web.js';
import { type Relay, silentLogger, startRelay } from '../server/src/index.js';

/** `which chromium`, or undefined (the caller prints `what` skipped and skips its tests). */
export function findChromium(what: string): string | undefined {
  let path: string | undefined;
  try {
    path = execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    path = undefined;
  }
  if (!path) {
    console.log(
      `${what} skipped: Chromium not found (\`which chromium\`); install it with \`apt-get install chromium\``,
    );
  }
  return path;
}

export function launchChromium(executablePath: string): Promise<Browser> {
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A temporary folder holding the built web client in `web/`; `remove()` deletes it. */
export async function builtWeb(prefix: string): Promise<{ dir: string; web: string; remove: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const web = join(dir, 'web');
  await buildWeb(web);
  return { dir, web, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface BrowserSuiteOptions {
  /** Prefix of the temporary folder (web build, relay database). */
  readonly prefix: string;
  /**
   * Keep the relay's database in that folder and its port across `relayUp()` calls, so a test can
   * stop the relay and start it again with the pages reconnecting (otherwise an in-memory relay).
   */
  readonly restartable?: boolean;
}

/**
 * What every browser test file sets up once: the web client built into a temporary folder, a relay
 * serving it, and Chromium — started in `beforeAll` and stopped in `afterAll`, both registered by
 * `browserSuite()`. Without Chromium nothing starts and `enabled` is false (tests `skipIf` it).
 */
export class BrowserSuite {
  readonly executablePath: string | undefined;
  #web: Awaited<ReturnType<typeof builtWeb>> | undefined;
  #relay: Relay | undefined;
  #browser: Browser | undefined;
  #port = 0;

  constructor(
    what: string,
    readonly options: BrowserSuiteOptions,
  ) {
    this.executablePath = findChromium(what);
  }

  get enabled(): boolean {
    return this.executablePath !== undefined;
  }
  /** The running relay (throws while it is stopped). */
  get relay(): Relay {
    if (!this.#relay) throw new Error('the relay is not running');
    return this.#relay;
  }
  get browser(): Browser {
    if (!this.#browser) throw new Error('Chromium was not launched');
    return this.#browser;
  }

  /** Starts the relay (again, on the same port and database when `restartable`). */
  async relayUp(): Promise<void> {
    if (!this.#web) throw new Error('web client not built');
    this.#relay = await startRelay({
      logger: silentLogger,
      staticDir: this.#web.web,
      ...(this.options.restartable ? { dbPath: join(this.#web.dir, 'relay.db'), port: this.#port } : {}),
    });
    this.#port = this.#relay.port;
  }
  /** Stops the relay; the pages lose their connection until `relayUp()`. */
  async relayDown(): Promise<void> {
    const relay = this.#relay;
    this.#relay = undefined;
    await relay?.close();
  }

  /** A page in a new browser context (one profile) at `viewport`, watched, on the relay's page. */
  async page(label: string, viewport: Viewport, problems: string[]): Promise<Page> {
    const page = await (await this.browser.newContext({ viewport })).newPage();
    await watchProblems(page, label, problems);
    await page.goto(this.relay.url);
    return page;
  }

  /** `page`, then registers `label` on it. */
  async registeredPage(label: string, viewport: Viewport, problems: string[]): Promise<Page> {
    const page = await this.page(label, viewport, problems);
    await registerOn(page, label);
    return page;
  }

  async start(): Promise<void> {
    if (!this.executablePath) return;
    this.#web = await builtWeb(this.options.prefix);
    await this.relayUp();
    this.#browser = await launchChromium(this.executablePath);
  }
  async stop(): Promise<void> {
    await this.#browser?.close();
    await this.relayDown();
    this.#web?.remove();
  }
}

/** A `BrowserSuite` for the calling test file, started before its tests and stopped after them. */
export function browserSuite(what: string, options: BrowserSuiteOptions): BrowserSuite {
  const suite = new BrowserSuite(what, options);
  beforeAll(() => suite.start(), 120_000);
  afterAll(() => suite.stop());
  return suite;
}

export type Viewport = { width: number; height: number };
export const PHONE: Viewport = { width: 390, height: 844 };
export const DESKTOP: Viewport = { width: 1280, height: 800 };
/** For `describe.each`: every flow runs at a phone width and at a desktop width. */
export const WIDTHS: [string, Viewport][] = [
  ['phone', PHONE],
  ['desktop', DESKTOP],
];

/** Screenshots go here (git-ignored; CI keeps the folder as an artifact). */
export const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url));

/**
 * Chromium's own network lines ("Failed to load resource", a refused WebSocket) are not the app's:
 * they come with every request the relay answers with 4xx or that cannot connect, which some flows
 * cause on purpose, and a page cannot suppress them.
 */
const NETWORK_LINE = /^Failed to load resource|^WebSocket connection to .* failed/;

/**
 * Records the page's uncaught errors, the app's console errors and every Content-Security-Policy
 * violation (the relay serves the app under a strict policy: anything it blocks is a problem) into
 * `problems`.
 */
export async function watchProblems(page: Page, label: string, problems: string[]): Promise<void> {
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.effectiveDirective} blocked ${e.blockedURI || 'inline'}`);
    });
  });
  page.on('pageerror', (e) => problems.push(`${label}: uncaught ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !NETWORK_LINE.test(m.text())) problems.push(`${label}: console ${m.text()}`);
  });
}

/**
 * Saves a screenshot as test/artifacts/<shot>.png and checks the layout: nothing wider than the
 * window, the page itself no taller than it, and (in a chat) the composer inside the viewport.
 */
export async function checkLayout(page: Page, shot: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${shot}.png`) });
  const m = await page.evaluate(() => {
    const doc = document.documentElement;
    const composer = document.querySelector('[data-testid="composer-form"]')?.getBoundingClientRect();
    const list = document.querySelector('[data-testid="messages"]');
    return {
      scrollWidth: doc.scrollWidth,
      clientWidth: doc.clientWidth,
      scrollHeight: doc.scrollHeight,
      innerHeight: window.innerHeight,
      listScrollWidth: list?.scrollWidth ?? 0,
      listClientWidth: list?.clientWidth ?? 0,
      composer: composer ? { top: composer.top, bottom: composer.bottom } : undefined,
    };
  });
  expect(m.scrollWidth, `${shot}: horizontal overflow`).toBeLessThanOrEqual(m.clientWidth);
  expect(m.listScrollWidth, `${shot}: messages overflow`).toBeLessThanOrEqual(m.listClientWidth);
  expect(m.scrollHeight, `${shot}: the page itself grew`).toBeLessThanOrEqual(m.innerHeight);
  if (m.composer) {
    expect(m.composer.top, `${shot}: composer above the viewport`).toBeGreaterThanOrEqual(0);
    expect(m.composer.bottom, `${shot}: composer below the viewport`).toBeLessThanOrEqual(m.innerHeight);
  }
}

/**
 * On a phone an open chat or screen replaces the chat list: its back button shows the list again
 * (from the encryption screen: back to the chat, then back to the list).
 * On a desktop the list is always there.
 */
export async function showChatList(page: Page): Promise<void> {
  if (await page.locator('#sidebar').isVisible()) return;
  // The encryption screen goes back to its chat first.
  const safetyBack = page.locator('[data-testid="safety-back"]:visible');
  if ((await safetyBack.count()) > 0) await safetyBack.click();
  await page.locator('[data-testid="back"]:visible').click();
  await page.locator('#sidebar').waitFor({ state: 'visible' });
}

/** Clicks a chat, group or button of the chat list (`contact-bob`, `open-devices`, …). */
export async function openFromList(page: Page, testid: string, timeout = 15_000): Promise<void> {
  await showChatList(page);
  await page.getByTestId(testid).click({ timeout });
}

export const waitConnected = (page: Page, timeout = 20_000) =>
  expect.poll(() => page.getByTestId('connection').textContent(), { timeout }).toBe('connected');

/** Registers `name` on the page's welcome screen and waits for the relay connection. */
export async function registerOn(page: Page, name: string): Promise<void> {
  await page.getByTestId('register-name').fill(name);
  await page.getByTestId('register-submit').click();
  await waitConnected(page);
}

/** Adds a contact by exact name (the relay lists no one, so nobody appears by themselves). */
export async function addContact(page: Page, name: string): Promise<void> {
  await showChatList(page);
  await page.getByTestId('add-contact-name').fill(name);
  await page.getByTestId('add-contact-submit').click();
  await expect
    .poll(() => page.getByTestId('add-contact-status').textContent(), { timeout: 15_000 })
    .toBe(`added ${name}`);
}

export async function say(page: Page, text: string): Promise<void> {
  await page.getByTestId('composer').fill(text);
  await page.getByTestId('send').click();
}

export const messages = (page: Page) => page.getByTestId('message').allTextContents();

/** A real PNG (encoded by pngjs) of the given size in one colour. */
export function solidPng(width: number, height: number, rgba: readonly number[]): Buffer {
  const image = new PNG({ width, height });
  for (let i = 0; i < width * height; i++) image.data.set(rgba, i * 4);
  return PNG.sync.write(image);
}
