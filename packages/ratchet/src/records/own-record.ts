/**
 * A record that another copy of this package made, read as this copy's own. Two copies in one app
 * (ESM and CommonJS builds, or two versions in a bundle) can share a store object, and a store that
 * keeps objects (or decodes with its own copy's classes) hands one copy's cipher the other copy's
 * records. Their private fields and the core keys they hold belong to that copy, so this copy's code
 * cannot use them; their persisted format is the one thing every copy reads. So such a record is read
 * through `serialize()` and this copy's `deserialize`, as if the store had kept bytes: a format this
 * copy does not know (a newer version's) is refused as it would be from bytes, with `DecodeError`; an
 * object that does not serialize is the store's fault, `StoreError`. Core's `readOtherCopy` reads it.
 */
import { readOtherCopy } from '@e2ee-kit/core';
import { RECORD_KIND } from './container.js';
import { KyberPreKeyRecord } from './kyber-prekey-record.js';
import { PreKeyRecord } from './prekey-record.js';
import { PreKeyStateRecord } from './prekey-state-record.js';
import { SessionRecord } from './session-record.js';
import { SignedPreKeyRecord } from './signed-prekey-record.js';

interface RecordClass {
  new (...args: never[]): unknown;
  deserialize(bytes: Uint8Array): unknown;
}

/** The record classes by brand (`brandRecord`'s kind); a null prototype, so no inherited name matches. */
const OWN: Readonly<Record<string, RecordClass>> = Object.assign(Object.create(null), {
  SessionRecord,
  PreKeyRecord,
  SignedPreKeyRecord,
  KyberPreKeyRecord,
  PreKeyStateRecord,
});

/**
 * `value` itself unless it is another copy's record: then the same record as this copy's class.
 * Anything that is not a branded record (null, keys, app values) comes back unchanged.
 */
export function ownRecord<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  const kind = (value as { [RECORD_KIND]?: unknown })[RECORD_KIND];
  if (typeof kind !== 'string') return value;
  const own = OWN[kind];
  if (own === undefined || value instanceof own) return value;
  // Session and pre-key records hold secrets (root, chain and private keys): the array the other
  // copy's serialize() made is overwritten once read, and its errors are not passed on.
  return readOtherCopy(value, kind, own.deserialize, { secret: true, fromStore: true }) as T;
}
