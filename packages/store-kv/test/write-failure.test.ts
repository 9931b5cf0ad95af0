/**
 * A database that fails at the k-th write of a batch, for every k (a full disk, a lost connection, a
 * crash mid-transaction, which the database rolls back): every store operation that writes several
 * rows — a first-contact PreKey message (session, identity, consumed pre-keys, the app's row), an
 * identity replacement (the key and its approval), a last-resort Kyber use (replay row and use
 * count), pre-key removals (their replay rows and counts), a group message, the resend cache — leaves
 * every row byte-identical to before, reports no identity change, and then, run again on a working
 * database, applies in full: the same rows change as in a run that never failed.
 */
import {
  type Address,
  createAddress,
  defaultProvider,
  E2eeError,
  type IdentityChangeEvent,
  KeyPair,
  type PublicKey,
  utf8,
} from '@e2ee-kit/core';
import * as ratchet from '@e2ee-kit/ratchet';
import { SessionCipher } from '@e2ee-kit/ratchet';
import { createTestParty } from '@e2ee-kit/ratchet/testing';
import * as senderKeys from '@e2ee-kit/sender-keys';
import { GroupCipher } from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';
import { KvStore, type KvWrite, type KvStore as Store, type Table } from '@e2ee-kit/store-kv';
import { MemoryKvBackend } from '@e2ee-kit/store-kv/testing';
import { describe, expect, it } from 'vitest';

type Rows = Map<string, Uint8Array>;
const BOB = createAddress('bob', 1);
const DIST = 'd2a6c2a4-2f4c-4bcf-9d8e-0a3c8f6f1b11';
const OPTS = { ratchet, senderKeys } as const;
const newKey = async (): Promise<PublicKey> => (await KeyPair.generate(defaultProvider)).publicKey;

/**
 * Applies a batch one write at a time and, armed with `failAt = k`, throws at the k-th write counted
 * over everything the operation commits, putting back the rows as they were before the batch (the
 * database's rollback). `writes` counts the writes of the operation.
 */
class FailingBackend extends MemoryKvBackend {
  failAt = Infinity;
  writes = 0;
  override async commit(batch: readonly KvWrite[]): Promise<void> {
    const before = this.snapshot();
    try {
      for (const w of batch) {
        if (++this.writes === this.failAt) throw new Error(`write ${this.writes} failed`);
        await super.commit([w]);
      }
    } catch (err) {
      const now = this.snapshot();
      const undo: KvWrite[] = [...now.keys()].filter((k) => !before.has(k)).map((k) => row(k, null));
      for (const [k, v] of before) undo.push(row(k, v));
      await super.commit(undo);
      throw err;
    }
  }
}

function row(k: string, value: Uint8Array | null): KvWrite {
  const at = k.indexOf('\u0000');
  return { table: k.slice(0, at) as Table, key: k.slice(at + 1), value };
}

async function backendWith(rows: Rows): Promise<FailingBackend> {
  const b = new FailingBackend();
  await b.commit([...rows].map(([k, v]) => row(k, v)));
  b.writes = 0;
  return b;
}

/** Row keys whose bytes differ between two snapshots (added, changed or removed). */
function changed(a: Rows, b: Rows): string[] {
  const keys = new Set([...a.keys(), ...b.keys()]);
  const eq = (x?: Uint8Array, y?: Uint8Array) =>
    x !== undefined && y !== undefined && x.length === y.length && x.every((v, i) => v === y[i]);
  return [...keys].filter((k) => !eq(a.get(k), b.get(k))).sort();
}

interface Case {
  readonly name: string;
  /** Builds the state on `store` and returns the operation to run on a store opened over it. */
  setUp(store: Store): Promise<(store: Store) => Promise<unknown>>;
  /** Identity changes a successful run reports. */
  readonly reports?: number;
}

async function firstContact(store: Store): Promise<{ from: Address; wire: ratchet.EncryptedMessage }> {
  const alice = await createTestParty('alice', 1);
  const c = alice.cipher(BOB);
  await c.initiate(await ratchet.createPreKeyBundle(store.protocol, { deviceId: 1 }));
  return { from: alice.address, wire: await c.encrypt(utf8('hello')) };
}

const deliverToApp = async (tx: { app: { put(k: string, v: Uint8Array): Promise<void> } }) =>
  tx.app.put('got:1', utf8('1'));

const CASES: Case[] = [
  {
    name: 'a first-contact PreKey message with the app row',
    setUp: async (store) => {
      const { from, wire } = await firstContact(store);
      return (s) =>
        new SessionCipher(s.protocol, from).decrypt(wire, { deliver: (_m, tx) => deliverToApp(tx) });
    },
  },
  {
    name: 'a PreKey message from a re-installed peer (identity replaced) with the app row',
    reports: 1,
    setUp: async (store) => {
      const before = await firstContact(store);
      await new SessionCipher(store.protocol, before.from).decrypt(before.wire);
      const { from, wire } = await firstContact(store);
      return (s) =>
        new SessionCipher(s.protocol, from).decrypt(wire, { deliver: (_m, tx) => deliverToApp(tx) });
    },
  },
  {
    name: 'saveIdentity replacing an approved key (the key and its approval)',
    reports: 1,
    setUp: async (store) => {
      const first = await newKey();
      await store.protocol.saveIdentity(BOB, first);
      await store.protocol.approve(BOB, first);
      const next = await newKey();
      return (s) => s.protocol.saveIdentity(BOB, next);
    },
  },
  {
    name: 'markKyberPreKeyUsed on a last-resort key (replay row and use count)',
    setUp: async (store) => {
      const id = await store.protocol.getIdentityKeyPair();
      await store.protocol.saveKyberPreKey(7, await ratchet.generateKyberPreKey(id, 7, { lastResort: true }));
      await store.protocol.markKyberPreKeyUsed(7, 3, await newKey());
      const base = await newKey();
      return (s) => s.protocol.markKyberPreKeyUsed(7, 3, base);
    },
  },
  {
    name: 'removeSignedPreKey (its replay rows and the counts of two Kyber keys)',
    setUp: async (store) => {
      const id = await store.protocol.getIdentityKeyPair();
      for (const k of [7, 8]) {
        await store.protocol.saveKyberPreKey(
          k,
          await ratchet.generateKyberPreKey(id, k, { lastResort: true }),
        );
        await store.protocol.markKyberPreKeyUsed(k, 3, await newKey());
        await store.protocol.markKyberPreKeyUsed(k, 4, await newKey());
      }
      await store.protocol.saveSignedPreKey(3, await ratchet.generateSignedPreKey(id, 3));
      return (s) => s.protocol.removeSignedPreKey(3);
    },
  },
  {
    name: 'removeKyberPreKey (the key, its replay rows and its count)',
    setUp: async (store) => {
      const id = await store.protocol.getIdentityKeyPair();
      await store.protocol.saveKyberPreKey(7, await ratchet.generateKyberPreKey(id, 7, { lastResort: true }));
      await store.protocol.markKyberPreKeyUsed(7, 3, await newKey());
      await store.protocol.markKyberPreKeyUsed(7, 4, await newKey());
      return (s) => s.protocol.removeKyberPreKey(7);
    },
  },
  {
    name: 'a group message with the app row',
    setUp: async (store) => {
      const dave = createAddress('dave', 1);
      const daveGroup = new GroupCipher(new InMemorySenderKeyStore());
      await new GroupCipher(store.senderKeys).processDistributionMessage(
        dave,
        await daveGroup.createDistributionMessage(dave, DIST),
      );
      const wire = await daveGroup.encrypt(dave, DIST, utf8('to the group'));
      return (s) =>
        new GroupCipher(s.senderKeys).decrypt(dave, wire, { deliver: (_m, tx) => deliverToApp(tx) });
    },
  },
  {
    name: 'resend.apply (a put and two removals)',
    setUp: async (store) => {
      for (const id of ['r1', 'r2'])
        await store.resend.apply({ put: { id, savedAt: 1, record: utf8(id) }, remove: [] });
      return (s) =>
        s.resend.apply({ put: { id: 'r3', savedAt: 2, record: utf8('r3') }, remove: ['r1', 'r2'] });
    },
  },
];

describe('a write failing at every position of the batch', () => {
  for (const sealed of [false, true]) {
    const options = { ...OPTS, ...(sealed ? { encryptionKey: new Uint8Array(32).fill(7) } : {}) };
    for (const c of CASES) {
      it(`${sealed ? 'sealed' : 'plain'}: ${c.name}`, async () => {
        const setUpBackend = new FailingBackend();
        const op = await c.setUp(await KvStore.open(setUpBackend, options));
        const initial = setUpBackend.snapshot();
        const open = async (b: FailingBackend) => {
          const events: IdentityChangeEvent[] = [];
          const store = await KvStore.open(b, { ...options, onIdentityChange: (e) => events.push(e) });
          b.writes = 0;
          return { store, events };
        };
        // The run that never fails: how many writes, and which rows it changes.
        const reference = await backendWith(initial);
        await op((await open(reference)).store);
        const total = reference.writes;
        const expected = changed(initial, reference.snapshot());
        expect(total).toBeGreaterThanOrEqual(2);
        expect(expected.length).toBeGreaterThanOrEqual(2);
        for (let k = 1; k <= total; k++) {
          const b = await backendWith(initial);
          const { store, events } = await open(b);
          b.failAt = k;
          await expect(op(store)).rejects.toSatisfy((e) => e instanceof Error);
          expect(changed(initial, b.snapshot()), `failed at write ${k}`).toEqual([]);
          expect(events).toEqual([]);
          // The same store object, the database working again: the operation applies in full.
          b.failAt = Infinity;
          await op(store);
          expect(changed(initial, b.snapshot()), `run again after write ${k} failed`).toEqual(expected);
          expect(events.length).toBe(c.reports ?? 0);
        }
      });
    }
  }
});

describe('creating a database, a write failing at every position of its batch', () => {
  for (const sealed of [false, true]) {
    const options = { ...OPTS, ...(sealed ? { encryptionKey: new Uint8Array(32).fill(7) } : {}) };
    it(`${sealed ? 'sealed' : 'plain'}: StoreError, the database still empty; the next open creates it`, async () => {
      const reference = new FailingBackend();
      await KvStore.open(reference, options);
      const total = reference.writes;
      expect(total).toBeGreaterThanOrEqual(4); // key check, identity pair, registration id, format
      for (let k = 1; k <= total; k++) {
        const b = new FailingBackend();
        b.failAt = k;
        await expect(KvStore.open(b, options)).rejects.toSatisfy((e) => E2eeError.is(e, 'STORE'));
        expect(b.snapshot().size, `failed at write ${k}`).toBe(0);
        b.failAt = Infinity;
        const store = await KvStore.open(b, options);
        expect(changed(new Map(), b.snapshot())).toEqual(changed(new Map(), reference.snapshot()));
        expect(await KvStore.open(b, options)).toBeInstanceOf(KvStore);
        await store.app.put('k', utf8('v'));
      }
    });
  }
});
