// Test-only (issue 11.7, "secrets never print"): render an object every way an app might print it and
// look for secret bytes in the text, for the object itself, its own fields and every getter of its
// prototype chain (array results element by element).
import { format, inspect } from 'node:util';
import { describe, expect, it } from 'vitest';

/** The searched prefix of each secret: 16 bytes cannot turn up by chance. */
const PREFIX = 16;

/** Every text an app could get out of `value` by printing or logging it. */
export function renderings(value: unknown): string[] {
  const out: string[] = [];
  const attempt = (f: () => unknown) => {
    try {
      const s = f();
      if (typeof s === 'string') out.push(s);
    } catch {
      // some renderings throw for some values (JSON of a BigInt): nothing printed, nothing leaked
    }
  };
  attempt(() => inspect(value));
  attempt(() =>
    inspect(value, {
      depth: Number.POSITIVE_INFINITY,
      showHidden: true,
      maxArrayLength: null,
      maxStringLength: null,
    }),
  );
  attempt(() => inspect(value, { customInspect: true, getters: true, depth: 6 }));
  attempt(() => String(value));
  attempt(() => `${value as string}`);
  attempt(() => (value as { toString?: () => string } | null)?.toString?.());
  attempt(() => JSON.stringify(value));
  attempt(() => JSON.stringify({ value }));
  attempt(() => format('%s %o %O %j', value, value, value, value));
  attempt(() => {
    // console.log itself, captured.
    const lines: string[] = [];
    const log = console.log;
    console.log = (...args: unknown[]) => lines.push(format(...args));
    try {
      console.log(value);
      console.log('%s', value);
    } finally {
      console.log = log;
    }
    return lines.join('\n');
  });
  return out;
}

/** Where `secret` shows in `text` (hex, base64, base64url, decimal list, JSON index/value pairs), or undefined. */
export function leakIn(text: string, secret: Uint8Array): string | undefined {
  const head = secret.subarray(0, Math.min(PREFIX, secret.length));
  const b = Buffer.from(head);
  const compact = text.replace(/[\s:,]/g, '').toLowerCase();
  if (compact.includes(b.toString('hex'))) return 'hex';
  if (text.includes(b.toString('base64').slice(0, 20))) return 'base64';
  if (text.includes(b.toString('base64url').slice(0, 20))) return 'base64url';
  const nums = (text.match(/\d+/g) ?? []).map(Number);
  for (const stride of [1, 2]) {
    for (let i = 0; i + head.length * stride <= nums.length; i++) {
      let all = true;
      for (let j = 0; j < head.length && all; j++) all = nums[i + j * stride] === head[j];
      if (all) return stride === 1 ? 'decimal bytes' : 'JSON index/value pairs';
    }
  }
  return undefined;
}

/**
 * The walk stops at the language's own prototypes: `secret.buffer` (a typed array's `ArrayBuffer`) is
 * an app reaching into raw memory on purpose, not a getter of ours.
 */
const BUILT_IN = new Set<unknown>([
  Object.prototype,
  Object.getPrototypeOf(Uint8Array.prototype),
  Uint8Array.prototype,
  Array.prototype,
  Map.prototype,
  Set.prototype,
  Error.prototype,
]);

/** The object, its own fields and its getters' values (arrays: each element), with a path for messages. */
export function reachable(root: object, label: string): Array<{ path: string; value: unknown }> {
  const out: Array<{ path: string; value: unknown }> = [{ path: label, value: root }];
  const add = (path: string, value: unknown) => {
    out.push({ path, value });
    if (Array.isArray(value))
      for (const [i, v] of value.slice(0, 64).entries()) out.push({ path: `${path}[${i}]`, value: v });
    if (value instanceof Map)
      for (const [i, v] of [...value.values()].slice(0, 64).entries())
        out.push({ path: `${path}.get#${i}`, value: v });
  };
  for (const key of Reflect.ownKeys(root)) {
    const d = Object.getOwnPropertyDescriptor(root, key);
    if (d && 'value' in d && typeof d.value !== 'function') add(`${label}.${String(key)}`, d.value);
  }
  for (
    let proto = Object.getPrototypeOf(root);
    proto && !BUILT_IN.has(proto);
    proto = Object.getPrototypeOf(proto)
  ) {
    for (const key of Reflect.ownKeys(proto)) {
      const d = Object.getOwnPropertyDescriptor(proto, key);
      if (!d?.get) continue;
      try {
        add(`${label}.${String(key)}`, d.get.call(root));
      } catch {
        // a getter that throws on this instance prints nothing
      }
    }
  }
  return out;
}

/**
 * Fails if any rendering of `root`, its fields or its getters shows any of `secrets`. Returns how many
 * renderings were searched (so a caller can assert the walk did something).
 */
export function expectRedacted(
  root: object,
  label: string,
  secrets: Record<string, Uint8Array | string>,
): number {
  let searched = 0;
  for (const [name, secret] of Object.entries(secrets))
    if (secret.length < 16) throw new Error(`test setup: secret ${name} is too short`);
  for (const { path, value } of reachable(root, label)) {
    for (const text of renderings(value)) {
      searched++;
      for (const [name, secret] of Object.entries(secrets)) {
        const how =
          typeof secret === 'string' ? (text.includes(secret) ? 'text' : undefined) : leakIn(text, secret);
        expect(how, `${path} prints ${name} (${how}): ${text.slice(0, 200)}`).toBeUndefined();
      }
    }
  }
  return searched;
}

/** Exported classes of a module (Error subclasses excepted: they carry messages, never key material). */
export function exportedClasses(module: Record<string, unknown>): string[] {
  return Object.entries(module)
    .filter(
      ([, v]) =>
        typeof v === 'function' &&
        /^class\b/.test(Function.prototype.toString.call(v)) &&
        !((v as { prototype: unknown }).prototype instanceof Error),
    )
    .map(([k]) => k)
    .sort();
}

/**
 * The two tests every package's redaction.test.ts runs: each exported class of `modules` has an
 * instance in `build()`, and no instance, field or getter prints a secret (at least `minSearched`
 * renderings searched, so an empty walk cannot pass).
 */
export function describeRedaction(
  title: string,
  modules: ReadonlyArray<Record<string, unknown>>,
  build: () => Promise<{ objects: Record<string, object>; secrets: Record<string, Uint8Array | string> }>,
  minSearched: number,
): void {
  describe(title, () => {
    it('every exported class is built', async () => {
      const { objects } = await build();
      for (const name of modules.flatMap(exportedClasses))
        expect(Object.keys(objects), `${name} has no instance in this test`).toContain(name);
    });
    it('no rendering of any instance, field or getter shows a secret', async () => {
      const { objects, secrets } = await build();
      let searched = 0;
      for (const [name, obj] of Object.entries(objects)) {
        expect(obj, name).toBeTypeOf('object');
        searched += expectRedacted(obj, name, secrets);
      }
      expect(searched).toBeGreaterThan(minSearched);
    });
  });
}
