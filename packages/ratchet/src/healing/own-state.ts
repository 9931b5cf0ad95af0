/**
 * `ResendCache` and `RetryPolicy` hold state — the cache its keys and its store, the policy the
 * counters that end retry loops — so an object of another copy of this package (an app that loads
 * its ES module and CommonJS builds, or two versions) is not read as this copy's, as key objects and
 * bundles are (other-copy.ts): read through a serialized form, the policy's counters would fork into
 * a second set the other copy's users never see (each limit allowed twice over), and used through
 * its methods, this copy would act on another version's decisions. Each class carries a brand, so
 * that such an object is refused at once by an `UnsupportedError` saying what it is, rather than by
 * a `TypeError` saying it is not a cache at all.
 */
import { hasBrand, UnsupportedError } from '@e2ee-kit/core';

/** The brand of stateful class `name`: recognition only, no serialized form promised (so no `@1`). */
export function stateBrand(name: string): symbol {
  return Symbol.for(`@e2ee-kit/ratchet/state/${name}`);
}

/**
 * `value` itself when it is an instance of `own` (named `what`, passed as option `name`); another
 * copy's (it carries `brand`) is an `UnsupportedError`, anything else a `TypeError`.
 */
export function ownState<T>(
  value: unknown,
  own: { readonly prototype: T },
  brand: symbol,
  name: string,
  what: string,
): T {
  if (
    value !== null &&
    typeof value === 'object' &&
    Object.prototype.isPrototypeOf.call(own.prototype, value)
  )
    return value as T;
  if (hasBrand(value, brand))
    throw new UnsupportedError(
      `${name} is a ${what} of another copy of @e2ee-kit/ratchet (two builds or versions loaded): make it with the copy the HealingCipher comes from`,
    );
  throw new TypeError(`${name} must be a ${what}`);
}
