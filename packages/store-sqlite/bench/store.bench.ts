// Raw store throughput: save / get a session record of realistic size (a real session with 5 archived
// states), and a transaction of 3 writes (session + app message + resend row), for the SQLite store on
// a file (WAL, synchronous=FULL, plain and sealed) next to the in-memory ratchet store and KvStore over
// a memory backend. Prints ops/s and the ratio to the in-memory store.
// Run: pnpm --filter @e2ee-kit/store-sqlite bench   (BENCH_TIME_MS=<ms per task>)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAddress, utf8 } from '@e2ee-kit/core';
import * as ratchet from '@e2ee-kit/ratchet';
import { createPreKeyBundle, SessionCipher, type SessionRecord } from '@e2ee-kit/ratchet';
import { InMemoryProtocolStore } from '@e2ee-kit/ratchet/testing';
import * as senderKeys from '@e2ee-kit/sender-keys';
import { KvStore } from '@e2ee-kit/store-kv';
import { MemoryKvBackend } from '@e2ee-kit/store-kv/testing';
import { SqliteStore } from '@e2ee-kit/store-sqlite';
import Database from 'better-sqlite3';
import { Bench } from 'tinybench';
import { emitRows } from '../../../tools/bench/emit.js';

const TIME = Number(process.env['BENCH_TIME_MS'] ?? 1000);
const bob = createAddress('bob', 1);

async function realisticSession(): Promise<SessionRecord> {
  const store = await InMemoryProtocolStore.create();
  const cipher = new SessionCipher(store, bob);
  for (let i = 0; i < 6; i++) {
    const peer = await InMemoryProtocolStore.create();
    await cipher.initiate(await createPreKeyBundle(peer, { deviceId: 1 }));
  }
  const record = await store.getSession(bob);
  if (!record) throw new Error('no session');
  return record;
}

// Two different records, alternated: SQLite skips a write whose bytes are unchanged, which no real
// save is (every message changes the session).
const record = await realisticSession();
const record2 = await realisticSession();
let flip = 0;
const next = () => (flip++ % 2 ? record : record2);
const dir = mkdtempSync(join(tmpdir(), 'e2ee-store-bench-'));
const key = new Uint8Array(32).fill(1);
type Target = { name: string; protocol: ratchet.ProtocolStore; store?: KvStore };
const memory = await InMemoryProtocolStore.create();
const kvMemory = await KvStore.open(new MemoryKvBackend(), { ratchet, senderKeys });
const sqlitePlain = await SqliteStore.open(new Database(join(dir, 'plain.sqlite')), { ratchet, senderKeys });
const sqliteNormal = await SqliteStore.open(new Database(join(dir, 'normal.sqlite')), {
  ratchet,
  senderKeys,
  durability: 'normal',
});
const sqliteSealed = await SqliteStore.open(new Database(join(dir, 'sealed.sqlite')), {
  ratchet,
  senderKeys,
  encryptionKey: key,
});
const targets: Target[] = [
  { name: 'in-memory (ratchet/testing)', protocol: memory },
  { name: 'KvStore memory backend', protocol: kvMemory.protocol, store: kvMemory },
  { name: 'SQLite file', protocol: sqlitePlain.protocol, store: sqlitePlain },
  { name: 'SQLite file, durability normal', protocol: sqliteNormal.protocol, store: sqliteNormal },
  { name: 'SQLite file, sealed', protocol: sqliteSealed.protocol, store: sqliteSealed },
];

const bench = new Bench({ time: TIME });
let n = 0;
for (const t of targets) {
  await t.protocol.saveSession(bob, record);
  bench.add(`${t.name} | saveSession`, () => t.protocol.saveSession(bob, next()));
  bench.add(`${t.name} | getSession`, async () => {
    await t.protocol.getSession(bob);
  });
  const store = t.store;
  if (store)
    bench.add(`${t.name} | transaction of 3 writes`, () =>
      store.transaction(async (tx) => {
        await tx.protocol.saveSession(bob, next());
        await tx.app.put(`msg:${n}`, utf8('a message of the app, about 60 bytes long .........'));
        await tx.resend.apply({
          put: { id: `r${n++ % 100}`, savedAt: 1, record: new Uint8Array(300) },
          remove: [],
        });
      }),
    );
}
await bench.run();
rmSync(dir, { recursive: true, force: true });

console.log(
  `session record: ${record.serialize().length} bytes; ${TIME} ms per task; Node ${process.version}`,
);
const base = new Map<string, number>();
const rows = bench.tasks.map((task) => {
  const [target, op] = task.name.split(' | ') as [string, string];
  const hz = task.result?.state === 'completed' ? task.result.throughput.mean : Number.NaN;
  if (target.startsWith('in-memory')) base.set(op, hz);
  return { target, op, hz };
});
const txBase =
  rows.find((r) => r.target.startsWith('KvStore') && r.op.startsWith('transaction'))?.hz ?? Number.NaN;
for (const r of rows) {
  const ref = base.get(r.op) ?? txBase;
  const ratio = ref / r.hz;
  console.log(
    `${r.target.padEnd(32)} ${r.op.padEnd(26)} ${Math.round(r.hz).toString().padStart(9)} ops/s   ${ratio.toFixed(2)}× slower than ${base.has(r.op) ? 'in-memory' : 'KvStore memory'}`,
  );
}
emitRows(
  'store-sqlite',
  rows.map((r, i) => ({
    case: r.op,
    impl: r.target,
    medianMs: 1000 / r.hz,
    samples: (bench.tasks[i]!.result as { latency?: { samplesCount: number } }).latency?.samplesCount ?? 0,
  })),
);
