// @e2ee-kit/backup-kdf/testing — test-only helpers. Never use them for real backups.
import type { Argon2Params, Argon2Provider } from '@e2ee-kit/backup-kdf';

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

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/**
 * Conformance check for your own `Argon2Provider` (e.g. a React Native native module): runs the
 * spec's cross vector (RFC 9106 §5.3 inputs without associated data) and, when the provider says
 * it supports associated data, the RFC 9106 §5.3 Argon2id vector itself. Throws on a mismatch.
 */
export async function checkArgon2Provider(provider: Argon2Provider): Promise<void> {
  const input = {
    password: new Uint8Array(32).fill(0x01),
    salt: new Uint8Array(16).fill(0x02),
    secret: new Uint8Array(8).fill(0x03),
    memoryKiB: 32,
    iterations: 3,
    parallelism: 4,
    hashLength: 32,
  };
  const noAd = hex(await provider.argon2id(input));
  if (noAd !== '0034de3c8a75efc1148100eaf5ba9b1ce6d50ba5cdf6ae4018c54a4fc03ac10d') {
    throw new Error(`${provider.name}: Argon2id cross vector mismatch`);
  }
  if (provider.supportsAssociatedData) {
    const rfc = hex(await provider.argon2id({ ...input, associatedData: new Uint8Array(12).fill(0x04) }));
    if (rfc !== '0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659') {
      throw new Error(`${provider.name}: RFC 9106 Argon2id vector mismatch`);
    }
  }
}
