/**
 * Node Buffers from the caller: `Buffer#slice` is a view, not a copy, so a store that "copies" with
 * `.slice()` keeps (and may write to) the caller's memory — often Node's shared 8 KiB pool.
 */
import { Buffer } from 'node:buffer';
import { toHex } from '@e2ee-kit/core';
import { KvStore } from '@e2ee-kit/store-kv';
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
