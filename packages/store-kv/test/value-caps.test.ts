/**
 * Every table's cap as the README's "Value sizes" table states it, and what the README says follows
 * from it, table by table: the store asks the backend for at most cap (+ 29 bytes sealed), a longer
 * row from a backend that ignores the bound is a `DecodeError` naming the table before any codec
 * sees it and is left out of listings, and a write one byte over the cap is a `RangeError`.
 */
import { DecodeError } from '@e2ee-kit/core';
import { type KvBackend, MAX_VALUE_BYTES, TABLES, type Table } from '@e2ee-kit/store-kv';
import { describe, expect, it } from 'vitest';
import { plainCodec, sealingCodec } from '../src/sealing.js';
import { CodecIo, TxBuffer } from '../src/transaction.js';

const KiB = 1024;
const MiB = 1024 * KiB;
/** The README's table. */
const README_CAPS: Record<Table, number> = {
  session: 4 * MiB,
  sender_key: 1_000_000,
  prekey_state: MiB,
  key_holders: 64 * MiB,
  resend: 64 * MiB,
  app: 64 * MiB,
  identity: 64 * KiB,
  prekey: 64 * KiB,
  signed_prekey: 64 * KiB,
  kyber_prekey: 64 * KiB,
  kyber_used: 64 * KiB,
  attempt: 64 * KiB,
  meta: 64 * KiB,
};
const SEALED_EXTRA = 29;
/** One buffer for every oversized row (views of it): no 64 MiB allocation per table. */
const big = new Uint8Array(64 * MiB + SEALED_EXTRA + 1);

/** Answers every read with a row of `length(table)` bytes, whatever bound it is given; records the bounds. */
function ignoringBackend(length: (t: Table) => number) {
  const asked: [string, Table, number | undefined][] = [];
  const backend: KvBackend = {
    async get(table, _key, maxBytes) {
      asked.push(['get', table, maxBytes]);
      return big.subarray(0, length(table));
    },
    async list(table, maxBytes) {
      asked.push(['list', table, maxBytes]);
      return [['k', big.subarray(0, length(table))]];
    },
    async commit() {},
  };
  return { backend, asked };
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

describe('value caps', () => {
  it('MAX_VALUE_BYTES is the README table, for every table', () => {
    expect(Object.keys(README_CAPS).sort()).toEqual([...TABLES].sort());
    expect({ ...MAX_VALUE_BYTES }).toEqual(README_CAPS);
  });

  for (const sealed of [false, true]) {
    it(`${sealed ? 'sealed' : 'plain'}: the bound asked of the backend is the cap (+29 sealed); one byte over is refused unopened`, async () => {
      const codec = sealed ? await sealingCodec(new Uint8Array(32).fill(3)) : plainCodec;
      const extra = sealed ? SEALED_EXTRA : 0;
      const { backend, asked } = ignoringBackend((t) => README_CAPS[t] + extra + 1);
      const io = new CodecIo(backend, codec);
      for (const table of TABLES) {
        const limit = README_CAPS[table] + extra;
        const err = await failure(io.get(table, 'k'));
        expect(err).toBeInstanceOf(DecodeError);
        expect((err as Error).message).toBe(`stored ${table} value is over ${limit} bytes`);
        expect([...(await io.values(table, () => 'k'))]).toEqual([]);
        expect(asked.splice(0)).toEqual([
          ['get', table, limit],
          ['list', table, limit],
        ]);
      }
    });
  }

  it('plain: a row of exactly the cap reads back', async () => {
    const { backend } = ignoringBackend((t) => README_CAPS[t]);
    const io = new CodecIo(backend, plainCodec);
    for (const table of TABLES) expect((await io.get(table, 'k'))?.length).toBe(README_CAPS[table]);
  });

  it('a write one byte over the cap is a RangeError; at the cap it is taken', () => {
    const io = new CodecIo(ignoringBackend(() => 0).backend, plainCodec);
    for (const table of TABLES) {
      const buf = new TxBuffer(io);
      expect(() => buf.put(table, 'k', big.subarray(0, README_CAPS[table] + 1))).toThrow(RangeError);
      expect(() => buf.create(table, 'k', big.subarray(0, README_CAPS[table] + 1))).toThrow(RangeError);
      expect(buf.size).toBe(0);
      buf.put(table, 'k', big.subarray(0, README_CAPS[table]));
      expect(buf.size).toBe(1);
      buf.discard();
    }
  });
});
