/**
 * Objects of this package's value classes (`PreKeyBundle`, `DecryptionErrorMessage`,
 * `ProvisionMessage`) made by another copy of the package (its `import` and a dependency's `require`,
 * or two versions in one bundle): each class carries a brand of this package, and the other copy's
 * object is read as this copy's through its serialized form by core's `readOtherCopy`, the mechanism
 * core's keys use too. (Stored records go through `ownRecord`.)
 */
import { ownValue, type ValueClass } from '@e2ee-kit/core';

export { brandClass } from '@e2ee-kit/core';

/** The brand symbol of this package's class `name`. */
export function classBrand(name: string): symbol {
  return Symbol.for(`@e2ee-kit/ratchet/${name}@1`);
}

/**
 * `value` itself when it is `own`'s instance; the same object as `own`'s when it is another copy's
 * (branded `brand`), read through one call of its `serialize()` (core's `ownValue`); `undefined` for
 * anything else (the caller throws its `TypeError`). `maxLength`: a longer serialization is refused
 * unread (bounded work).
 */
export function fromOtherCopy<T>(
  value: unknown,
  own: ValueClass<T>,
  brand: symbol,
  what: string,
  maxLength: number,
): T | undefined {
  return ownValue(value, own, brand, what, { maxLength });
}
