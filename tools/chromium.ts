// Test-only: Debian's Chromium for browser tests (playwright-core with executablePath; never a download).
import { execFileSync } from 'node:child_process';

/** Path of the `chromium` binary, or `undefined` when it is not installed. */
export function findChromium(): string | undefined {
  try {
    return execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Flags for headless runs in containers; no background throttling, so two pages really run at once. */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--no-first-run',
];
