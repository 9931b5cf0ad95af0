// The crash-and-redeliver test of atomic delivery, over any database that can be copied after each of
// its commits. Bob's store is the one under test; Alice (1:1, whisper), twenty first-contact senders
// (PreKey messages, each consuming a one-time pre-key) and Dave (group, sender keys) send him a fixed,
// interleaved queue. The app's callback counts each delivery per message id (`got:<id>`) in the same
// transaction. Then, for every copy taken after a commit, a fresh process opens the copy and the
// server redelivers what is not acknowledged (acknowledged = the app's row exists): afterwards each
// message must have been delivered exactly once. The control runs the same traffic through a view of
// the store without `transaction` (best effort: each write commits alone) and must lose messages.
import { type Address, createAddress } from '@e2ee-kit/core';
import * as ratchet from '@e2ee-kit/ratchet';
import { createPreKeyBundle, type EncryptedMessage, SessionCipher } from '@e2ee-kit/ratchet';
import { createTestParty } from '@e2ee-kit/ratchet/testing';
import * as senderKeys from '@e2ee-kit/sender-keys';
import { GroupCipher } from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';
import { type KvBackend, KvStore } from '@e2ee-kit/store-kv';
import { expect, it } from 'vitest';

/** A database the test can copy after each commit and reopen from a copy. */
export interface CrashDatabase<Snapshot> {
  /** The backend over the live database; `afterCommit` runs after each of its commits. */
  live(afterCommit: () => void): KvBackend;
  snapshot(): Snapshot;
  /** A new backend over a copy of `snapshot` (what a restarted process opens). */
  restore(snapshot: Snapshot, index: number): Promise<KvBackend> | KvBackend;
  /** Frees what `restore` opened. */
  release?(backend: KvBackend): void;
}

type Item =
  | { readonly id: number; readonly kind: '1:1'; readonly from: Address; readonly wire: EncryptedMessage }
  | { readonly id: number; readonly kind: 'group'; readonly from: Address; readonly wire: Uint8Array };

const BOB = createAddress('bob', 1);
const DIST = 'd2a6c2a4-2f4c-4bcf-9d8e-0a3c8f6f1b11';
const text = (id: number) => new TextEncoder().encode(`message ${id}`);
const OPTS = { ratchet, senderKeys } as const;

/** Bob's store with the traffic set up (sessions, pre-keys, Dave's sender key), and the queue. */
async function setUp(backend: KvBackend, messages: number): Promise<{ bob: KvStore; queue: Item[] }> {
  const bob = await KvStore.open(backend, OPTS);
  // Alice: Bob initiated, so everything Alice sends is a whisper message.
  const alice = await createTestParty('alice', 1);
  const bobToAlice = new SessionCipher(bob.protocol, alice.address);
  await bobToAlice.initiate(await alice.bundle());
  await alice.cipher(BOB).decrypt(await bobToAlice.encrypt(text(-1)));
  const toBob = alice.cipher(BOB);
  // First contacts: every one of their messages is a PreKey message naming a one-time pre-key.
  const strangers = [];
  for (let i = 0; i < 20; i++) {
    const p = await createTestParty(`stranger${i}`, 1);
    const c = p.cipher(BOB);
    await c.initiate(await createPreKeyBundle(bob.protocol, { deviceId: 1 }));
    strangers.push({ address: p.address, cipher: c });
  }
  // Dave's group chain, already distributed to Bob.
  const dave = createAddress('dave', 1);
  const daveGroup = new GroupCipher(new InMemorySenderKeyStore());
  await new GroupCipher(bob.senderKeys).processDistributionMessage(
    dave,
    await daveGroup.createDistributionMessage(dave, DIST),
  );
  const queue: Item[] = [];
  for (let id = 0; id < messages; id++) {
    const slot = id % 10;
    if (slot < 5) queue.push({ id, kind: '1:1', from: alice.address, wire: await toBob.encrypt(text(id)) });
    else if (slot < 7) {
      const s = strangers[(id >> 1) % strangers.length] as (typeof strangers)[number];
      queue.push({ id, kind: '1:1', from: s.address, wire: await s.cipher.encrypt(text(id)) });
    } else queue.push({ id, kind: 'group', from: dave, wire: await daveGroup.encrypt(dave, DIST, text(id)) });
  }
  return { bob, queue };
}

const got = (id: number) => `got:${id}`;
interface AppRows {
  get(key: string): Promise<Uint8Array | undefined>;
  put(key: string, value: Uint8Array): Promise<void>;
}

/** The app: counts deliveries of `item` (and checks the plaintext is that message). */
async function store(app: AppRows, item: Item, plaintext: Uint8Array): Promise<void> {
  if (new TextDecoder().decode(plaintext) !== `message ${item.id}`) throw new Error('wrong plaintext');
  const n = (await app.get(got(item.id)))?.[0] ?? 0;
  await app.put(got(item.id), Uint8Array.of(n + 1));
}

/** The protocol and sender-key views without `transaction`: the library's best-effort path. */
function withoutTransactions(bob: KvStore) {
  const strip = <T extends object>(view: T): T =>
    new Proxy(view, {
      get: (target, key) => {
        if (key === 'transaction') return undefined;
        const v = Reflect.get(target, key, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
      has: (target, key) => key !== 'transaction' && Reflect.has(target, key),
    });
  return { protocol: strip(bob.protocol), senderKeys: strip(bob.senderKeys) };
}

/** One delivery attempt, as the app writes it; `atomic` uses the transaction, else best effort. */
async function deliver(bob: KvStore, item: Item, atomic: boolean): Promise<void> {
  if (atomic) {
    // The one-transaction path: `tx` is the store's KvTransaction, `tx.app` commits with the state.
    if (item.kind === '1:1') {
      await new SessionCipher(bob.protocol, item.from).decrypt(item.wire, {
        deliver: (m, tx) => store(tx.app, item, m.plaintext),
      });
    } else {
      await new GroupCipher(bob.senderKeys).decrypt(item.from, item.wire, {
        deliver: (m, tx) => store(tx.app, item, m.plaintext),
      });
    }
    return;
  }
  const views = withoutTransactions(bob);
  if (item.kind === '1:1') {
    await new SessionCipher(views.protocol, item.from).decrypt(item.wire, {
      deliver: (m) => store(bob.app, item, m.plaintext),
    });
  } else {
    await new GroupCipher(views.senderKeys).decrypt(item.from, item.wire, {
      deliver: (m) => store(bob.app, item, m.plaintext),
    });
  }
}

async function count(bob: KvStore, item: Item): Promise<number> {
  return (await bob.app.get(got(item.id)))?.[0] ?? 0;
}

export interface CrashReport {
  /** Copies taken after a commit of the delivery run (each one a crash point). */
  crashPoints: number;
  /** Crash points from which every unacknowledged message was redelivered to the end. */
  fullRedeliveries: number;
  /** Messages that ended with 0 deliveries (lost) or more than 1 (duplicated), over all crash points. */
  lost: number;
  duplicated: number;
  /** Redeliveries the library refused (DUPLICATE_MESSAGE, a missing pre-key, …). */
  refused: number;
}

/**
 * Runs the traffic once (copying the database after each commit), then restarts from every copy.
 * From each copy the server redelivers the unacknowledged messages in order: all of them from every
 * `fullEvery`-th copy (and the last), otherwise the next `window` ones — and the messages around that
 * point must each have been delivered exactly once.
 */
export async function crashAndRedeliver<S>(
  db: CrashDatabase<S>,
  options: { messages: number; atomic: boolean; window?: number; fullEvery?: number },
): Promise<CrashReport> {
  const snapshots: S[] = [];
  let recording = false;
  const { bob, queue } = await setUp(
    db.live(() => {
      if (recording) snapshots.push(db.snapshot());
    }),
    options.messages,
  );
  recording = true;
  for (const item of queue) await deliver(bob, item, options.atomic);
  recording = false;
  for (const item of queue) if ((await count(bob, item)) !== 1) throw new Error('the run without a crash');

  const window = options.window ?? 3;
  const fullEvery = options.fullEvery ?? 100;
  const report: CrashReport = {
    crashPoints: snapshots.length,
    fullRedeliveries: 0,
    lost: 0,
    duplicated: 0,
    refused: 0,
  };
  for (let k = 0; k < snapshots.length; k++) {
    const backend = await db.restore(snapshots[k] as S, k);
    const restarted = await KvStore.open(backend, OPTS);
    // Acknowledged messages form a prefix of the queue (one delivery at a time): find its end.
    let lo = 0;
    let hi = queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((await count(restarted, queue[mid] as Item)) > 0) lo = mid + 1;
      else hi = mid;
    }
    const full = k % fullEvery === 0 || k === snapshots.length - 1;
    const end = full ? queue.length : Math.min(queue.length, lo + window);
    for (const item of queue.slice(lo, end)) {
      if ((await count(restarted, item)) > 0) continue;
      try {
        await deliver(restarted, item, options.atomic);
      } catch {
        report.refused++;
      }
    }
    for (const item of queue.slice(full ? 0 : Math.max(0, lo - 2), end)) {
      const n = await count(restarted, item);
      if (n === 0) report.lost++;
      if (n > 1) report.duplicated++;
    }
    if (full) report.fullRedeliveries++;
    db.release?.(backend);
  }
  return report;
}

/** The two tests every database runs: atomic delivery survives each crash point; the control does not. */
export function testCrashDelivery<S>(db: () => CrashDatabase<S>): void {
  it('with transactions: a crash after any of ≥ 1,000 commits loses and duplicates nothing', async () => {
    const r = await crashAndRedeliver(db(), { messages: 1000, atomic: true });
    expect(r.crashPoints).toBeGreaterThanOrEqual(1000);
    expect(r.fullRedeliveries).toBeGreaterThanOrEqual(10);
    expect({ lost: r.lost, duplicated: r.duplicated, refused: r.refused }).toEqual({
      lost: 0,
      duplicated: 0,
      refused: 0,
    });
  });

  it('the control without transactions (best effort) loses messages at the same kind of crash', async () => {
    const r = await crashAndRedeliver(db(), { messages: 100, atomic: false, fullEvery: 50 });
    expect(r.crashPoints).toBeGreaterThan(100);
    expect(r.lost + r.duplicated).toBeGreaterThan(0);
    expect(r.refused).toBeGreaterThan(0);
  });
}
