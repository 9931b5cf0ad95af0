// Fault injection for attempt stores (test helper, not part of the package): an `AttemptStore` over
// a `MemoryAttemptStore` whose k-th call (1-based, get/set/compareAndSet alike) goes wrong once.
import { type AttemptStore, MemoryAttemptStore } from '@e2ee-kit/backup-kdf';
import { type CryptoProvider, nobleProvider, utf8 } from '@e2ee-kit/core';

/**
 * - `throw`: the call throws and changes nothing;
 * - `land`: the call takes effect, then throws (the answer was lost on the way back);
 * - `stale`: another context writes just before the call takes effect, so a `get` answers what
 *   was stored before that write and a `compareAndSet` meets bytes it was not told about;
 * - `crash`: the process dies after exactly k calls: nothing after them takes effect (each later
 *   call throws), and the test goes on with a fresh opener on the store as the k calls left it.
 */
export type Fault = 'throw' | 'land' | 'stale' | 'crash';
export const FAULTS: readonly Fault[] = ['throw', 'land', 'stale', 'crash'];

export interface FaultyStore extends AttemptStore {
  /** The store as it is (what a fresh opener, or a restarted process, sees). */
  readonly inner: MemoryAttemptStore;
  /** Calls made through this wrapper so far. */
  readonly calls: number;
  /** A `crash` happened: this context is gone, go on with a fresh opener on `inner`. */
  readonly crashed: boolean;
}

/**
 * `fault` at call `at` (0: none). `meanwhile` is the other context's write for `stale`: it runs
 * against `inner` directly. `cas: false` leaves `compareAndSet` out (a get/set-only store).
 */
export function faultyStore(
  fault: Fault,
  at: number,
  meanwhile: (inner: MemoryAttemptStore) => Promise<void>,
  cas = true,
): FaultyStore {
  const inner = new MemoryAttemptStore();
  let calls = 0;
  const call = async <T>(op: () => Promise<T>, isGet: boolean): Promise<T> => {
    const k = ++calls;
    if (fault === 'crash') {
      if (k > at && at > 0) throw new Error('process crashed');
      return op();
    }
    if (k !== at) return op();
    if (fault === 'throw') throw new Error('store unavailable');
    if (fault === 'land') {
      await op();
      throw new Error('store answer lost');
    }
    if (isGet) {
      const stale = await op();
      await meanwhile(inner);
      return stale;
    }
    await meanwhile(inner);
    return op();
  };
  const store = {
    inner,
    get calls() {
      return calls;
    },
    get crashed() {
      return fault === 'crash' && at > 0 && calls > at;
    },
    get: (key: string) => call(() => inner.get(key), true),
    set: (key: string, value: Uint8Array) => call(() => inner.set(key, value), false),
  };
  if (!cas) return store;
  return Object.assign(store, {
    compareAndSet: (key: string, expected: Uint8Array | undefined, value: Uint8Array) =>
      call(() => inner.compareAndSet(key, expected, value), false),
  });
}

const RECOVERY_KEK = utf8('backup-kdf/v1/kek/recovery');

/**
 * A crypto provider that counts recovery-key guesses: the HKDF that makes a recovery slot's KEK
 * runs once per slot a key is tried on (the recovery key's "KDF", as Argon2 is the password's).
 */
export function countingRecoveryProvider(): CryptoProvider & { guesses: number } {
  const p: CryptoProvider & { guesses: number } = {
    ...nobleProvider,
    guesses: 0,
    hkdfSha256(ikm, salt, info, length) {
      if (info.length === RECOVERY_KEK.length && info.every((b, i) => b === RECOVERY_KEK[i])) p.guesses++;
      return nobleProvider.hkdfSha256(ikm, salt, info, length);
    },
  };
  return p;
}
