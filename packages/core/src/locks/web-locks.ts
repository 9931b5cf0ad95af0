/**
 * A `LockManager` over the Web Locks API (`navigator.locks`): the lock is held by the origin, so tabs,
 * iframes, dedicated and shared workers and service workers of one origin exclude each other — the
 * case where two contexts share one IndexedDB. The global is looked up when an instance is made,
 * never at module load.
 */
import type { LockManager } from './lock-manager.js';

/** The part of the Web Locks API this needs (`navigator.locks` fits; tests may pass their own). */
export interface WebLocksLike {
  request<T>(name: string, options: { mode: 'exclusive' }, callback: () => Promise<T>): Promise<T>;
}

export interface WebLocksManagerOptions {
  /** Default `globalThis.navigator.locks`. */
  readonly locks?: WebLocksLike;
  /**
   * Prepended to every key so two libraries of one origin do not collide; give each storage its own
   * prefix (e.g. the database name) when several live in one origin. Default `e2ee-kit:`. Neither
   * empty nor starting with '-' (`RangeError`): Web Locks reserves names that start with '-'.
   */
  readonly prefix?: string;
}

function globalLocks(): WebLocksLike | undefined {
  const nav = (globalThis as { navigator?: { locks?: unknown } }).navigator;
  const locks = nav?.locks as WebLocksLike | undefined;
  return locks && typeof locks.request === 'function' ? locks : undefined;
}

export class WebLocksManager implements LockManager {
  readonly #locks: WebLocksLike;
  readonly #prefix: string;

  /** Throws `TypeError` when no Web Locks API is available (check `WebLocksManager.isSupported()`). */
  constructor(options: WebLocksManagerOptions = {}) {
    const locks = options.locks ?? globalLocks();
    if (!locks || typeof locks.request !== 'function')
      throw new TypeError('the Web Locks API (navigator.locks) is not available here');
    const prefix = options.prefix ?? 'e2ee-kit:';
    if (typeof prefix !== 'string') throw new TypeError('prefix must be a string');
    // Web Locks rejects names starting with '-' (reserved) with a DOMException, at the first call
    // whose key starts so (an address name may): refused here instead, once, as the app's mistake.
    if (prefix === '' || prefix[0] === '-')
      throw new RangeError("prefix must not be empty or start with '-'");
    this.#locks = locks;
    this.#prefix = prefix;
  }

  /** True where `navigator.locks` exists (secure contexts of current browsers, Deno). */
  static isSupported(): boolean {
    return globalLocks() !== undefined;
  }

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    if (typeof key !== 'string') throw new TypeError('key must be a string');
    if (typeof fn !== 'function') throw new TypeError('fn must be a function');
    // Names starting with '-' are reserved by the spec; the prefix (checked above) keeps ours clear.
    return this.#locks.request(`${this.#prefix}${key}`, { mode: 'exclusive' }, () => fn());
  }
}
