/**
 * Rows longer than their table's cap (an edited or hostile database: a 2 GB blob in a session row) are
 * refused before anything decodes them — and by a backend given `maxBytes`, before it copies them.
 * The caps are the README's ("Value sizes"): session 4 MiB, every value stored sealed 29 bytes longer.
 */
import { DecodeError, E2eeError } from '@e2ee-kit/core';
import type { SessionRecord } from '@e2ee-kit/ratchet';
import * as ratchet from '@e2ee-kit/ratchet';
import { type KvBackend, KvStore, MAX_VALUE_BYTES } from '@e2ee-kit/store-kv';
import { MemoryKvBackend } from '@e2ee-kit/store-kv/testing';
import { describe, expect, it } from 'vitest';

const SESSION_CAP = 4 * 1024 * 1024;
const SEAL_OVERHEAD = 1 + 12 + 16; // version byte, nonce, tag
const alice = ratchet.createAddress('alice', 1);
const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

/** A "record" of n bytes; the codec answers with how many bytes it was handed. */
const record = (n: number) => ({ serialize: () => new Uint8Array(n) }) as unknown as SessionRecord;
function measuringRatchet() {
  const seen: number[] = [];
  const codecs = {
    ...ratchet,
    SessionRecord: {
      deserialize: (b: Uint8Array) => {
        seen.push(b.length);
        return { length: b.length } as unknown as SessionRecord;
      },
    },
  };
  return { codecs, seen };
}

/** A backend that ignores `maxBytes` (as one written for an earlier version of the contract does). */
function ignoringBackend(): MemoryKvBackend & KvBackend {
  const b = new MemoryKvBackend();
  const get = b.get.bind(b);
  const list = b.list.bind(b);
  b.get = (t, k) => get(t, k);
  b.list = (t) => list(t);
  return b;
}

describe('MemoryKvBackend with maxBytes', () => {
  it('get: a row of maxBytes is returned, one byte more is a DecodeError', async () => {
    const b = new MemoryKvBackend();
    await b.commit([
      { table: 'app', key: 'fits', value: new Uint8Array(10) },
      { table: 'app', key: 'over', value: new Uint8Array(11) },
    ]);
    expect((await b.get('app', 'fits', 10))?.length).toBe(10);
    const err = await failure(b.get('app', 'over', 10));
    expect(err).toBeInstanceOf(DecodeError);
    expect((await b.get('app', 'over'))?.length).toBe(11); // no bound asked: as before
  });

  it('list: rows over maxBytes are left out', async () => {
    const b = new MemoryKvBackend();
    await b.commit([
      { table: 'resend', key: 'fits', value: new Uint8Array(10) },
      { table: 'resend', key: 'over', value: new Uint8Array(11) },
    ]);
    expect((await b.list('resend', 10)).map(([k]) => k)).toEqual(['fits']);
  });
});

describe('KvStore refuses a value over its table cap', () => {
  it('documents the session cap', () => {
    expect(MAX_VALUE_BYTES.session).toBe(SESSION_CAP);
  });

  for (const sealed of [false, true]) {
    const key = sealed ? { encryptionKey: new Uint8Array(32).fill(3) } : {};
    const stored = SESSION_CAP + (sealed ? SEAL_OVERHEAD : 0);

    it(`${sealed ? 'sealed' : 'plain'}: a session at the cap reads back; one byte over is refused before the decoder`, async () => {
      const backend = ignoringBackend();
      const { codecs, seen } = measuringRatchet();
      const store = await KvStore.open(backend, { ratchet: codecs, ...key });
      await store.protocol.saveSession(alice, record(SESSION_CAP));
      expect(((await store.protocol.getSession(alice)) as unknown as { length: number }).length).toBe(
        SESSION_CAP,
      );
      // Another tool makes the stored row one byte longer than a sealed or plain cap-sized record.
      const rowKeys = [...backend.snapshot().keys()].filter((k) => k.startsWith('session\u0000'));
      expect(rowKeys).toHaveLength(1);
      const k = (rowKeys[0] as string).slice('session\u0000'.length);
      // Sealed: it starts like a sealed value, so only its length (not a malformed header) refuses it.
      const longer = new Uint8Array(stored + 1);
      if (sealed) longer[0] = 0x01;
      await backend.commit([{ table: 'session', key: k, value: longer }]);
      const err = await failure(store.protocol.getSession(alice));
      expect(E2eeError.is(err, 'DECODE')).toBe(true);
      expect(String((err as Error).message)).toContain('session');
      expect(seen).toEqual([SESSION_CAP]); // the decoder never saw the oversized row
    });
  }

  it('a session record over the cap is refused at write (RangeError), nothing stored', async () => {
    const backend = new MemoryKvBackend();
    const { codecs } = measuringRatchet();
    const store = await KvStore.open(backend, { ratchet: codecs });
    const before = backend.snapshot();
    const err = await failure(store.protocol.saveSession(alice, record(SESSION_CAP + 1)));
    expect(err).toBeInstanceOf(RangeError);
    expect(backend.snapshot()).toEqual(before);
  });

  it('an oversized row in a listed table is left out of the listing', async () => {
    const backend = ignoringBackend();
    const store = await KvStore.open(backend, { ratchet });
    await store.resend.apply({ put: { id: 'kept', savedAt: 1, record: new Uint8Array(4) }, remove: [] });
    await backend.commit([
      { table: 'resend', key: 'huge', value: new Uint8Array(MAX_VALUE_BYTES.resend + 1) },
    ]);
    expect(await store.resend.list()).toEqual([{ id: 'kept', savedAt: 1 }]);
  });
});
