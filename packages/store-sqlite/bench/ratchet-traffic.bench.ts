// The ratchet benchmark's two scenarios (one-way steady state, ping-pong) with Bob's store in a SQLite
// file (WAL; durability full and normal; sealed) next to the in-memory store and KvStore over memory,
// every message delivered atomically (`deliver` → tx.app.put). Prints ops/s and ratios.
// Run: npx tsx packages/store-sqlite/bench/ratchet-traffic.bench.ts   (BENCH_TIME_MS=<ms per task>)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ratchet from '@e2ee-kit/ratchet';
import { InMemoryProtocolStore } from '@e2ee-kit/ratchet/testing';
import * as senderKeys from '@e2ee-kit/sender-keys';
import { KvStore } from '@e2ee-kit/store-kv';
import { MemoryKvBackend } from '@e2ee-kit/store-kv/testing';
import { SqliteStore } from '@e2ee-kit/store-sqlite';
import Database from 'better-sqlite3';
import { benchTraffic } from '../../store-kv/bench/traffic.js';

const TIME = Number(process.env['BENCH_TIME_MS'] ?? 1000);
const dir = mkdtempSync(join(tmpdir(), 'e2ee-ratchet-sqlite-bench-'));
const opts = { ratchet, senderKeys };
const file = (name: string) => new Database(join(dir, `${name}.sqlite`));
try {
  await benchTraffic(
    [
      { name: 'in-memory', protocol: await InMemoryProtocolStore.create() },
      { name: 'KvStore(memory)', protocol: (await KvStore.open(new MemoryKvBackend(), opts)).protocol },
      { name: 'sqlite full', protocol: (await SqliteStore.open(file('full'), opts)).protocol },
      {
        name: 'sqlite normal',
        protocol: (await SqliteStore.open(file('normal'), { ...opts, durability: 'normal' })).protocol,
      },
      {
        name: 'sqlite full sealed',
        protocol: (
          await SqliteStore.open(file('sealed'), { ...opts, encryptionKey: new Uint8Array(32).fill(1) })
        ).protocol,
      },
    ],
    TIME,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
