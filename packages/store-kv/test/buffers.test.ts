/**
 * Node Buffers from the caller: `Buffer#slice` is a view, not a copy, so a store that "copies" with
 * `.slice()` keeps (and may write to) the caller's memory — often Node's shared 8 KiB pool.
 */
import { Buffer } from 'node:buffer';
import { type CryptoProvider, defaultProvider, E2eeError, fromUtf8, toHex, utf8 } from '@e2ee-kit/core';
import { KvStore, type Table } from '@e2ee-kit/store-kv';
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
