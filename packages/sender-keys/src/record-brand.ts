/**
 * Records of another copy of this package. An app can load two (its `import` and a dependency's
 * `require`, or two versions in one bundle), and a store that keeps objects (or decodes with the other
 * copy's classes) hands this copy's `GroupCipher` the other copy's records, which `instanceof` and
 * private fields do not recognise. Their persisted format is what every copy reads: such a record is
 * read through its `serialize()` and this copy's `deserialize`, as if the store had kept bytes (a
 * format this copy does not know, a newer version's, is refused as from bytes: `DecodeError`).
 */
import { readOtherCopy, StoreError } from '@e2ee-kit/core';

/**
 * The brand, under a registered symbol (the same key in every copy); its value is the class name.
 * The contract (`@1`): a branded object's `serialize()` returns the record's persisted format, which
 * that class's `deserialize` reads.
 */
const RECORD_KIND = Symbol.for('@e2ee-kit/sender-keys/record@1');

/** Brands `cls`'s instances as records of `kind` (on the prototype: no per-record cost). */
export function brandRecord(cls: { readonly prototype: object }, kind: string): void {
  Object.defineProperty(cls.prototype, RECORD_KIND, { value: kind });
}

/** A record class (their constructors are private: only the prototype and `deserialize` are used). */
interface RecordClass<T> {
  readonly prototype: T;
  deserialize(bytes: Uint8Array): T;
}

/**
 * `value` as a record of this copy's `cls`: itself, or another copy's record of the same `kind` read
 * through its serialized form. Anything else is refused with `StoreError` (`what` names the call).
 */
export function ownRecord<T>(value: unknown, cls: RecordClass<T>, kind: string, what: string): T {
  if (value instanceof (cls as unknown as abstract new () => T)) return value;
  if (
    value === null ||
    typeof value !== 'object' ||
    (value as { [RECORD_KIND]?: unknown })[RECORD_KIND] !== kind
  )
    throw new StoreError(`${what}: the store returned something else`);
  // Sender-key records hold chain and signing keys: the array the other copy's serialize() made is
  // overwritten once read, and its errors are not passed on (core's `readOtherCopy`).
  return readOtherCopy(value, kind, (bytes) => cls.deserialize(bytes), { secret: true, fromStore: true });
}
