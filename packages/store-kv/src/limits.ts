/**
 * The largest value each table holds, so that a row another tool made huge (an edited or hostile
 * database: a 2 GB blob in a session row) is refused by its length before it is read whole — a
 * backend given `maxBytes` checks the length in the database (SQLite's `length()` of a BLOB reads no
 * content) — and never reaches a decoder. Each cap is above the largest value this version writes,
 * with room: a refused row is lost to the store, so a cap must never cut a value it wrote itself (and
 * writes above a cap are refused, nothing stored). Values stored sealed are `SEALED_OVERHEAD` longer.
 */
import { DecodeError } from '@e2ee-kit/core';
import type { Table } from './backend.js';

const KiB = 1024;
const MiB = 1024 * KiB;

export const MAX_VALUE_BYTES: Readonly<Record<Table, number>> = Object.freeze({
  /** An identity key and its trust state: under 100 bytes. */
  identity: 64 * KiB,
  /** A `SessionRecord`: ≤ 0.83 MB in the worst case (ratchet's Limits). */
  session: 4 * MiB,
  /** Pre-key records: a Kyber-1024 pair with its signature is about 4.9 kB. */
  prekey: 64 * KiB,
  signed_prekey: 64 * KiB,
  kyber_prekey: 64 * KiB,
  /** A last-resort replay triple or use count: tens of bytes. */
  kyber_used: 64 * KiB,
  /** Counters and ≤ 2 × 10,000 retired keys of about 20 bytes each. */
  prekey_state: MiB,
  /** sender-keys' `MAX_SENDER_KEY_RECORD_BYTES`: its decoder refuses anything longer. */
  sender_key: 1_000_000,
  /** One device entry per member device handed a chain: grows with the group. */
  key_holders: 64 * MiB,
  /** backup-kdf's attempt record: ≤ 32 slots of 20 bytes. */
  attempt: 64 * KiB,
  /** A resend-cache entry: its plaintext (the cache's `maxPlaintextLength`, 256 KiB by default). */
  resend: 64 * MiB,
  /** The app's own rows. */
  app: 64 * MiB,
  /** The format row, key check, identity key pair and registration id. */
  meta: 64 * KiB,
});

/** The refusal of a stored value longer than `max` bytes: names the table, never the content. */
export function valueTooLong(table: Table, max: number): DecodeError {
  return new DecodeError(`stored ${table} value is over ${max} bytes`);
}
