/**
 * Alice's phone for the tests of what goes to her own other devices (sync-copy-failures.test.ts,
 * own-device-news.test.ts): her requests to her own account's fan-out (`/v1/fanout/<her
 * ServiceId>`: sync copies, the group state and the contact list her devices share) fail with no
 * answer while `own.down`; and, when `own.failAfter` is set, get a 503 once after that many more of
 * them were accepted. Her store fails the next commit once `store.failAfter` more of those requests
 * were accepted.
 */
import { StoreError } from '@e2ee-kit/core';
import { KvStore } from '@e2ee-kit/store-kv';
import { MemoryKvBackend } from '@e2ee-kit/store-kv/testing';
import { ChatClient, type FetchLike, type StoreOpener } from '../client/src/index.js';
import type { DeviceTestbed } from './devices-harness.js';

export async function ownFanoutPhone(bed: DeviceTestbed) {
  const own = { down: false, failAfter: undefined as number | undefined, accepted: 0 };
  const store = { failAfter: undefined as number | undefined, failed: 0 };
  let fail = false;
  const backend = new MemoryKvBackend();
  const commit = backend.commit.bind(backend);
  backend.commit = async (writes) => {
    if (fail) {
      fail = false;
      store.failed++;
      throw new StoreError('injected: the write after the send failed');
    }
    return commit(writes);
  };
  let ownPath = '';
  const fetch: FetchLike = async (input, init) => {
    const toOwn = init?.method === 'PUT' && ownPath !== '' && input.endsWith(ownPath);
    if (!toOwn) return globalThis.fetch(input, init);
    if (own.down) throw new TypeError('fetch failed');
    if (own.failAfter === 0) {
      own.failAfter = undefined;
      return new Response(JSON.stringify({ error: 'unavailable', message: 'try again' }), {
        status: 503,
        headers: { 'content-type': 'application/json' },
      });
    }
    const answer = await globalThis.fetch(input, init);
    if (answer.ok) {
      own.accepted++;
      if (own.failAfter !== undefined) own.failAfter--;
      if (store.failAfter !== undefined && --store.failAfter === 0) {
        store.failAfter = undefined;
        fail = true;
      }
    }
    return answer;
  };
  const opener: StoreOpener = (options) => KvStore.open(backend, options);
  const phone = bed.keep(await ChatClient.register('alice', bed.opts({ fetch, store: opener })));
  ownPath = `/v1/fanout/${phone.aci}`;
  return { phone, own, store };
}
