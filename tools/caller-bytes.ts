// Test-only (issue 11.1, "any bytes in, nothing aliased"): the shapes of Uint8Array apps really pass,
// and a check that a call neither wrote to them nor kept a view of them.
//
// Shapes: a plain array; a view into the middle of a larger ArrayBuffer (guard bytes around it); a
// Node Buffer from the shared 8 KiB pool (what `ws`, `fs`, `net` and most database drivers hand out),
// allocated between two guard Buffers so the surrounding pool bytes can be checked too.
import { expect } from 'vitest';

const GUARD = 24;
const GUARD_BYTE = 0xa5;

export interface CallerBytes {
  /** Shape name, for test titles. */
  readonly shape: string;
  /** The array passed to the function under test. */
  readonly input: Uint8Array;
  /** Fails unless the input and the bytes around it are exactly as before the call. */
  assertUntouched(): void;
  /** Overwrites the caller's array (as an app reusing its buffer would). */
  scribble(): void;
}

type Shape = (bytes: Uint8Array) => CallerBytes;

function guarded(
  shape: string,
  input: Uint8Array,
  original: Uint8Array,
  guards: Uint8Array[],
  poolCheck: boolean,
): CallerBytes {
  return {
    shape,
    input,
    assertUntouched() {
      expect(
        Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('hex'),
        `${shape}: input`,
      ).toBe(Buffer.from(original).toString('hex'));
      for (const g of guards)
        expect(
          g.every((b) => b === GUARD_BYTE),
          `${shape}: bytes around the input`,
        ).toBe(true);
      if (poolCheck) expect(input.buffer.byteLength, `${shape}: still a pool slice`).toBe(Buffer.poolSize);
    },
    scribble() {
      input.fill(0x5a);
      if (input.length > 0) input[0] = 0xc3;
    },
  };
}

/** A plain Uint8Array copy of the value. */
const plain: Shape = (bytes) => {
  const input = new Uint8Array(bytes);
  return guarded('plain', input, bytes, [], false);
};

/** A view at an odd offset into a larger ArrayBuffer, guard bytes before and after. */
const offsetView: Shape = (bytes) => {
  const backing = new Uint8Array(GUARD + bytes.length + GUARD).fill(GUARD_BYTE);
  backing.set(bytes, GUARD);
  const input = backing.subarray(GUARD, GUARD + bytes.length);
  return guarded(
    'offset view',
    input,
    bytes,
    [backing.subarray(0, GUARD), backing.subarray(GUARD + bytes.length)],
    false,
  );
};

/**
 * A Buffer from Node's shared pool (values shorter than half the pool are pooled), between two pooled
 * guard Buffers. Values too long for the pool become plain Buffers, still with their own `slice()`.
 */
const pooledBuffer: Shape = (bytes) => {
  // Retried when the pool fills up between the three allocations (a new pool starts then).
  for (let attempt = 0; ; attempt++) {
    const before = Buffer.from(new Uint8Array(GUARD).fill(GUARD_BYTE));
    const input = Buffer.from(bytes);
    const after = Buffer.from(new Uint8Array(GUARD).fill(GUARD_BYTE));
    const pooled =
      input.buffer.byteLength === Buffer.poolSize &&
      input.buffer === before.buffer &&
      input.buffer === after.buffer;
    const poolable = bytes.length > 0 && bytes.length < Buffer.poolSize >>> 2;
    if (pooled || !poolable)
      return guarded(
        pooled ? 'pooled Buffer' : 'Buffer',
        input,
        bytes,
        pooled ? [before, after] : [],
        pooled,
      );
    if (attempt === 3) throw new Error('test setup: expected a pooled Buffer');
  }
};

export const shapes: ReadonlyArray<{ name: string; make: Shape }> = [
  { name: 'plain', make: plain },
  { name: 'offset view', make: offsetView },
  { name: 'pooled Buffer', make: pooledBuffer },
];

/** The non-plain shapes (the plain one is the reference). */
export const foreignShapes = shapes.filter((s) => s.name !== 'plain');

/**
 * Calls `call` with `originals` in `shape`, then checks: the inputs (and the bytes around them) are
 * unchanged; `observe(result)` equals `observe` of a call with plain copies (`expected`); and after the
 * caller's arrays are overwritten, `observe(result)` is still the same (no view kept).
 */
export async function checkCallerBytes<T>(
  shape: Shape,
  originals: readonly Uint8Array[],
  call: (...inputs: Uint8Array[]) => T | Promise<T>,
  observe: (result: T) => unknown,
  expected?: unknown,
): Promise<T> {
  const made = originals.map((o) => shape(o));
  const result = await call(...made.map((m) => m.input));
  for (const m of made) m.assertUntouched();
  const seen = await observe(result);
  if (expected !== undefined) expect(seen).toEqual(expected);
  for (const m of made) m.scribble();
  expect(await observe(result), 'result after the caller reused its buffers').toEqual(seen);
  return result;
}

/** Hex of every Uint8Array in a nested value (for `observe` functions). */
export function hexOf(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (Array.isArray(value)) return value.map(hexOf);
  return value;
}
