// Test-only: loading Wycheproof files and keeping an honest count of what every vector proved.
import { readVectorJson } from '../../../../tools/vectors.js';

export interface WycheproofTest {
  readonly tcId: number;
  readonly comment?: string;
  readonly flags: readonly string[];
  readonly result: 'valid' | 'invalid' | 'acceptable';
}

export interface WycheproofFile<G> {
  readonly algorithm: string;
  readonly numberOfTests: number;
  readonly testGroups: readonly G[];
}

export function loadWycheproof<G>(name: string): WycheproofFile<G> {
  return readVectorJson<WycheproofFile<G>>(`wycheproof/${name}`);
}

/** Hex → bytes without going through the code under test. */
export function hex(s: string): Uint8Array {
  if (!/^(?:[0-9a-f]{2})*$/i.test(s)) throw new Error(`bad hex in vector: ${s.slice(0, 16)}`);
  return Uint8Array.from(Buffer.from(s, 'hex'));
}

export function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}

/** Runs `fn` synchronously and returns what it threw (or `undefined` if it returned). */
export function caught(fn: () => unknown): unknown {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err;
  }
}

/** Runs `fn` and returns what it threw (or `undefined` if it returned). */
export async function thrown(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
    return undefined;
  } catch (err) {
    return err;
  }
}

/**
 * Per-provider outcome counts. Every vector lands in exactly one bucket, and the test asserts the
 * buckets add up to the file's `numberOfTests`, so nothing is skipped silently.
 */
export class Tally {
  readonly #counts = new Map<string, number>();
  readonly failures: string[] = [];

  add(bucket: string): void {
    this.#counts.set(bucket, (this.#counts.get(bucket) ?? 0) + 1);
  }

  fail(tcId: number, what: string): void {
    this.failures.push(`tc ${tcId}: ${what}`);
  }

  get total(): number {
    let n = 0;
    for (const v of this.#counts.values()) n += v;
    return n;
  }

  count(bucket: string): number {
    return this.#counts.get(bucket) ?? 0;
  }

  print(title: string): void {
    const parts = [...this.#counts].map(([k, v]) => `${k}=${v}`).join(', ');
    console.log(`[wycheproof] ${title}: ${this.total} vectors: ${parts}`);
  }
}
