/**
 * Objects of this package's classes (`ServerCertificate`, `SenderCertificate`,
 * `UnidentifiedSenderMessageContent`) made by another copy of the package. An app can load two copies
 * (its `import` and a dependency's `require`, or two versions in one bundle): `instanceof` and private
 * fields see only their own copy's objects, so each class carries a brand under a registered symbol
 * (every copy has the same key), and the other copy's object is read as this copy's through its
 * serialized form (libsignal's), validated as bytes from anywhere are. (Core's keys go through their
 * classes' `from`.)
 *
 * The contract (`@1`): a branded object's `serialize()` returns the format its class's `deserialize`
 * reads. A branded object that does not keep it is refused as bad bytes are (`DecodeError`).
 */
import { copyBytes, DecodeError, E2eeError } from '@e2ee-kit/core';
import { MAX_SEALED_MESSAGE_LENGTH } from './constants.js';

/** The brand symbol of this package's class `name`. */
export function classBrand(name: string): symbol {
  return Symbol.for(`@e2ee-kit/sealed-sender/${name}@1`);
}

/** Brands `cls`'s instances (on the prototype: no per-object cost). */
export function brandClass(cls: { readonly prototype: object }, brand: symbol): void {
  Object.defineProperty(cls.prototype, brand, { value: true });
}

interface ValueClass<T> {
  readonly prototype: object;
  deserialize(bytes: Uint8Array): T;
}

/**
 * `value` itself when it is `own`'s instance; the same object as `own`'s when it is another copy's
 * (branded `brand`), read through one call of its `serialize()`; `undefined` for anything else (the
 * caller throws its `TypeError`). A serialization longer than every decoder here accepts is refused
 * unread (bounded work); the error names only `what`, never the other object's message.
 */
export function fromOtherCopy<T>(
  value: unknown,
  own: ValueClass<T>,
  brand: symbol,
  what: string,
): T | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  if (Object.prototype.isPrototypeOf.call(own.prototype, value)) return value as T;
  try {
    if ((value as Record<symbol, unknown>)[brand] !== true) return undefined;
  } catch {
    return undefined; // a property read that throws (a hostile proxy) is no brand
  }
  let bytes: unknown;
  try {
    bytes = (value as { serialize(): unknown }).serialize();
  } catch {
    bytes = undefined; // its error is not ours to pass on: it might quote anything
  }
  // `ArrayBuffer.isView` as well: a proxy passes `instanceof`, and its reads could run any code.
  if (!(bytes instanceof Uint8Array) || !ArrayBuffer.isView(bytes))
    throw new DecodeError(`a ${what} of another copy did not serialize`);
  try {
    if (bytes.length > MAX_SEALED_MESSAGE_LENGTH)
      throw new DecodeError(`a ${what} of another copy is too long`);
    // Our own copy: nothing decoded from it stays a view of the other copy's array.
    return own.deserialize(copyBytes(bytes));
  } catch (err) {
    if (E2eeError.is(err)) throw err;
    throw new DecodeError(`a ${what} of another copy could not be read`);
  }
}
