/**
 * The client killed between writes: Bob's SQLite file (main + WAL, what a crash leaves on disk) is
 * copied after every statement of every commit while he receives 1:1 texts (the first a PreKey
 * message) and a group (its announcement, the sender key, two group texts). Each copy is opened as
 * a restarted client, and the relay's redelivery is modelled at its worst — every envelope again, in
 * order, as if no acknowledgement had reached it. Every restart ends with each message stored
 * exactly once: none lost (its state and its text commit together or not at all), none duplicated
 * (a redelivered message whose state committed is recognised and dropped). The control, a store that
 * commits the protocol rows and the app's rows of a transaction separately, gets some wrong.
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type KvBackend, KvStore, type KvWrite, type Table } from '@e2ee-kit/store-kv';
import { SqliteBackend, SqliteStore } from '@e2ee-kit/store-sqlite';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Relay, silentLogger, startRelay } from '../../server/src/index.js';
import { ChatClient, type Envelope, type StoreOpener } from '../src/index.js';
import { memoryStore } from '../src/memory-store.js';

let relay: Relay;
const dir = mkdtempSync(join(tmpdir(), 'e2ee-chat-crash-'));
const databases: Database.Database[] = [];
beforeAll(async () => {
  relay = await startRelay({ logger: silentLogger });
});
afterAll(async () => {
  for (const db of databases) db.close();
  await relay.close();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Writes the protocol rows and the app's rows of one transaction as two commits, protocol first (the
 * control): a crash between them keeps a ratchet step whose message was never stored, and the
 * redelivered envelope cannot be decrypted again. (The other order would store a message whose
 * state did not commit; its redelivery decrypts again and is dropped as a copy of a stored message
 * id — see `ClientCore.storeText` — so it would not show the need for one commit.)
 */
class SplitBackend implements KvBackend {
  constructor(readonly inner: SqliteBackend) {}
  get(table: Table, key: string) {
    return this.inner.get(table, key);
  }
  list(table: Table) {
    return this.inner.list(table);
  }
  async commit(writes: readonly KvWrite[]): Promise<void> {
    await this.inner.commit(writes.filter((w) => w.table !== 'app'));
    await this.inner.commit(writes.filter((w) => w.table === 'app'));
  }
}

function sqlite(path: string, options: { onStatement?: () => void; split?: boolean } = {}): StoreOpener {
  const db = new Database(path);
  databases.push(db);
  const { onStatement, split = false } = options;
  const hook = onStatement ? { onStatement } : {};
  if (split) return (o) => KvStore.open(new SplitBackend(new SqliteBackend(db, hook)), o);
  return (o) => SqliteStore.open(db, { ...o, ...hook });
}

const texts = async (c: ChatClient, conversation: string) =>
  (await c.messages(conversation)).filter((m) => !m.system).map((m) => m.text);

/**
 * Bob receives the traffic with a copy of his files after every statement and every commit; each
 * copy is restarted and sent everything again. Returns how many restarts ended with other messages
 * than were sent, and how many messages the copies held before the redelivery.
 */
async function crashScenario(name: string, split: boolean) {
  const bobPath = join(dir, `${name}.sqlite`);
  let snapshotting = false;
  const snapshots: string[] = [];
  const snapshot = () => {
    if (!snapshotting) return;
    const p = join(dir, `${name}-${snapshots.length}.sqlite`);
    copyFileSync(bobPath, p);
    if (existsSync(`${bobPath}-wal`)) copyFileSync(`${bobPath}-wal`, `${p}-wal`);
    snapshots.push(p);
  };
  const serverUrl = relay.url;
  const bob = await ChatClient.register(name, {
    serverUrl,
    store: sqlite(bobPath, { onStatement: snapshot, split }),
  });
  const alice = await ChatClient.register(`${name}-alice`, { serverUrl, store: memoryStore() });
  await bob.addContact(alice.name);
  const dms = ['one', 'two', 'three'];
  for (const t of dms) await alice.sendText(name, t);
  const group = await alice.createGroup('g', [name]);
  const groupTexts = ['g-one', 'g-two'];
  for (const t of groupTexts) await alice.sendGroupText(group.id, t);
  const dm = `dm:${alice.name}`;

  const envelopes: Envelope[] = await bob.api.fetchQueued();
  expect(envelopes.length).toBeGreaterThanOrEqual(dms.length + groupTexts.length + 2);
  snapshotting = true;
  for (const env of envelopes) {
    await bob.receive(env);
    snapshot(); // and after each commit
  }
  snapshotting = false;
  expect(await texts(bob, dm)).toEqual(dms);
  expect(await texts(bob, `group:${group.id}`)).toEqual(groupTexts);
  expect(snapshots.length).toBeGreaterThan(envelopes.length * 2);

  let wrong = 0;
  const stages = new Set<number>();
  for (const path of snapshots) {
    const restarted = await ChatClient.open({ serverUrl, store: sqlite(path, { split }) });
    stages.add((await texts(restarted, dm)).length + (await texts(restarted, `group:${group.id}`)).length);
    for (const env of envelopes) await restarted.receive(env);
    const got = {
      dm: await texts(restarted, dm),
      group: await texts(restarted, `group:${group.id}`),
      notes: (await restarted.messages(dm)).filter((m) => m.system).map((m) => m.text),
    };
    if (JSON.stringify(got) !== JSON.stringify({ dm: dms, group: groupTexts, notes: [] })) wrong++;
  }
  return { wrong, stages: [...stages].sort((a, b) => a - b), copies: snapshots.length };
}

it('a client killed after any statement of any commit loses and duplicates no message', async () => {
  const atomic = await crashScenario('bob', false);
  expect(atomic.wrong).toBe(0);
  // The copies cover every stage, from nothing received to everything received.
  expect(atomic.stages).toEqual([0, 1, 2, 3, 4, 5]);
  // The control: the same traffic over a store committing protocol rows and app rows apart.
  const split = await crashScenario('dave', true);
  expect(split.wrong).toBeGreaterThan(0);
}, 120_000);
