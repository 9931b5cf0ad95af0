/**
 * Runs inside Chromium (bundled by esbuild, see build.ts): the store conformance suites with a tiny
 * describe/it/expect, a counter incremented by read-modify-write transactions (with or without the
 * Web Lock), and the at-rest check over a raw dump of IndexedDB.
 */
import { E2eeError, utf8, WebLocksManager } from '@e2ee-kit/core';
import * as ratchet from '@e2ee-kit/ratchet';
import * as senderKeys from '@e2ee-kit/sender-keys';
import { deleteIdbDatabase, IdbBackend, IndexedDbStore, openIdbDatabase } from '@e2ee-kit/store-indexeddb';
import { countLeaks, fillWithSecrets, runKvStoreConformance } from '@e2ee-kit/store-kv/testing';
import { deferred } from '../../../../tools/deferred.js';

type Test = { name: string; fn: () => Promise<void> };

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length || Array.isArray(a) !== Array.isArray(b)) return false;
  return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function expect(actual: unknown) {
  const fail = (what: string) => {
    throw new Error(`expected ${String(actual)} ${what}`);
  };
  return {
    toBe: (e: unknown) => (Object.is(actual, e) ? undefined : fail(`to be ${String(e)}`)),
    toEqual: (e: unknown) => (deepEqual(actual, e) ? undefined : fail(`to equal ${JSON.stringify(e)}`)),
    toBeNull: () => (actual === null ? undefined : fail('to be null')),
    toBeTruthy: () => (actual ? undefined : fail('to be truthy')),
    toBeUndefined: () => (actual === undefined ? undefined : fail('to be undefined')),
  };
}

let n = 0;
async function conformance(): Promise<{ passed: number; failed: string[] }> {
  const tests: Test[] = [];
  const prefix: string[] = [];
  const describe = (name: string, fn: () => void) => {
    prefix.push(name);
    fn();
    prefix.pop();
  };
  const it = (name: string, fn: () => Promise<void>) =>
    tests.push({ name: [...prefix, name].join(' > '), fn });
  const api = { describe, it, expect };
  describe('plain', () =>
    runKvStoreConformance(api, (o) => IndexedDbStore.open(`conf-${n++}`, o), { ratchet, senderKeys }));
  describe('sealed', () =>
    runKvStoreConformance(
      api,
      (o) => IndexedDbStore.open(`conf-${n++}`, { ...o, encryptionKey: new Uint8Array(32).fill(2) }),
      { ratchet, senderKeys },
    ));
  let passed = 0;
  const failed: string[] = [];
  for (const t of tests) {
    try {
      await t.fn();
      passed++;
    } catch (err) {
      failed.push(`${t.name}: ${(err as Error)?.stack ?? String(err)}`);
    }
  }
  return { passed, failed };
}

/** `times` read-modify-write increments of one counter row; returns the values this page wrote. */
async function count(dbName: string, times: number, useLock: boolean): Promise<number[]> {
  const store = await IndexedDbStore.open(dbName);
  const locks = new WebLocksManager({ prefix: `${dbName}:` });
  const seen: number[] = [];
  const step = () =>
    store.transaction(async (tx) => {
      const cur = Number(new TextDecoder().decode((await tx.app.get('counter')) ?? utf8('0')));
      // Real async work between the read and the write, as a decrypt has.
      await crypto.subtle.digest('SHA-256', new Uint8Array(64));
      await tx.app.put('counter', utf8(String(cur + 1)));
      return cur + 1;
    });
  for (let i = 0; i < times; i++) seen.push(useLock ? await locks.run('counter', step) : await step());
  store.db.close();
  return seen;
}

async function readCounter(dbName: string): Promise<number> {
  const store = await IndexedDbStore.open(dbName);
  const v = Number(new TextDecoder().decode((await store.app.get('counter')) ?? utf8('0')));
  store.db.close();
  return v;
}

/** Every raw value and key in database `name` (what a copied profile directory holds). */
async function rawDump(db: IDBDatabase): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  await new Promise<void>((resolve, reject) => {
    const req = db.transaction('kv', 'readonly').objectStore('kv').openCursor();
    req.onsuccess = () => {
      const c = req.result;
      if (!c) return resolve();
      out.push(new Uint8Array(c.value as Uint8Array), utf8(JSON.stringify(c.key)));
      c.continue();
    };
    req.onerror = () => reject(req.error);
  });
  return out;
}

async function atRest(): Promise<{ sealedLeaks: number; plainLeaks: number }> {
  const sealed = await IndexedDbStore.open('at-rest-sealed', {
    ratchet,
    senderKeys,
    encryptionKey: new Uint8Array(32).fill(7),
  });
  const sealedSecrets = await fillWithSecrets(sealed);
  const sealedLeaks = countLeaks(await rawDump(sealed.db), sealedSecrets);
  const plain = await IndexedDbStore.open('at-rest-plain', { ratchet, senderKeys });
  const plainSecrets = await fillWithSecrets(plain);
  const plainLeaks = countLeaks(await rawDump(plain.db), plainSecrets);
  return { sealedLeaks, plainLeaks };
}

/** Fills a store in database `name` and returns its secrets (hex) for a search of the profile on disk. */
async function fillForDisk(name: string, sealed: boolean): Promise<string[]> {
  const store = await IndexedDbStore.open(name, {
    ratchet,
    senderKeys,
    ...(sealed ? { encryptionKey: new Uint8Array(32).fill(8) } : {}),
  });
  const secrets = await fillWithSecrets(store);
  store.db.close();
  return secrets.map((b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(''));
}

/** Runs `count` in a dedicated worker of this origin (the same bundle, started as a module worker). */
function countInWorker(dbName: string, times: number, useLock: boolean): Promise<number[]> {
  const worker = new Worker('/page.js', { type: 'module' });
  return new Promise((resolve, reject) => {
    worker.onmessage = (ev: MessageEvent<{ values?: number[]; error?: string }>) => {
      worker.terminate();
      if (ev.data.values) resolve(ev.data.values);
      else reject(new Error(ev.data.error));
    };
    worker.onerror = (ev) => reject(new Error(ev.message));
    worker.postMessage({ dbName, times, useLock });
  });
}

const ALICE = { name: 'alice', deviceId: 1 };
const BOB = { name: 'bob', deviceId: 1 };

/** Alice (database `<prefix>-alice`) starts a session with Bob (`<prefix>-bob`); run in one page. */
async function sessionSetup(prefix: string): Promise<void> {
  const alice = await IndexedDbStore.open(`${prefix}-alice`, { ratchet, senderKeys });
  const bob = await IndexedDbStore.open(`${prefix}-bob`, { ratchet, senderKeys });
  await new ratchet.SessionCipher(alice.protocol, BOB).initiate(
    await ratchet.createPreKeyBundle(bob.protocol, { deviceId: 1 }),
  );
  alice.db.close();
  bob.db.close();
}

/** A message as it crosses to the test: its type, bytes, and the counter it carries. */
type Sent = Awaited<ReturnType<ratchet.SessionCipher['encrypt']>>;
const wire = (m: Sent) => ({
  type: m.type,
  body: [...m.body],
  counter:
    m.type === 'prekey'
      ? ratchet.PreKeySignalMessage.deserialize(m.body).message.counter
      : ratchet.SignalMessage.deserialize(m.body).counter,
});

/**
 * This page's own store object over Alice's database and its own `SessionCipher` to Bob, encrypting
 * `times` messages; with `useLock`, under a `WebLocksManager` (the same lock names in every page).
 * Returns the messages (type, bytes, the counter they carry).
 */
async function sessionSend(prefix: string, tag: string, times: number, useLock: boolean) {
  const alice = await IndexedDbStore.open(`${prefix}-alice`, { ratchet, senderKeys });
  const cipher = new ratchet.SessionCipher(
    alice.protocol,
    BOB,
    useLock ? { lockManager: new WebLocksManager({ prefix: `${prefix}-alice:` }) } : {},
  );
  const out: { type: 'prekey' | 'whisper'; body: number[]; counter: number }[] = [];
  // Without the shared lock the other page may commit the session first: that encrypt fails with a
  // StoreError (nothing sent, nothing stored) and the app sends again, as this loop does.
  let retries = 0;
  for (let i = 0; i < times; i++) {
    let m: Awaited<ReturnType<typeof cipher.encrypt>>;
    for (;;) {
      try {
        m = await cipher.encrypt(utf8(`${tag} ${i}`));
        break;
      } catch (err) {
        if (!E2eeError.is(err, 'STORE') || ++retries > 20 * times) throw err;
      }
    }
    out.push(wire(m));
  }
  alice.db.close();
  return { messages: out, retries };
}

/** An encrypt whose transaction the test holds open between its read of the session and its commit. */
const heldSend: { release?: () => void; outcome?: Promise<string>; prefix?: string } = {};

/** Starts that encrypt in this page (default in-process lock); returns the counter it encrypted with. */
async function holdSend(prefix: string): Promise<number> {
  const alice = await IndexedDbStore.open(`${prefix}-alice`, { ratchet, senderKeys });
  const gate = deferred();
  const encrypted = deferred();
  let counter = -1;
  heldSend.prefix = prefix;
  heldSend.release = gate.resolve;
  // A cipher over tx.protocol joins this transaction: its session write commits when this callback
  // returns, after the test released it.
  heldSend.outcome = alice
    .transaction(async (tx) => {
      counter = wire(await new ratchet.SessionCipher(tx.protocol, BOB).encrypt(utf8('held'))).counter;
      encrypted.resolve();
      await gate.promise;
    })
    .then(
      () => 'committed',
      (e: unknown) => String((e as { code?: string }).code),
    )
    .finally(() => alice.db.close());
  await Promise.race([encrypted.promise, heldSend.outcome]);
  return counter;
}

/** Lets the held encrypt commit; how it ended, and (the app's retry) one more message sent. */
async function releaseSend() {
  heldSend.release?.();
  const outcome = await heldSend.outcome;
  const alice = await IndexedDbStore.open(`${heldSend.prefix}-alice`, { ratchet, senderKeys });
  const again = wire(await new ratchet.SessionCipher(alice.protocol, BOB).encrypt(utf8('held, again')));
  alice.db.close();
  return { outcome, again };
}

/** Bob decrypts every message (any order); returns how many decrypted and the distinct plaintexts. */
async function sessionReceive(prefix: string, messages: { type: 'prekey' | 'whisper'; body: number[] }[]) {
  const bob = await IndexedDbStore.open(`${prefix}-bob`, { ratchet, senderKeys });
  const cipher = new ratchet.SessionCipher(bob.protocol, ALICE);
  const texts = new Set<string>();
  let failed = 0;
  for (const m of messages) {
    try {
      const { plaintext } = await cipher.decrypt({ type: m.type, body: Uint8Array.from(m.body) });
      texts.add(new TextDecoder().decode(plaintext));
    } catch {
      failed++;
    }
  }
  bob.db.close();
  return { delivered: texts.size, failed };
}

/** A store kept open in this page, and the version changes it was told of. */
const held: { store?: Awaited<ReturnType<typeof IndexedDbStore.open>>; events: number[] } = { events: [] };

async function holdOpen(dbName: string): Promise<void> {
  held.store = await IndexedDbStore.open(dbName, {
    ratchet,
    onVersionChange: (ev) => held.events.push(ev.oldVersion),
  });
  await held.store.app.put('x', utf8('1'));
}

/** The held store after another page deleted its database: the events seen and what a read gives. */
async function heldAfterChange(): Promise<{ events: number[]; read: string }> {
  const read = await (held.store as NonNullable<typeof held.store>).app.get('x').then(
    () => 'ok',
    (e: unknown) => `${(e as { code?: string }).code}: ${(e as Error).message}`,
  );
  return { events: held.events, read };
}

/** Deletes `dbName` as another tab: 'deleted', or 'blocked' when an open connection holds it. */
function deleteDatabase(dbName: string): Promise<string> {
  return new Promise((resolve) => {
    const req = indexedDB.deleteDatabase(dbName);
    req.onsuccess = () => resolve('deleted');
    req.onerror = () => resolve(`error ${String(req.error)}`);
    req.onblocked = () => resolve('blocked');
  });
}

/** A connection like a tab of a release before onVersionChange keeps: it never closes by itself. */
let raw: IDBDatabase | undefined;
async function holdRaw(dbName: string): Promise<void> {
  const store = await IndexedDbStore.open(dbName, { ratchet });
  await store.app.put('x', utf8('kept'));
  store.db.close();
  raw = await new Promise<IDBDatabase>((resolve, reject) => {
    const req = indexedDB.open(dbName, 1);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function closeRaw(): void {
  raw?.close();
}

/** This page's deleteIdbDatabase, running until it resolves; `startDelete` returns once it is blocked. */
let deletion: Promise<string> | undefined;
function startDelete(dbName: string): Promise<string> {
  return new Promise((blocked) => {
    deletion = deleteIdbDatabase(dbName, { onBlocked: () => blocked('blocked') }).then(
      () => 'deleted',
      (e: unknown) => `${(e as { code?: string }).code}: ${(e as Error).message}`,
    );
    deletion.then(blocked);
  });
}

const deletionDone = (): Promise<string | undefined> => deletion ?? Promise.resolve(undefined);

/** Opens the store: what app row `x` holds ('ok …'), or the error's code and message. */
async function tryOpen(dbName: string, openTimeoutMs?: number): Promise<string> {
  try {
    const store = await IndexedDbStore.open(dbName, { ratchet, ...(openTimeoutMs ? { openTimeoutMs } : {}) });
    const x = await store.app.get('x');
    store.db.close();
    return `ok ${x ? new TextDecoder().decode(x) : 'none'}`;
  } catch (e) {
    return `${(e as { code?: string }).code}: ${(e as Error).message}`;
  }
}

/** The version a raw open of `dbName` upgrades from (0: there was no database), then closes it. */
function rawOldVersion(dbName: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let from = -1;
    const req = indexedDB.open(dbName);
    req.onupgradeneeded = (ev) => (from = ev.oldVersion);
    req.onsuccess = () => {
      req.result.close();
      resolve(from === -1 ? req.result.version : from);
    };
    req.onerror = () => reject(req.error);
  });
}

/**
 * A compare-and-set commit against a session row edited by hand to a non-byte value: how it ended,
 * and how many uncaught exceptions the page saw meanwhile (one thrown in an IndexedDB event handler
 * aborts the transaction but is also reported to the page as uncaught).
 */
async function compareWithEdited(
  dbName: string,
): Promise<{ outcome: string; uncaught: number; kept: string }> {
  const db = await openIdbDatabase(dbName);
  const backend = new IdbBackend(db);
  await backend.commit([{ table: 'session', key: 'bob.1', value: utf8('old') }]);
  await new Promise<void>((resolve) => {
    const tx = db.transaction('kv', 'readwrite');
    tx.objectStore('kv').put({ edited: true }, ['session', 'bob.1']);
    tx.oncomplete = () => resolve();
  });
  let uncaught = 0;
  const onError = (ev: Event) => {
    uncaught++;
    ev.preventDefault();
  };
  globalThis.addEventListener('error', onError);
  const outcome = await backend
    .commit([
      { table: 'app', key: 'y', value: utf8('half') },
      { table: 'session', key: 'bob.1', value: utf8('new'), ifValue: utf8('old') },
    ])
    .then(
      () => 'committed',
      (e: unknown) => String((e as { code?: string }).code),
    );
  // Nothing to wait for: an exception in an event handler is reported while the event is dispatched,
  // before the transaction's abort event that rejected the commit.
  globalThis.removeEventListener('error', onError);
  const kept = (await backend.get('app', 'y')) === undefined ? 'y absent' : 'y written';
  db.close();
  return { outcome, uncaught, kept };
}

Object.assign(globalThis, {
  storeTests: {
    compareWithEdited,
    holdRaw,
    holdSend,
    releaseSend,
    closeRaw,
    startDelete,
    deletionDone,
    tryOpen,
    rawOldVersion,
    holdOpen,
    heldAfterChange,
    deleteDatabase,
    conformance,
    count,
    countInWorker,
    readCounter,
    atRest,
    fillForDisk,
    sessionSetup,
    sessionSend,
    sessionReceive,
  },
});
if (typeof document !== 'undefined') {
  document.title = 'ready';
} else {
  // Inside a worker: one request, one answer.
  const scope = globalThis as unknown as {
    onmessage: ((ev: MessageEvent<{ dbName: string; times: number; useLock: boolean }>) => void) | null;
    postMessage(message: unknown): void;
  };
  scope.onmessage = (ev) => {
    count(ev.data.dbName, ev.data.times, ev.data.useLock).then(
      (values) => scope.postMessage({ values }),
      (err: unknown) => scope.postMessage({ error: String(err) }),
    );
  };
}
