// The ratchet benchmark's two scenarios (one-way steady state, ping-pong) with Bob's store in
// IndexedDB — here fake-indexeddb in Node (an in-memory IndexedDB in JavaScript: it measures the
// store's own overhead, not a browser's disk) — next to the in-memory store, every message delivered
// atomically (`deliver` → tx.app.put). Prints ops/s and ratios.
// Run: npx tsx packages/store-indexeddb/bench/ratchet-traffic.bench.ts   (BENCH_TIME_MS=<ms per task>)
import * as ratchet from '@e2ee-kit/ratchet';
import { InMemoryProtocolStore } from '@e2ee-kit/ratchet/testing';
import * as senderKeys from '@e2ee-kit/sender-keys';
import { IndexedDbStore } from '@e2ee-kit/store-indexeddb';
import { indexedDB } from 'fake-indexeddb';
import { benchTraffic } from '../../store-kv/bench/traffic.js';

const TIME = Number(process.env['BENCH_TIME_MS'] ?? 1000);
const opts = { ratchet, senderKeys, indexedDB };
await benchTraffic(
  [
    { name: 'in-memory', protocol: await InMemoryProtocolStore.create() },
    { name: 'indexeddb (fake)', protocol: (await IndexedDbStore.open('bench', opts)).protocol },
    {
      name: 'indexeddb (fake) sealed',
      protocol: (
        await IndexedDbStore.open('bench-sealed', { ...opts, encryptionKey: new Uint8Array(32).fill(1) })
      ).protocol,
    },
  ],
  TIME,
);
