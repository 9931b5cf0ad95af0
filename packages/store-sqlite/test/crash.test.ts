/**
 * Crash safety of the store itself: the database files (main + WAL, what a crash leaves on disk) are
 * copied after every statement inside each commit and after every commit, while real mixed traffic
 * (a PreKey message, whisper messages, group messages) is decrypted inside transactions that also
 * store the app's message. Every copy, opened as a database, holds exactly the rows after some whole
 * transaction — byte for byte — never a mix.
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAddress, utf8 } from '@e2ee-kit/core';
import * as ratchet from '@e2ee-kit/ratchet';
import { createPreKeyBundle, SessionCipher } from '@e2ee-kit/ratchet';
import { InMemoryProtocolStore } from '@e2ee-kit/ratchet/testing';
import * as senderKeys from '@e2ee-kit/sender-keys';
import { GroupCipher } from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';
import type { KvWrite } from '@e2ee-kit/store-kv';
import { KvStore } from '@e2ee-kit/store-kv';
import { SqliteBackend } from '@e2ee-kit/store-sqlite';
import Database from 'better-sqlite3';
import { afterAll, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'e2ee-store-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function dumpOf(path: string): string {
  const db = new Database(path, { readonly: false });
  try {
    const rows = db.prepare('SELECT t, k, hex(v) AS v FROM kv ORDER BY t, k').all() as {
      t: string;
      k: string;
      v: string;
    }[];
    return rows.map((r) => `${r.t}|${r.k}|${r.v}`).join('\n');
  } finally {
    db.close();
  }
}

/** Runs the traffic over `SqliteBackend` (or a non-atomic variant) and classifies every copy. */
async function crashScenario(name: string, atomic: boolean) {
  const path = join(dir, `${name}.sqlite`);
  const db = new Database(path);
  let snap = 0;
  const snapshots: { path: string; during: boolean }[] = [];
  const takeSnapshot = (during: boolean) => {
    const p = join(dir, `${name}-snap-${snap++}.sqlite`);
    copyFileSync(path, p);
    if (existsSync(`${path}-wal`)) copyFileSync(`${path}-wal`, `${p}-wal`);
    snapshots.push({ path: p, during });
  };
  const committed: string[] = [];
  class SnapshottingBackend extends SqliteBackend {
    override async commit(writes: readonly KvWrite[]): Promise<void> {
      if (atomic) await super.commit(writes);
      else autocommitEach(writes);
      committed.push(dumpOf(path));
      takeSnapshot(false);
    }
  }
  const backend = new SnapshottingBackend(db, { onStatement: () => takeSnapshot(true) });
  // The control: every write its own implicit transaction, as a store without a batch commit does.
  const put = db.prepare('INSERT OR REPLACE INTO kv (t, k, v) VALUES (?, ?, ?)');
  const del = db.prepare('DELETE FROM kv WHERE t = ? AND k = ?');
  const autocommitEach = (writes: readonly KvWrite[]) => {
    for (const w of writes) {
      if (w.value === null) del.run(w.table, w.key);
      else put.run(w.table, w.key, w.value);
      takeSnapshot(true);
    }
  };
  const store = await KvStore.open(backend, {
    ratchet,
    senderKeys,
    encryptionKey: new Uint8Array(32).fill(3),
  });

  const bob = createAddress('bob', 1);
  const alice = createAddress('alice', 1);
  const dist = '6a1b2c3d-0000-4000-8000-0000000000cc';
  const a = new SessionCipher(await InMemoryProtocolStore.create(), bob);
  await a.initiate(await createPreKeyBundle(store.protocol, { deviceId: 1 }));
  const groupSender = new GroupCipher(new InMemorySenderKeyStore());
  const skdm = await groupSender.createDistributionMessage(alice, dist);
  await store.transaction((tx) => new GroupCipher(tx.senderKeys).processDistributionMessage(alice, skdm));

  for (let i = 0; i < 40; i++) {
    const group = i % 3 === 2;
    const wire = group
      ? await groupSender.encrypt(alice, dist, utf8(`g${i}`))
      : await a.encrypt(utf8(`m${i}`));
    await store.transaction(async (tx) => {
      const plaintext = group
        ? (await new GroupCipher(tx.senderKeys).decrypt(alice, wire as Uint8Array)).plaintext
        : (
            await new SessionCipher(tx.protocol, alice).decrypt(
              wire as Parameters<SessionCipher['decrypt']>[0],
            )
          ).plaintext;
      await tx.app.put(`msg:${String(i).padStart(3, '0')}`, plaintext);
      await tx.app.put('count', utf8(String(i + 1)));
    });
  }
  db.close();

  const states = new Set(committed);
  const before = dumpOf(join(dir, `${name}-snap-0.sqlite`));
  let during = 0;
  let mixed = 0;
  for (const s of snapshots) {
    const d = dumpOf(s.path);
    if (s.during) during++;
    if (!states.has(d) && d !== before) mixed++;
  }
  const last = committed[committed.length - 1] ?? '';
  return {
    snapshots: snapshots.length,
    during,
    mixed,
    messages: last.split('\n').filter((l) => l.startsWith('app|')).length,
  };
}

it('every on-disk copy taken during 40 transactions of mixed traffic is a whole-transaction state', async () => {
  const r = await crashScenario('atomic', true);
  expect(r.snapshots).toBeGreaterThan(150);
  expect(r.during).toBeGreaterThan(100);
  expect(r.mixed).toBe(0);
  // The last state holds every message once (40 messages + the count row).
  expect(r.messages).toBe(41);
});

it('the control: the same traffic with one implicit transaction per write leaves mixed copies', async () => {
  const r = await crashScenario('per-write', false);
  expect(r.mixed).toBeGreaterThan(20);
});
