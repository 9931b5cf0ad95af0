/**
 * The IndexedDB store in Debian's Chromium (playwright-core, no browser download): every conformance
 * suite, at-rest encryption over a raw IndexedDB dump and over the profile directory on disk, and
 * two pages of one origin sharing one database incrementing one counter 200 times each — under the
 * Web Lock no value repeats and none is lost (also for a page and a dedicated worker); without it
 * updates are lost (so the check can fail).
 *
 * Skipped with one line when Chromium is missing (CI installs the `chromium` apt package).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromHex } from '@e2ee-kit/core';
import { countLeaks } from '@e2ee-kit/store-kv/testing';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS, findChromium } from '../../../tools/chromium.js';
import { bundlePage } from './browser/build.js';

const executablePath = findChromium();
if (!executablePath) console.log('store-indexeddb Chromium test skipped: `which chromium` found nothing');

let server: Server;
let browser: Browser;
let context: BrowserContext;
let origin: string;

beforeAll(async () => {
  if (!executablePath) return;
  const js = await bundlePage();
  server = createServer((req, res) => {
    if (req.url === '/page.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
      return;
    }
    res
      .writeHead(200, { 'content-type': 'text/html' })
      .end('<!doctype html><script type="module" src="/page.js"></script>');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await chromium.launch({
    executablePath,
    headless: true,
    args: [...CHROMIUM_ARGS],
  });
  // One context = one profile: its pages share the origin's IndexedDB and Web Locks, like two tabs.
  context = await browser.newContext();
});

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
});

async function openPage(): Promise<Page> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(origin);
  await page.waitForFunction(() => document.title === 'ready', undefined, { timeout: 30_000 });
  expect(errors).toEqual([]);
  return page;
}

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? listFiles(p) : [p];
  });
}

type Api = {
  storeTests: {
    conformance(): Promise<{ passed: number; failed: string[] }>;
    count(db: string, times: number, lock: boolean): Promise<number[]>;
    countInWorker(db: string, times: number, lock: boolean): Promise<number[]>;
    readCounter(db: string): Promise<number>;
    atRest(): Promise<{ sealedLeaks: number; plainLeaks: number }>;
    fillForDisk(name: string, sealed: boolean): Promise<string[]>;
    sessionSetup(prefix: string): Promise<void>;
    sessionSend(
      prefix: string,
      tag: string,
      times: number,
      lock: boolean,
    ): Promise<{ messages: Wire[]; retries: number }>;
    sessionReceive(prefix: string, messages: Wire[]): Promise<{ delivered: number; failed: number }>;
    holdOpen(db: string): Promise<void>;
    heldAfterChange(): Promise<{ events: number[]; read: string }>;
    deleteDatabase(db: string): Promise<string>;
    holdRaw(db: string): Promise<void>;
    compareWithEdited(db: string): Promise<{ outcome: string; uncaught: number; kept: string }>;
    holdSend(prefix: string): Promise<number>;
    releaseSend(): Promise<{ outcome: string; again: Wire }>;
    closeRaw(): void;
    startDelete(db: string): Promise<string>;
    deletionDone(): Promise<string | undefined>;
    tryOpen(db: string, openTimeoutMs?: number): Promise<string>;
    rawOldVersion(db: string): Promise<number>;
  };
};
type Wire = { type: 'prekey' | 'whisper'; body: number[]; counter: number };

/** Two pages of the origin increment counter `db` 200 times each, at the same time. */
async function twoPagesCount(db: string, lock: boolean) {
  const [p1, p2] = [await openPage(), await openPage()];
  const run = (p: Page) =>
    p.evaluate(([name, l]) => (globalThis as unknown as Api).storeTests.count(name, 200, l), [
      db,
      lock,
    ] as const);
  const [a, b] = await Promise.all([run(p1), run(p2)]);
  return { p1, p2, a, b };
}

/** Whether two contexts' values interleave: neither ran wholly before the other. */
const interleave = (a: number[], b: number[]) =>
  Math.min(...b) < Math.max(...a) && Math.min(...a) < Math.max(...b);

/**
 * Runs a two-context check up to 5 times until one run interleaved (returned true): every run's own
 * assertions apply, but one run is not certain to overlap — the scheduler may serialize the two
 * contexts, which says nothing about the store.
 */
async function untilInterleaved(run: (i: number) => Promise<boolean>): Promise<boolean[]> {
  const seen: boolean[] = [];
  for (let i = 0; i < 5 && !seen.includes(true); i++) seen.push(await run(i));
  return seen;
}

describe.runIf(executablePath)('IndexedDbStore in Chromium', () => {
  it('passes every conformance suite (plain and sealed)', async () => {
    const page = await openPage();
    const r = await page.evaluate(() => (globalThis as unknown as Api).storeTests.conformance());
    expect(r.failed).toEqual([]);
    expect(r.passed).toBeGreaterThan(50);
    await page.close();
  });

  it('a raw IndexedDB dump of a sealed store holds no run of any private key; unsealed does', async () => {
    const page = await openPage();
    const r = await page.evaluate(() => (globalThis as unknown as Api).storeTests.atRest());
    expect(r.sealedLeaks).toBe(0);
    expect(r.plainLeaks).toBeGreaterThan(100);
    await page.close();
  });

  it('the profile directory on disk: no run of any private key of a sealed store; a plain one leaks', async () => {
    // A persistent profile, two origins (so each has its own LevelDB), closed before its files are read.
    const userDataDir = mkdtempSync(join(tmpdir(), 'e2ee-idb-profile-'));
    try {
      const ctx = await chromium.launchPersistentContext(userDataDir, {
        executablePath: executablePath as string,
        headless: true,
        args: [...CHROMIUM_ARGS],
      });
      const fill = async (base: string, sealed: boolean) => {
        const page = await ctx.newPage();
        await page.goto(base);
        await page.waitForFunction(() => document.title === 'ready', undefined, { timeout: 30_000 });
        return page.evaluate(([s]) => (globalThis as unknown as Api).storeTests.fillForDisk('disk', s), [
          sealed,
        ] as const);
      };
      const sealedSecrets = await fill(origin, true);
      const plainSecrets = await fill(origin.replace('127.0.0.1', 'localhost'), false);
      await ctx.close();
      const dirs = readdirSync(join(userDataDir, 'Default', 'IndexedDB'));
      const filesOf = (host: string) =>
        dirs
          .filter((d) => d.includes(host))
          .flatMap((d) => listFiles(join(userDataDir, 'Default', 'IndexedDB', d)));
      const bytes = (files: string[]) => files.map((f) => new Uint8Array(readFileSync(f)));
      const sealedFiles = bytes(filesOf('127.0.0.1'));
      const plainFiles = bytes(filesOf('localhost'));
      expect(sealedFiles.length).toBeGreaterThan(0);
      expect(plainFiles.length).toBeGreaterThan(0);
      expect(countLeaks(sealedFiles, sealedSecrets.map(fromHex))).toBe(0);
      expect(countLeaks(plainFiles, plainSecrets.map(fromHex))).toBeGreaterThan(0);
    } finally {
      rmSync(userDataDir, { recursive: true, force: true });
    }
  });

  it('another tab deleting the database is not blocked: the open store closes, is told, fails typed', async () => {
    const [p1, p2] = [await openPage(), await openPage()];
    await p1.evaluate(() => (globalThis as unknown as Api).storeTests.holdOpen('deleted-by-p2'));
    const deleted = await p2.evaluate(() =>
      (globalThis as unknown as Api).storeTests.deleteDatabase('deleted-by-p2'),
    );
    expect(deleted).toBe('deleted');
    const after = await p1.evaluate(() => (globalThis as unknown as Api).storeTests.heldAfterChange());
    expect(after.events).toEqual([1]);
    expect(after.read).toMatch(/^STORE: .*connection is closed/);
    await Promise.all([p1.close(), p2.close()]);
  });

  it('an open in a third tab while a deletion waits for an old tab is refused typed; the deletion completes once it closes', async () => {
    const [old, deleter, opener] = [await openPage(), await openPage(), await openPage()];
    const db = 'deleted-while-blocked';
    await old.evaluate((name) => (globalThis as unknown as Api).storeTests.holdRaw(name), db);
    expect(
      await deleter.evaluate((name) => (globalThis as unknown as Api).storeTests.startDelete(name), db),
    ).toBe('blocked');
    // Before: this open queued behind the deletion until the old tab closed, then made a new database.
    const refused = await opener.evaluate(
      (name) => (globalThis as unknown as Api).storeTests.tryOpen(name),
      db,
    );
    expect(refused).toMatch(/^STORE: .*being deleted/);
    await old.evaluate(() => (globalThis as unknown as Api).storeTests.closeRaw());
    expect(await deleter.evaluate(() => (globalThis as unknown as Api).storeTests.deletionDone())).toBe(
      'deleted',
    );
    expect(await opener.evaluate((name) => (globalThis as unknown as Api).storeTests.tryOpen(name), db)).toBe(
      'ok none',
    );
    await Promise.all([old.close(), deleter.close(), opener.close()]);
  });

  it("an open behind another tab's raw deleteDatabase that an old tab blocks is refused typed after openTimeoutMs, and creates nothing", async () => {
    const [old, deleter, opener] = [await openPage(), await openPage(), await openPage()];
    const db = 'raw-deleted-while-blocked';
    await old.evaluate((name) => (globalThis as unknown as Api).storeTests.holdRaw(name), db);
    // Not deleteIdbDatabase: no Web Lock tells the opener that a deletion waits.
    expect(
      await deleter.evaluate((name) => (globalThis as unknown as Api).storeTests.deleteDatabase(name), db),
    ).toBe('blocked');
    // Before: this open waited as long as the old tab lived, then made a new, empty database.
    const refused = await opener.evaluate(
      (name) => (globalThis as unknown as Api).storeTests.tryOpen(name, 300),
      db,
    );
    expect(refused).toMatch(/^STORE: .*did not open within 300 ms/);
    await old.evaluate(() => (globalThis as unknown as Api).storeTests.closeRaw());
    // Queued after the deletion and the refused open: the database is gone and that open made none.
    expect(
      await opener.evaluate((name) => (globalThis as unknown as Api).storeTests.rawOldVersion(name), db),
    ).toBe(0);
    await Promise.all([old.close(), deleter.close(), opener.close()]);
  });

  it('a compare-and-set against a row edited to a non-byte value aborts typed, with no uncaught exception', async () => {
    const page = await openPage();
    const r = await page.evaluate(() =>
      (globalThis as unknown as Api).storeTests.compareWithEdited('edited-cas'),
    );
    expect(r).toEqual({ outcome: 'STORE', uncaught: 0, kept: 'y absent' });
    await page.close();
  });

  it('two pages, one database: under the Web Lock 400 increments give 1..400, each once', async () => {
    const seen = await untilInterleaved(async (i) => {
      const db = `locked-${i}`;
      const { p1, p2, a, b } = await twoPagesCount(db, true);
      const all = [...a, ...b].sort((x, y) => x - y);
      expect([new Set(all).size, all[0], all[399]]).toEqual([400, 1, 400]);
      expect(
        await p1.evaluate((name) => (globalThis as unknown as Api).storeTests.readCounter(name), db),
      ).toBe(400);
      await Promise.all([p1.close(), p2.close()]);
      return interleave(a, b);
    });
    expect(seen).toContain(true);
  });

  it('a page and a dedicated worker, one database: under the Web Lock 1..400, each once', async () => {
    const seen = await untilInterleaved(async (i) => {
      const db = `with-worker-${i}`;
      const [p1, p2] = [await openPage(), await openPage()];
      const [a, b] = await Promise.all([
        p1.evaluate((name) => (globalThis as unknown as Api).storeTests.count(name, 200, true), db),
        p2.evaluate((name) => (globalThis as unknown as Api).storeTests.countInWorker(name, 200, true), db),
      ]);
      const all = [...a, ...b].sort((x, y) => x - y);
      expect([new Set(all).size, all[0], all[399]]).toEqual([400, 1, 400]);
      await Promise.all([p1.close(), p2.close()]);
      return interleave(a, b);
    });
    expect(seen).toContain(true);
  });

  // Two tabs, each with its own store object and SessionCipher over one IndexedDB, encrypt to the
  // same peer at once: with a WebLocksManager as the ciphers' lockManager no counter repeats and the
  // receiver reads every message; without it (the per-object default) counters repeat.
  async function twoPagesSend(prefix: string, lock: boolean) {
    const [p1, p2] = [await openPage(), await openPage()];
    await p1.evaluate(([x]) => (globalThis as unknown as Api).storeTests.sessionSetup(x), [prefix] as const);
    const send = (p: Page, tag: string) =>
      p.evaluate(([x, t, l]) => (globalThis as unknown as Api).storeTests.sessionSend(x, t, 100, l), [
        prefix,
        tag,
        lock,
      ] as const);
    const [sentA, sentB] = await Promise.all([send(p1, 'p1'), send(p2, 'p2')]);
    const [a, b] = [sentA.messages, sentB.messages];
    const all = [...a, ...b];
    const counters = all.map((m) => m.counter);
    const repeated = counters.length - new Set(counters).size;
    const received = await p1.evaluate(
      ([x, ms]) => (globalThis as unknown as Api).storeTests.sessionReceive(x, ms),
      [prefix, all] as const,
    );
    await Promise.all([p1.close(), p2.close()]);
    // Both pages really sent at the same time: their counters interleave.
    const interleaved = interleave(
      a.map((m) => m.counter),
      b.map((m) => m.counter),
    );
    return { repeated, received, total: all.length, interleaved, retries: sentA.retries + sentB.retries };
  }

  it('two pages, one IndexedDB, SessionCipher with WebLocksManager: 200 messages, no repeated counter, none lost', async () => {
    const seen = await untilInterleaved(async (i) => {
      const r = await twoPagesSend(`cipher-locked-${i}`, true);
      expect(r.total).toBe(200);
      expect(r.retries).toBe(0); // the shared lock serializes them: no commit is refused
      expect(r.repeated).toBe(0);
      expect(r.received).toEqual({ delivered: 200, failed: 0 });
      return r.interleaved;
    });
    expect(seen).toContain(true);
  });

  // Before the store compared session rows at commit, racing sends repeated counters (one message
  // key for two messages) and the receiver lost messages. The race is forced here, not hoped for: page
  // 1's encrypt has read the session and holds its transaction while page 2 sends three messages.
  it('the same two pages with the default in-process lock: a send that read the session before the other page committed is refused, sent again with a new counter', async () => {
    const prefix = 'cipher-held';
    const [p1, p2] = [await openPage(), await openPage()];
    await p1.evaluate(([x]) => (globalThis as unknown as Api).storeTests.sessionSetup(x), [prefix] as const);
    const heldCounter = await p1.evaluate(([x]) => (globalThis as unknown as Api).storeTests.holdSend(x), [
      prefix,
    ] as const);
    const sent = await p2.evaluate(
      ([x]) => (globalThis as unknown as Api).storeTests.sessionSend(x, 'p2', 3, false),
      [prefix] as const,
    );
    const { outcome, again } = await p1.evaluate(() =>
      (globalThis as unknown as Api).storeTests.releaseSend(),
    );
    const counters = sent.messages.map((m) => m.counter);
    // Both encrypted from the same chain state: the interleaving the test means happened.
    expect(counters[0]).toBe(heldCounter);
    // A store that lost page 2's update would commit this one: a second message under that key.
    expect(outcome).toBe('STORE');
    expect(new Set([...counters, again.counter]).size).toBe(4);
    expect(again.counter).toBeGreaterThan(Math.max(...counters));
    const delivered: Wire[] = [...sent.messages, again];
    const received = await p1.evaluate(
      ([x, ms]) => (globalThis as unknown as Api).storeTests.sessionReceive(x, ms),
      [prefix, delivered] as const,
    );
    expect(received).toEqual({ delivered: 4, failed: 0 });
    await Promise.all([p1.close(), p2.close()]);
  });

  // The same without holding anything: however the two pages happen to interleave, no counter repeats.
  it('the same two pages racing 200 sends without the shared lock: no counter repeats, none lost', async () => {
    const r = await twoPagesSend('cipher-unlocked', false);
    expect(r.total).toBe(200);
    expect(r.repeated).toBe(0);
    expect(r.received).toEqual({ delivered: 200, failed: 0 });
  });

  // A race is not certain in any one run (the scheduler may happen to serialize the two pages, as it
  // did once in CI): the control shows that updates *can* be lost, in at least one of a few runs.
  it('the same two pages without the lock lose updates (the check above can fail)', async () => {
    const runs: { final: number; repeated: number }[] = [];
    for (let i = 0; i < 5 && !runs.some((r) => r.final < 400 && r.repeated > 0); i++) {
      const db = `unlocked-${i}`;
      const { p1, p2, a, b } = await twoPagesCount(db, false);
      const final = await p1.evaluate(
        (name) => (globalThis as unknown as Api).storeTests.readCounter(name),
        db,
      );
      runs.push({ final, repeated: a.length + b.length - new Set([...a, ...b]).size });
      await Promise.all([p1.close(), p2.close()]);
    }
    expect(
      runs.some((r) => r.final < 400 && r.repeated > 0),
      JSON.stringify(runs),
    ).toBe(true);
  });
});
