/**
 * What the chat example's browser tests share: Debian's Chromium found on the PATH (never a
 * downloaded browser) and launched headless with the flags the project uses, the web client built
 * and served by a relay, and the few page steps every flow takes (register, add a contact, write).
 * Without Chromium each test file skips with one line saying so (CI installs the `chromium` package).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { buildWeb } from '../scripts/web.js';

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
