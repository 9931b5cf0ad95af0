/**
 * Redaction: objects that hold key material print a fixed label instead of their contents under
 * `util.inspect` / `console.log` (Node's `inspect.custom` symbol, also honoured by many loggers),
 * `String()`, template literals, `toString()` and `JSON.stringify` (`toJSON`).
 *
 * `redact(SomeClass, label)` installs the three members on the class's prototype (one line after a
 * class, so classes whose logic others edit get a small, separate hunk); `redact(object, label)` puts
 * them on one object as non-enumerable properties (plain state objects handed out by internal
 * getters; object spread does not copy them, so redact again where copies are made). Members a class
 * already defines itself are left alone. Redaction is not erasure: the bytes are still reachable from
 * code and from a heap snapshot.
 */

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/** Either a fixed label or one computed from the instance (never from its secret fields). */
export type RedactionLabel = string | ((self: never) => string);

// biome-ignore lint/suspicious/noExplicitAny: any class, whatever its constructor takes
type AnyClass = abstract new (...args: any[]) => object;

function members(label: RedactionLabel): PropertyDescriptorMap {
  const text = function (this: unknown): string {
    return typeof label === 'function' ? (label as (self: unknown) => string)(this) : label;
  };
  const d = (value: unknown): PropertyDescriptor => ({
    value,
    writable: true,
    configurable: true,
    enumerable: false,
  });
  return { toString: d(text), toJSON: d(text), [INSPECT]: d(text) };
}

/** Installs redacting `toString`, `toJSON` and `util.inspect` members on a class or one object. */
export function redact<T extends object>(target: T, label: RedactionLabel): T {
  if (target === null || (typeof target !== 'object' && typeof target !== 'function'))
    throw new TypeError('redact needs a class or an object');
  const on = typeof target === 'function' ? ((target as unknown as AnyClass).prototype as object) : target;
  const all = members(label);
  for (const key of Reflect.ownKeys(all)) {
    if (Object.hasOwn(on, key)) continue;
    Object.defineProperty(on, key, all[key as keyof PropertyDescriptorMap] as PropertyDescriptor);
  }
  return target;
}

/**
 * Secret bytes kept inside a key object and handed out by its internal `rawView` getter: a
 * `Uint8Array` (every API that takes one takes it) that prints as `[secret N bytes]`. Copies made with
 * `copyBytes` (what `serialize()` returns) are plain arrays again: the caller asked for the bytes.
 */
export class SecretBytes extends Uint8Array {
  /** A secret copy of `bytes` (never a view of them). */
  static copyOf(bytes: Uint8Array, start = 0, end: number = bytes.length): SecretBytes {
    const out = new SecretBytes(end - start);
    out.set(new Uint8Array(bytes.buffer, bytes.byteOffset + start, end - start));
    return out;
  }
  override toString(): string {
    return `[secret ${this.length} bytes]`;
  }
  toJSON(): string {
    return this.toString();
  }
  [INSPECT](): string {
    return this.toString();
  }
}
