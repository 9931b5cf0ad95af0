/**
 * Certificates and contents name who is talking: exactly what sealed sender hides from the server.
 * Their objects print as a fixed label under `toString`, `JSON.stringify` and `util.inspect`, so
 * logging one never writes a sender, a key or content to a log.
 */
const INSPECT = Symbol.for('nodejs.util.inspect.custom');

export function redact(proto: object, label: string): void {
  const text = `[${label}]`;
  const value = (): string => text;
  for (const key of ['toString', 'toJSON', INSPECT] as const)
    Object.defineProperty(proto, key, { value, writable: true, configurable: true, enumerable: false });
}
