/**
 * Key objects of another copy of this package. An app can load two copies (its `import` and a
 * dependency's `require`, or two versions in one bundle); each has its own key classes, and
 * `instanceof` and private fields see only their own. So each key class carries a brand under a
 * registered symbol (`Symbol.for`: every copy has the same key), and a key of the other copy is read
 * as this copy's through its public serialized form, the one thing every copy reads, with the same
 * validation as bytes from anywhere.
 *
 * The contract (`@1`): a branded object's `serialize()` returns that class's serialized form, which
 * the class's `deserialize` reads, as a fresh array its caller owns (the key classes all copy out).
 * A branded object that does not keep that contract is refused as bad bytes are (`DecodeError`).
 */
import { DecodeError, E2eeError } from './errors.js';

/** The brand symbol of the core key class `name` (its value on the prototype: `true`). */
export function keyBrand(name: string): symbol {
  return Symbol.for(`@e2ee-kit/core/${name}@1`);
}

/** Brands `cls`'s instances (on the prototype: no per-key cost). */
export function brandKeyClass(cls: { readonly prototype: object }, brand: symbol): void {
  Object.defineProperty(cls.prototype, brand, { value: true });
}

/** Whether `value` carries `brand`. A property read that throws (a hostile proxy) is no brand. */
export function hasKeyBrand(value: unknown, brand: symbol): value is object {
  if (value === null || typeof value !== 'object') return false;
  try {
    return (value as Record<symbol, unknown>)[brand] === true;
  } catch {
    return false;
  }
}

/**
 * Reads another copy's key `value` (branded `what`) through one call of its `serialize()`: `read`
 * gets the bytes that call returned (it validates and copies them, keeping no view). Whatever goes
 * wrong is a `DecodeError` naming only `what`: no message of the other object's, which might quote
 * key bytes, and for a secret key no `cause` either. `secret`: the serialized bytes hold a secret, so
 * they are overwritten once read (they are the temporary copy the contract says `serialize()` makes).
 * Bounded: `read` checks the length before any work that grows with it.
 */
export function readForeignKey<T>(
  value: object,
  what: string,
  read: (bytes: Uint8Array) => T,
  secret: boolean,
): T {
  let bytes: unknown;
  let cause: unknown;
  try {
    bytes = (value as { serialize(): unknown }).serialize();
  } catch (err) {
    cause = err;
  }
  // `ArrayBuffer.isView` as well: a proxy passes `instanceof`, and its reads could run any code.
  if (!(bytes instanceof Uint8Array) || !ArrayBuffer.isView(bytes))
    throw new DecodeError(`a ${what} of another copy did not serialize`, secret ? undefined : { cause });
  try {
    return read(bytes);
  } catch (err) {
    // The class's own refusals (`DecodeError`, `InvalidKeyError`) name no bytes; anything else (a
    // `Uint8Array` subclass whose `length` lies, say) is refused the same way, without its message.
    if (E2eeError.is(err)) throw err;
    throw new DecodeError(`a ${what} of another copy could not be read`);
  } finally {
    if (secret) Uint8Array.prototype.fill.call(bytes, 0);
  }
}
