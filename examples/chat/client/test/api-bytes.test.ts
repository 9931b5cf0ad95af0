/**
 * The relay client never keeps a view of a caller's bytes: a Node `Buffer` (often a slice of a
 * shared pool) reused by its owner while an upload is in flight must not change what is sent.
 * `Buffer#slice` is a view, unlike `Uint8Array#slice`.
 */
import { Buffer } from 'node:buffer';
import type { AppView } from '@e2ee-kit/store-kv';
import { expect, it } from 'vitest';
import { RelayApi } from '../src/api.js';
import { ChatData } from '../src/app-data.js';
import { type SealedDeps, SealedSender } from '../src/sealed.js';

it('uploadAttachment sends a copy of a Buffer, not a view its owner can rewrite mid-upload', async () => {
  let sent: Uint8Array | undefined;
  const api = new RelayApi('http://relay.invalid', {
    token: 't',
    fetch: async (_url, init) => {
      sent = init?.body as Uint8Array;
      // The caller's pool slot is reused while the request is still being written.
      pooled.fill(0xee);
      return new Response(JSON.stringify({ id: 'x'.repeat(32) }), { status: 201 });
    },
  });
  const pool = Buffer.alloc(64, 0x11);
  const pooled = pool.subarray(8, 40);
  await api.uploadAttachment(pooled);
  expect(sent).toBeDefined();
  expect(Buffer.from(sent as Uint8Array).equals(Buffer.alloc(32, 0x11))).toBe(true);
  expect((sent as Uint8Array).buffer).not.toBe(pool.buffer);
});

it('the profile key handed to a linked device is a copy of the stored row, not a view of it', async () => {
  // A backend that answers rows as views of one reused buffer (as pooled drivers do).
  const row = Buffer.alloc(64, 0x22);
  const app = { get: async () => row.subarray(16, 48) } as unknown as AppView;
  const sealed = new SealedSender({} as SealedDeps);
  const key = await sealed.profileKey(new ChatData(app));
  row.fill(0x33); // the backend's next read reuses its buffer
  expect(Buffer.from(key as Uint8Array).equals(Buffer.alloc(32, 0x22))).toBe(true);
});
