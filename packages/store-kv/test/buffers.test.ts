/**
 * Node Buffers from the caller: `Buffer#slice` is a view, not a copy, so a store that "copies" with
 * `.slice()` keeps (and may write to) the caller's memory — often Node's shared 8 KiB pool.
 */
import { Buffer } from 'node:buffer';
import {
  type CryptoProvider,
  createAddress,
  defaultProvider,
  E2eeError,
  fromUtf8,
  toHex,
  utf8,
} from '@e2ee-kit/core';
import * as ratchet from '@e2ee-kit/ratchet';
import { createTestParty } from '@e2ee-kit/ratchet/testing';
import * as senderKeys from '@e2ee-kit/sender-keys';
import { KvStore, sameRow, type Table } from '@e2ee-kit/store-kv';
import { MemoryKvBackend } from '@e2ee-kit/store-kv/testing';
import { describe, expect, it } from 'vitest';

const KEY_HEX = '0f'.repeat(32);

describe('KvStore with Node Buffers', () => {
  it('never writes to a pooled Buffer encryptionKey; the same Buffer opens the store again', async () => {
    const key = Buffer.from(KEY_HEX, 'hex');
    const backend = new MemoryKvBackend();
    await KvStore.open(backend, { encryptionKey: key });
    expect(key.toString('hex')).toBe(KEY_HEX);
    const again = await KvStore.open(backend, { encryptionKey: key });
    expect(again.sealed).toBe(true);
  });

  for (const sealed of [false, true]) {
    const o = sealed ? { encryptionKey: new Uint8Array(32).fill(2) } : {};
    it(`${sealed ? 'sealed' : 'plain'}: a Buffer written in a transaction is copied, not kept`, async () => {
      const backend = new MemoryKvBackend();
      const store = await KvStore.open(backend, o);
      const value = Buffer.from('0102030405', 'hex');
      await store.transaction(async (tx) => {
        await tx.app.put('v', value);
        const read = (await tx.app.get('v')) as Uint8Array;
        read.fill(0xee); // a reader's copy is its own
        value.fill(0xaa); // so is the caller's Buffer, before the commit
        expect(toHex((await tx.app.get('v')) as Uint8Array)).toBe('0102030405');
        await tx.backupAttempts.set('a', value);
        value.fill(0xbb);
      });
      expect(toHex((await store.app.get('v')) as Uint8Array)).toBe('0102030405');
      expect(toHex((await store.backupAttempts.get('a')) as Uint8Array)).toBe('aaaaaaaaaa');
    });
  }

  it('the memory backend copies Buffers in and out', async () => {
    const backend = new MemoryKvBackend();
    const value = Buffer.from('0102', 'hex');
    await backend.commit([{ table: 'app', key: 'k', value }]);
    value.fill(0);
    const out = (await backend.get('app', 'k')) as Uint8Array;
    expect(toHex(out)).toBe('0102');
  });
});

/**
 * A backend whose reads return views of one scratch buffer, rewritten by its next read (as drivers
 * with zero-copy reads do, e.g. a memory-mapped store's "fast" get): the store copies each answer as
 * it arrives, so neither what callers got nor the bytes kept for the compare-and-set at commit change.
 */
class ReusingBackend extends MemoryKvBackend {
  readonly #scratch = Buffer.alloc(4096);
  override async get(table: Table, key: string): Promise<Uint8Array | undefined> {
    const row = await super.get(table, key);
    if (row === undefined) return undefined;
    this.#scratch.set(row);
    return this.#scratch.subarray(0, row.length);
  }
  override async list(table: Table): Promise<ReadonlyArray<readonly [string, Uint8Array]>> {
    const rows = await super.list(table);
    let at = 0;
    return rows.map(([k, v]) => {
      this.#scratch.set(v, at);
      at += v.length;
      return [k, this.#scratch.subarray(at - v.length, at)] as const;
    });
  }
}

describe('KvStore over a backend that reuses one read buffer', () => {
  for (const sealed of [false, true]) {
    const o = sealed ? { encryptionKey: new Uint8Array(32).fill(5) } : {};
    it(`${sealed ? 'sealed' : 'plain'}: values read stay as read; a read-modify-write still commits`, async () => {
      const store = await KvStore.open(new ReusingBackend(), o);
      await store.app.put('a', utf8('first'));
      await store.app.put('b', utf8('other'));
      await store.backupAttempts.set('x', utf8('x-before'));
      await store.backupAttempts.set('y', utf8('y-kept!!'));
      const a = (await store.app.get('a')) as Uint8Array;
      await store.app.get('b');
      expect(fromUtf8(a)).toBe('first');
      // Reads x (kept for the compare-and-set), then y over the same scratch memory, then writes x.
      await store.transaction(async (tx) => {
        ((await tx.backupAttempts.get('x')) as Uint8Array).fill(0); // a reader's copy is its own
        await tx.backupAttempts.get('y');
        await tx.backupAttempts.set('x', utf8('x-after'));
      });
      expect(fromUtf8((await store.backupAttempts.get('x')) as Uint8Array)).toBe('x-after');
      await store.resend.apply({ put: { id: 'r1', savedAt: 1, record: utf8('one') }, remove: [] });
      const r1 = (await store.resend.get('r1')) as Uint8Array;
      await store.resend.apply({ put: { id: 'r2', savedAt: 2, record: utf8('two') }, remove: [] });
      expect((await store.resend.list()).map((e) => e.id).sort()).toEqual(['r1', 'r2']);
      expect(fromUtf8(r1)).toBe('one');
    });
  }
});

it('a backend row that is not bytes is a StoreError, not a crash further in', async () => {
  const backend = new MemoryKvBackend();
  const store = await KvStore.open(backend);
  await store.app.put('a', utf8('x'));
  const get = backend.get.bind(backend);
  backend.get = async (t, k) => (t === 'app' ? ('x' as unknown as Uint8Array) : get(t, k));
  await expect(store.app.get('a')).rejects.toSatisfy((e) => E2eeError.is(e, 'STORE'));
});

it('sealed: values read are in memory of their own even when the provider decrypts into pooled Buffers', async () => {
  // A provider on node:crypto may return Buffer.concat's result: a view of Node's shared 8 KiB pool,
  // whose `.buffer` also shows whatever other Buffers were allocated next to it.
  const provider: CryptoProvider = {
    ...defaultProvider,
    aes256GcmDecrypt: async (k, n, c, a) =>
      Buffer.concat([Buffer.from(await defaultProvider.aes256GcmDecrypt(k, n, c, a))]),
  };
  const store = await KvStore.open(new MemoryKvBackend(), {
    encryptionKey: new Uint8Array(32).fill(6),
    provider,
  });
  await store.app.put('a', utf8('value'));
  await store.resend.apply({ put: { id: 'r', savedAt: 1, record: utf8('record') }, remove: [] });
  for (const got of [await store.app.get('a'), await store.resend.get('r')] as Uint8Array[]) {
    expect(got.buffer.byteLength).toBe(got.byteLength);
    expect(got instanceof Buffer).toBe(false);
  }
});

it('backupAttempts.compareAndSet copies its arguments before its first await', async () => {
  const store = await KvStore.open(new MemoryKvBackend());
  await store.backupAttempts.set('k', utf8('old'));
  const expected = Buffer.from('old');
  const value = Buffer.from('new');
  // A caller reusing its buffers as soon as the call returns (a pooled encoder, a loop).
  const pending = store.backupAttempts.compareAndSet('k', expected, value);
  expected.fill(0x21);
  value.fill(0x21);
  expect(await pending).toBe(true);
  expect(fromUtf8((await store.backupAttempts.get('k')) as Uint8Array)).toBe('new');
});

/**
 * Every public method that takes bytes, given offset views into a larger array of the caller's (as a
 * Buffer from Node's pool is): nothing in that array is written during the call, and overwriting the
 * view as soon as the call returns — before its promise settles — changes nothing stored.
 */
describe('caller memory: every method taking bytes', () => {
  // Not tools/caller-bytes.ts: it overwrites the caller's arrays once the call has settled, and a
  // store's call keeps running after it returned (the commit) — the window these checks cover.
  /** `bytes` at offset 16 of a 64-byte-longer slab of the caller's, the rest of it 0x5a. */
  function offsetView(bytes: Uint8Array): { view: Buffer; slab: () => string } {
    const slab = Buffer.alloc(bytes.length + 64, 0x5a);
    const view = slab.subarray(16, 16 + bytes.length);
    view.set(bytes);
    return { view, slab: () => slab.toString('hex') };
  }
  /**
   * Calls `f(view)`, checks the slab is untouched once the call returns, overwrites the view, and
   * once the call settled checks the slab again: only what the caller itself wrote is there.
   */
  async function handOver<T>(bytes: Uint8Array, f: (view: Buffer) => Promise<T>): Promise<T> {
    const { view, slab } = offsetView(bytes);
    const before = slab();
    const pending = f(view);
    expect(slab()).toBe(before);
    view.fill(0xcc);
    const after = slab();
    const out = await pending;
    expect(slab()).toBe(after);
    return out;
  }

  it("open's encryptionKey as an offset view: not written, not kept", async () => {
    const backend = new MemoryKvBackend();
    const key = new Uint8Array(32).fill(9);
    const { view, slab } = offsetView(key);
    const before = slab();
    await KvStore.open(backend, { encryptionKey: view });
    expect(slab()).toBe(before);
    view.fill(0);
    // Reopening with the original key works: the store derived from the bytes given, not the view.
    expect((await KvStore.open(backend, { encryptionKey: key })).sealed).toBe(true);
  });

  for (const sealed of [false, true]) {
    const kind = sealed ? 'sealed' : 'plain';

    const o = sealed ? { encryptionKey: new Uint8Array(32).fill(2) } : {};

    it(`${kind}: app.put, backupAttempts.set / compareAndSet, resend.apply at top level`, async () => {
      const store = await KvStore.open(new MemoryKvBackend(), o);
      await handOver(utf8('app-value'), (v) => store.app.put('k', v));
      await handOver(utf8('attempts'), (v) => store.backupAttempts.set('a', v));
      await handOver(utf8('attempts'), (expected) =>
        handOver(utf8('attempt2'), (v) => store.backupAttempts.compareAndSet('a', expected, v)),
      );
      await handOver(utf8('resend-record'), (record) =>
        store.resend.apply({ put: { id: 'r', savedAt: 1, record }, remove: [] }),
      );
      expect(fromUtf8((await store.app.get('k')) as Uint8Array)).toBe('app-value');
      expect(fromUtf8((await store.backupAttempts.get('a')) as Uint8Array)).toBe('attempt2');
      expect(fromUtf8((await store.resend.get('r')) as Uint8Array)).toBe('resend-record');
      // What a read returns is the caller's own: overwriting it changes no later read.
      for (const read of [
        () => store.app.get('k'),
        () => store.backupAttempts.get('a'),
        () => store.resend.get('r'),
      ]) {
        const first = (await read()) as Uint8Array;
        const copy = toHex(first);
        first.fill(0);
        expect(toHex((await read()) as Uint8Array)).toBe(copy);
      }
    });

    it(`${kind}: records whose serialize() answers with an offset view (save*, store*)`, async () => {
      const store = await KvStore.open(new MemoryKvBackend(), { ...o, ratchet, senderKeys });
      const p = store.protocol;
      const identity = await p.getIdentityKeyPair();
      const viewOf = <R extends { serialize(): Uint8Array }>(r: R, f: (r: R) => Promise<void>) =>
        handOver(r.serialize(), (v) =>
          f(new Proxy(r, { get: (t, k) => (k === 'serialize' ? () => v : Reflect.get(t, k)) })),
        );
      const [pk] = await ratchet.generatePreKeys(7, 1);
      const spk = await ratchet.generateSignedPreKey(identity, 3);
      const kpk = await ratchet.generateKyberPreKey(identity, 5);
      await viewOf(pk as ratchet.PreKeyRecord, (r) => p.savePreKey(7, r));
      await viewOf(spk, (r) => p.saveSignedPreKey(3, r));
      await viewOf(kpk, (r) => p.saveKyberPreKey(5, r));
      expect(toHex((await p.getPreKey(7))?.serialize() as Uint8Array)).toBe(
        toHex((pk as ratchet.PreKeyRecord).serialize()),
      );
      expect(toHex((await p.getSignedPreKey(3))?.serialize() as Uint8Array)).toBe(toHex(spk.serialize()));
      expect(toHex((await p.getKyberPreKey(5))?.serialize() as Uint8Array)).toBe(toHex(kpk.serialize()));
      // A session, a pre-key state, a sender key and key holders, from a real exchange.
      const alice = await createTestParty('alice', 1);
      const c = alice.cipher(createAddress('bob', 1));
      await c.initiate(await ratchet.createPreKeyBundle(p, { deviceId: 1 }));
      await new ratchet.SessionCipher(p, alice.address).decrypt(await c.encrypt(utf8('hi')));
      const session = (await p.getSession(alice.address)) as ratchet.SessionRecord;
      const state = (await p.getPreKeyState()) as ratchet.PreKeyStateRecord;
      const bob = createAddress('bob', 1);
      const dist = 'd2a6c2a4-2f4c-4bcf-9d8e-0a3c8f6f1b11';
      await new senderKeys.GroupCipher(store.senderKeys).createDistributionMessage(bob, dist);
      const sk = (await store.senderKeys.loadSenderKey(bob, dist)) as senderKeys.SenderKeyRecord;
      const holders = senderKeys.KeyHolderRecord.create(1, [createAddress('carol', 1)]);
      await store.protocol.removeSession(alice.address);
      await viewOf(session, (r) => p.saveSession(alice.address, r));
      await viewOf(state, (r) => p.savePreKeyState(r));
      await viewOf(sk, (r) => store.senderKeys.storeSenderKey(alice.address, dist, r));
      await viewOf(holders, (r) => store.senderKeys.storeKeyHolders(alice.address, dist, r));
      expect(toHex((await p.getSession(alice.address))?.serialize() as Uint8Array)).toBe(
        toHex(session.serialize()),
      );
      expect(toHex((await p.getPreKeyState())?.serialize() as Uint8Array)).toBe(toHex(state.serialize()));
      expect(
        toHex((await store.senderKeys.loadSenderKey(alice.address, dist))?.serialize() as Uint8Array),
      ).toBe(toHex(sk.serialize()));
      expect(
        toHex((await store.senderKeys.loadKeyHolders(alice.address, dist))?.serialize() as Uint8Array),
      ).toBe(toHex(holders.serialize()));
    });
  }

  it('sameRow writes to neither argument', () => {
    const { view: a, slab: sa } = offsetView(utf8('row'));
    const { view: b, slab: sb } = offsetView(utf8('row'));
    const [ba, bb] = [sa(), sb()];
    expect(sameRow(a, b)).toBe(true);
    expect([sa(), sb()]).toEqual([ba, bb]);
  });

  it('MemoryKvBackend.commit copies values and ifValue before its first await', async () => {
    const backend = new MemoryKvBackend();
    await handOver(utf8('first'), (value) => backend.commit([{ table: 'app', key: 'k', value }]));
    expect(fromUtf8((await backend.get('app', 'k')) as Uint8Array)).toBe('first');
    // The expected bytes overwritten as the call returns: the check is against what was passed.
    await handOver(utf8('first'), (ifValue) =>
      backend.commit([{ table: 'app', key: 'k', value: utf8('second'), ifValue }]),
    );
    expect(fromUtf8((await backend.get('app', 'k')) as Uint8Array)).toBe('second');
  });
});
