/**
 * Attempt limiting (spec §8.6). A device-side control: it slows down someone guessing on *this*
 * device, but anyone who copies the backup file can guess offline at Argon2's cost, and a reinstall
 * or a wiped store resets the count. For limits an attacker cannot bypass, add an external slot
 * whose secret a rate-limiting server, HSM or enclave releases (see `ExternalSlotInit`).
 */
import { copyBytes, DecodeError, KeyedMutex, redact, StoreError } from '@e2ee-kit/core';

export interface AttemptState {
  /** Consecutive failures so far. */
  readonly failures: number;
  /** Attempts left before the next lockout (0 when locked). */
  readonly remainingAttempts: number;
  /** Set while locked. */
  readonly lockedUntil: Date | undefined;
}

/** A pluggable policy. `scope` is `<backup id hex>:<method>` (password, recovery, hex). */
export interface AttemptPolicy {
  /** Current state; `lockedUntil` in the future means the attempt must not run. */
  check(scope: string): Promise<AttemptState>;
  recordFailure(scope: string): Promise<AttemptState>;
  recordSuccess(scope: string): Promise<void>;
}

/** Where `LocalBackoffPolicy` keeps its counters: Keychain/Keystore, IndexedDB, a file… (bytes in, bytes out). */
export interface AttemptStore {
  get(key: string): Promise<Uint8Array | undefined>;
  set(key: string, value: Uint8Array): Promise<void>;
}

/** Keeps bytes in memory (lost on restart: use a persistent store in apps). */
export class MemoryAttemptStore implements AttemptStore {
  readonly #map = new Map<string, Uint8Array>();
  async get(key: string): Promise<Uint8Array | undefined> {
    const v = this.#map.get(key);
    return v && copyBytes(v);
  }
  async set(key: string, value: Uint8Array): Promise<void> {
    this.#map.set(key, copyBytes(value));
  }
}
redact(MemoryAttemptStore, '[MemoryAttemptStore]');

/** 30 s, 5 min, 1 h, then 24 h for every further failure. */
export const DEFAULT_LOCKOUT_STEPS_MS: readonly number[] = Object.freeze([
  30_000, 300_000, 3_600_000, 86_400_000,
]);

export interface LocalBackoffPolicyOptions {
  store: AttemptStore;
  /** Consecutive failures before the first lockout (default 5). */
  maxFailures?: number;
  /**
   * The same for imported 64-hex keys (scope ending in `:hex`, default 10): they have no checksum,
   * so a typo can only show up as a failed unlock (spec §8.7).
   */
  maxFailuresHexKey?: number;
  /** Lockout lengths: the n-th failure past `maxFailures` waits `steps[min(n, last)]` (default 30 s, 5 min, 1 h, 24 h). */
  lockoutStepsMs?: readonly number[];
  /** Clock in ms since the epoch (default `Date.now`). */
  now?: () => number;
}

const RECORD_TAG = 0xa7;
const RECORD_VERSION = 1;

function encodeRecord(failures: number, lockedUntilMs: number): Uint8Array {
  const b = new Uint8Array(14);
  const v = new DataView(b.buffer);
  b[0] = RECORD_TAG;
  b[1] = RECORD_VERSION;
  v.setUint32(2, failures);
  v.setFloat64(6, lockedUntilMs);
  return b;
}

function decodeRecord(b: Uint8Array): { failures: number; lockedUntilMs: number } {
  if (!(b instanceof Uint8Array) || b.length !== 14 || b[0] !== RECORD_TAG || b[1] !== RECORD_VERSION) {
    throw new DecodeError('attempt record is malformed');
  }
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const lockedUntilMs = v.getFloat64(6);
  if (!Number.isFinite(lockedUntilMs) || lockedUntilMs < 0)
    throw new DecodeError('attempt record is malformed');
  return { failures: v.getUint32(2), lockedUntilMs };
}

/**
 * Default policy: after `maxFailures` (5; 10 for imported hex keys) consecutive failures, lock for 30 s; every further failure
 * locks again for longer (5 min, 1 h, 24 h…); a success resets the count. A malformed stored record
 * fails closed (`DecodeError`).
 */
export class LocalBackoffPolicy implements AttemptPolicy {
  readonly #store: AttemptStore;
  readonly #max: number;
  readonly #maxHex: number;
  readonly #steps: readonly number[];
  readonly #now: () => number;
  readonly #mutex = new KeyedMutex();

  constructor(options: LocalBackoffPolicyOptions) {
    if (!options || typeof options.store?.get !== 'function' || typeof options.store.set !== 'function') {
      throw new TypeError('LocalBackoffPolicy needs a store with get/set');
    }
    this.#store = options.store;
    this.#max = options.maxFailures ?? 5;
    this.#maxHex = options.maxFailuresHexKey ?? 10;
    this.#steps = options.lockoutStepsMs ?? DEFAULT_LOCKOUT_STEPS_MS;
    this.#now = options.now ?? Date.now;
    if (!Number.isInteger(this.#max) || this.#max < 1)
      throw new RangeError('maxFailures must be a positive integer');
    if (this.#steps.length === 0 || this.#steps.some((s) => !(s >= 0)))
      throw new RangeError('lockoutStepsMs must be non-empty and ≥ 0');
  }

  async #load(scope: string): Promise<{ failures: number; lockedUntilMs: number }> {
    let b: Uint8Array | undefined;
    try {
      b = await this.#store.get(scope);
    } catch (cause) {
      throw new StoreError('attempt store failed', { cause });
    }
    return b === undefined ? { failures: 0, lockedUntilMs: 0 } : decodeRecord(b);
  }

  async #save(scope: string, failures: number, lockedUntilMs: number): Promise<void> {
    try {
      await this.#store.set(scope, encodeRecord(failures, lockedUntilMs));
    } catch (cause) {
      throw new StoreError('attempt store failed', { cause });
    }
  }

  #maxFor(scope: string): number {
    return scope.endsWith(':hex') ? this.#maxHex : this.#max;
  }

  #state(scope: string, r: { failures: number; lockedUntilMs: number }): AttemptState {
    const locked = r.lockedUntilMs > this.#now();
    return {
      failures: r.failures,
      remainingAttempts: locked ? 0 : Math.max(0, this.#maxFor(scope) - r.failures),
      lockedUntil: locked ? new Date(r.lockedUntilMs) : undefined,
    };
  }

  check(scope: string): Promise<AttemptState> {
    return this.#mutex.run(scope, async () => this.#state(scope, await this.#load(scope)));
  }

  recordFailure(scope: string): Promise<AttemptState> {
    return this.#mutex.run(scope, async () => {
      const r = await this.#load(scope);
      const failures = r.failures + 1;
      let lockedUntilMs = r.lockedUntilMs;
      const max = this.#maxFor(scope);
      if (failures >= max) {
        const step = this.#steps[Math.min(failures - max, this.#steps.length - 1)]!;
        lockedUntilMs = this.#now() + step;
      }
      await this.#save(scope, failures, lockedUntilMs);
      return this.#state(scope, { failures, lockedUntilMs });
    });
  }

  recordSuccess(scope: string): Promise<void> {
    return this.#mutex.run(scope, () => this.#save(scope, 0, 0));
  }
}

/** No limiting at all: for slots gated elsewhere (e.g. a server that counts) or for tools. */
export const noAttemptLimit: AttemptPolicy = Object.freeze({
  check: async () => ({ failures: 0, remainingAttempts: Number.POSITIVE_INFINITY, lockedUntil: undefined }),
  recordFailure: async () => ({
    failures: 0,
    remainingAttempts: Number.POSITIVE_INFINITY,
    lockedUntil: undefined,
  }),
  recordSuccess: async () => {},
});

/** The policy used when none is passed: 5 strikes, in memory for the life of this JavaScript realm. */
export const defaultAttemptPolicy: AttemptPolicy = new LocalBackoffPolicy({
  store: new MemoryAttemptStore(),
});
