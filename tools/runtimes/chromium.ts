/**
 * Debian's Chromium (headless, never downloaded) through playwright-core: a page on an https origin
 * (a secure context, so Web Crypto is there) served by Playwright itself, no network. The page's
 * console is the runtime's stdout; an uncaught error is a "pageerror:" line.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { appRequire, checkOutput, isLastLine } from './scratch-app.js';

const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];
const ORIGIN = 'https://runtime.e2ee-kit.test';
// The flows take a few seconds here: a stuck run fails within a minute.
const WAIT_MS = 50_000;

// playwright-core loads from the scratch app, so only the few calls used are typed here.
interface Route {
  request(): { url(): string };
  fulfill(response: { body: string; contentType: string }): Promise<void>;
}
interface Page {
  on(event: 'console', listener: (message: { text(): string }) => void): void;
  on(event: 'pageerror', listener: (error: Error) => void): void;
  route(url: string, handler: (route: Route) => unknown): Promise<void>;
  goto(url: string): Promise<unknown>;
  waitForTimeout(ms: number): Promise<void>;
  workers(): { url(): string }[];
}
interface Browser {
  newPage(): Promise<Page>;
  version(): string;
  close(): Promise<void>;
}
interface Playwright {
  chromium: { launch(options: { executablePath: string; args: string[] }): Promise<Browser> };
}

export interface ChromiumRun {
  /** The page's body (served at /). */
  html: string;
  /** Scripts served by path (e.g. '/browser.js') from files in the scratch app. */
  scripts: Record<string, string>;
  /** A check on the page once the lines are in (e.g. that a worker ran them); a message when it fails. */
  inspect?: (page: Page) => string | undefined;
}

export async function runInChromium(runtime: string, run: ChromiumRun): Promise<boolean> {
  const executablePath = execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim();
  const { chromium: launcher } = appRequire()('playwright-core') as Playwright;
  const browser = await launcher.launch({ executablePath, args: CHROMIUM_FLAGS });
  try {
    const page = await browser.newPage();
    const lines: string[] = [];
    page.on('console', (m) => lines.push(m.text()));
    page.on('pageerror', (e) => lines.push(`pageerror: ${e.message}`));
    await page.route(`${ORIGIN}/**`, (route) => {
      const path = new URL(route.request().url()).pathname;
      const script = run.scripts[path];
      return script
        ? route.fulfill({ body: readFileSync(script, 'utf8'), contentType: 'text/javascript' })
        : route.fulfill({ body: run.html, contentType: 'text/html' });
    });
    await page.goto(`${ORIGIN}/`);
    const deadline = Date.now() + WAIT_MS;
    while (!lines.some(isLastLine) && Date.now() < deadline) await page.waitForTimeout(100);
    console.log(`chromium ${browser.version()}`);
    const problem = run.inspect?.(page);
    if (problem) console.error(`runtime ${runtime}: ${problem}`);
    return checkOutput(runtime, lines.join('\n')) && !problem;
  } finally {
    await browser.close();
  }
}
