/**
 * Objects of this package's classes (`ServerCertificate`, `SenderCertificate`,
 * `UnidentifiedSenderMessageContent`) made by another copy of the package (its `import` and a
 * dependency's `require`, or two versions in one bundle): each class carries a brand of this package,
 * and the other copy's object is read as this copy's through its serialized form (libsignal's) by
 * core's `readOtherCopy`, the mechanism core's keys use too.
 */
import { ownValue, type ValueClass } from '@e2ee-kit/core';
import { MAX_SEALED_MESSAGE_LENGTH } from './constants.js';

export { brandClass } from '@e2ee-kit/core';

/** The brand symbol of this package's class `name`. */
export function classBrand(name: string): symbol {
  return Symbol.for(`@e2ee-kit/sealed-sender/${name}@1`);
}

/**
 * `value` itself when it is `own`'s instance; the same object as `own`'s when it is another copy's
 * (branded `brand`), read through one call of its `serialize()`; `undefined` for anything else (the
 * caller throws its `TypeError`). A serialization longer than every decoder here accepts is refused
 * unread (bounded work). Read as a secret (no `cause` from the other object, its array overwritten
 * once read): a message content holds the plaintext, and certificates are treated alike.
 */
export function fromOtherCopy<T>(
  value: unknown,
  own: ValueClass<T>,
  brand: symbol,
  what: string,
): T | undefined {
  return ownValue(value, own, brand, what, { secret: true, maxLength: MAX_SEALED_MESSAGE_LENGTH });
}
