// @e2ee-kit/backup-kdf/testing — test-only helpers. Never use them for real backups.
import type { Argon2Params } from '@e2ee-kit/backup-kdf';

export { MemoryAttemptStore } from '@e2ee-kit/backup-kdf';

/** The brand `checkCreationParams` looks for (a registered symbol: no import from the main entry needed). */
const UNSAFE_TEST_BRAND = Symbol.for('@e2ee-kit/backup-kdf/unsafe-test-params');

/**
 * Argon2id parameters below the creation floor (default m = 8 KiB, t = 1, p = 1), so tests run in
 * milliseconds. Creation accepts them only because they carry a brand that only this test entry
 * sets; production code passing a plain `{ memoryKiB: 8, … }` is refused with a `RangeError`.
 * Backups made with them are trivially brute-forced: tests only.
 */
export function unsafeTestParams(params: Partial<Argon2Params> = {}): Argon2Params {
  const p = {
    memoryKiB: params.memoryKiB ?? 8,
    iterations: params.iterations ?? 1,
    parallelism: params.parallelism ?? 1,
  };
  Object.defineProperty(p, UNSAFE_TEST_BRAND, { value: true, enumerable: false });
  return Object.freeze(p);
}
