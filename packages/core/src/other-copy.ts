/**
 * Objects of another copy of a package. An app can load two copies (its `import` and a dependency's
 * `require`, or two versions in one bundle); each has its own classes, and `instanceof` and private
 * fields see only their own. So each class whose objects cross package boundaries carries a brand
 * under a registered symbol (`Symbol.for`: every copy has the same key), and an object of the other
 * copy is read as this copy's through its public serialized form, the one thing every copy reads, with
 * the same validation as bytes from anywhere. Core's key classes use this (their `from()`), and so do
 * the other packages' value classes (bundles, certificates, provision messages): one mechanism.
 *
 * The contract (`@1` in the brand): a branded object's `serialize()` returns that class's serialized
 * form, which the class's `deserialize` reads, as a fresh array its caller owns. A branded object that
 * does not keep that contract is refused as bad bytes are (`DecodeError`).
 */
import { DecodeError, E2eeError, StoreError } from './errors.js';

/** The brand symbol of core's key class `name` (its value on the prototype: `true`). */
export function keyBrand(name: string): symbol {
  return Symbol.for(`@e2ee-kit/core/${name}@1`);
}

/** Brands `cls`'s instances with `brand` (on the prototype: no per-object cost). */
export function brandClass(cls: { readonly prototype: object }, brand: symbol): void {
  Object.defineProperty(cls.prototype, brand, { value: true });
}

/** Whether `value` carries `brand`. A property read that throws (a hostile proxy) is no brand. */
export function hasBrand(value: unknown, brand: symbol): value is object {
  if (value === null || typeof value !== 'object') return false;
  try {
    return (value as Record<symbol, unknown>)[brand] === true;
  } catch {
    return false;
  }
}

export interface ReadOtherCopyOptions {
  /**
   * The serialized form holds a secret (private keys, a plaintext): the array `serialize()` returned
   * is overwritten once read (it is the temporary copy the contract says it makes), and no refusal
   * carries a `cause` (the other object's error might quote the secret).
   */
  readonly secret?: boolean;
  /** A longer serialization is refused unread (bounded work for what `read` then does). */
  readonly maxLength?: number;
  /**
   * The object came from the app's store (a stored record): an object that does not serialize, or
   * whose bytes `read` fails on with an untyped error, is the store's fault, refused with
   * `StoreError` instead of `DecodeError`. `read`'s own typed refusals (a format no copy wrote:
   * `DecodeError`) pass through as they are.
   */
  readonly fromStore?: boolean;
}

/**
 * Reads another copy's object `value` (its class named `what`) through one call of its
 * `serialize()`: `read` gets the bytes that call returned (it validates them and copies what it
 * keeps: no view of them may stay). Whatever goes wrong is a `DecodeError` naming only `what`, never a
 * message of the other object's; `read`'s own typed refusals pass through as they are.
 */
export function readOtherCopy<T>(
  value: object,
  what: string,
  read: (bytes: Uint8Array) => T,
  options: ReadOtherCopyOptions = {},
): T {
  const { secret = false, maxLength, fromStore = false } = options;
  const Refusal = fromStore ? StoreError : DecodeError;
  let bytes: unknown;
  let cause: unknown;
  try {
    bytes = (value as { serialize(): unknown }).serialize();
  } catch (err) {
    cause = err;
  }
  // `ArrayBuffer.isView` as well: a proxy passes `instanceof`, and its reads could run any code.
  if (!(bytes instanceof Uint8Array) || !ArrayBuffer.isView(bytes))
    throw new Refusal(`a ${what} of another copy did not serialize`, secret ? undefined : { cause });
  try {
    if (maxLength !== undefined && bytes.length > maxLength)
      throw new DecodeError(`a ${what} of another copy is too long`);
    return read(bytes);
  } catch (err) {
    // The class's own refusals (`DecodeError`, `InvalidKeyError`) name no bytes; anything else (a
    // `Uint8Array` subclass whose `length` lies, say) is refused the same way, without its message.
    if (E2eeError.is(err)) throw err;
    throw new Refusal(`a ${what} of another copy could not be read`);
  } finally {
    if (secret) Uint8Array.prototype.fill.call(bytes, 0);
  }
}

/** A class whose objects cross copies: its prototype (for `instanceof`) and its decoder. */
export interface ValueClass<T> {
  readonly prototype: object;
  deserialize(bytes: Uint8Array): T;
}

/**
 * An argument that should be `cls`'s instance: `value` itself when it is; the same object as `cls`'s
 * when it is another copy's (branded `brand`), read by `readOtherCopy` through one call of its
 * `serialize()`; `undefined` for anything else, unread, so the caller decides (a `TypeError`, or
 * decoding bytes). Without `secret`, `cls.deserialize` gets a copy of those bytes. With `secret` it
 * gets the temporary itself, overwritten once read (a second copy would stay in memory unwiped): its
 * decoder must copy what it keeps, as every decoder of these packages does.
 */
export function ownValue<T>(
  value: unknown,
  cls: ValueClass<T>,
  brand: symbol,
  what: string,
  options: ReadOtherCopyOptions,
): T | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  if (Object.prototype.isPrototypeOf.call(cls.prototype, value)) return value as T;
  if (!hasBrand(value, brand)) return undefined;
  // `new Uint8Array(view)` copies (a Buffer's `slice` would be a view of the other object's array).
  const read = (bytes: Uint8Array) => cls.deserialize(options.secret ? bytes : new Uint8Array(bytes));
  return readOtherCopy(value, what, read, options);
}
