import { utf8 } from '@e2ee-kit/core';
import type { KvStore } from '@e2ee-kit/store-kv';

/**
 * For a backend's own failure test: writes `a = before`, then arms `setFailing(true)` (make the
 * backend fail after the first write of a batch) and runs a 3-write transaction over `a`, `b`, `c`.
 * Returns the error and what the store holds afterwards; a correct backend leaves `a: 'before'` and
 * no `b`.
 */
export async function runFailingCommit(
  store: KvStore,
  setFailing: (on: boolean) => void,
): Promise<{ error: unknown; a: string | undefined; b: Uint8Array | undefined }> {
  await store.app.put('a', utf8('before'));
  setFailing(true);
  const error = await store
    .transaction(async (tx) => {
      await tx.app.put('a', utf8('after'));
      await tx.app.put('b', utf8('new'));
      await tx.app.put('c', utf8('new'));
    })
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  setFailing(false);
  const a = await store.app.get('a');
  return { error, a: a === undefined ? undefined : new TextDecoder().decode(a), b: await store.app.get('b') };
}
