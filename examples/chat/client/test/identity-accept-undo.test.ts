/**
 * Taking a re-installed contact's new identity key while sending (identity-change.ts) writes
 * several records: each device's session archived, the new key saved. A store failure part-way
 * must leave every stored record as it was before the acceptance began, byte for byte (the
 * operation's transaction rolls it back; the kit's `approveIdentity` also undoes its own writes),
 * and the next send must still work.
 */
import { StoreError } from '@e2ee-kit/core';
import { KvStore } from '@e2ee-kit/store-kv';
import { MemoryKvBackend } from '@e2ee-kit/store-kv/testing';
import { expect, it } from 'vitest';
import { ChatClient, type FetchLike } from '../src/index.js';
import { perTestRelay } from './per-test-relay.js';

const bed = perTestRelay();

const same = (a: Map<string, Uint8Array>, b: Map<string, Uint8Array>) =>
  a.size === b.size &&
  [...a].every(([k, v]) => b.get(k)?.every((x, i) => x === v[i]) && b.get(k)?.length === v.length);

/**
 * The records but the send's pending-history rows (history-pending.ts): the send commits its row
 * before its first ciphertext, so before the acceptance begins, and removes it once the send
 * failed, in an operation of its own after the acceptance rolled back.
 */
const APP = 'app\u0000'; // MemoryKvBackend's row names: table, NUL, key
const isPendingHistory = (key: string) =>
  key.startsWith(`${APP}history-pending:`) || key === `${APP}index:history-pending`;
const records = (rows: Map<string, Uint8Array>) =>
  new Map([...rows].filter(([key]) => !isPendingHistory(key)));
const pendingHistoryRows = (rows: Map<string, Uint8Array>) =>
  [...rows.keys()].filter((key) => key.startsWith(`${APP}history-pending:`));

it('a store failure at any read of the acceptance leaves every record byte-identical', async () => {
  const backend = new MemoryKvBackend();
  // The acceptance runs between the bundle fetch that shows the new key and the next one (the
  // send tried again); it begins with the app's trust rule (`verified:` row).
  const at = {
    stage: 'idle' as 'idle' | 'fetched' | 'accepting' | 'done',
    reads: 0,
    failAt: 0,
    failed: false,
  };
  let before: Map<string, Uint8Array> | undefined;
  const fetch: FetchLike = (input, init) => {
    if ((init?.method ?? 'GET') === 'GET' && new URL(input).pathname.startsWith('/v1/keys/')) {
      if (at.stage === 'idle') at.stage = 'fetched';
      else if (at.stage === 'accepting') at.stage = 'done';
    }
    return globalThis.fetch(input, init);
  };
  const erin = await ChatClient.register(
    'erin',
    bed.opts({ store: (o) => KvStore.open(backend, o), receipts: false, fetch }),
  );
  const frank = await ChatClient.register('frank', bed.opts({ receipts: false }));
  bed.clients.push(erin, frank);
  await erin.send('dm:frank', 'hello frank');
  await frank.syncOnce();
  const frank2 = await ChatClient.register('frank', {
    ...bed.opts({ receipts: false }),
    recoveryCode: await frank.recoveryCode(),
  });
  bed.clients.push(frank2);

  const get = backend.get.bind(backend);
  backend.get = async (table, key) => {
    if (at.stage === 'fetched' && table === 'app' && key.startsWith('verified:')) {
      at.stage = 'accepting';
      before = backend.snapshot();
    }
    if (at.stage === 'accepting' && ++at.reads === at.failAt) {
      at.failed = true;
      throw new StoreError('injected: a read failed in the middle of the acceptance');
    }
    return get(table, key);
  };
  // Every read of the acceptance fails once, in turn, until one whole acceptance ran through.
  for (let n = 1; n <= 50; n++) {
    Object.assign(at, { stage: 'idle', reads: 0, failAt: n, failed: false });
    before = undefined;
    const sent = await erin.send('dm:frank', 'after your re-install').catch((err: unknown) => err);
    if (!at.failed) {
      expect(n).toBeGreaterThan(3); // the acceptance reads a few rows
      expect((sent as { status?: string }).status).toBe('sent');
      break;
    }
    expect(sent).toBeInstanceOf(StoreError);
    expect(before).toBeDefined();
    expect(same(records(backend.snapshot()), records(before!))).toBe(true);
    expect(pendingHistoryRows(backend.snapshot())).toEqual([]); // the failed send left no history row
    expect((await erin.messages('dm:frank')).filter((m) => m.system)).toEqual([]);
  }
  // Nothing half-done stood in the way: the last try took the key, once.
  expect((await erin.messages('dm:frank')).filter((m) => m.system).map((m) => m.text)).toEqual([
    'your safety number with frank changed',
  ]);
  await frank2.syncOnce();
  expect((await frank2.messages('dm:erin')).map((m) => m.text)).toEqual(['after your re-install']);
});
