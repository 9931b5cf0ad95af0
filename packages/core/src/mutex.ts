/**
 * A per-key async mutex: calls with the same key run one after another, in call order; different keys
 * run concurrently. Keys are released when idle, so memory follows the number of busy keys. Not
 * re-entrant: a call made from inside `fn` for the same key starts only after `fn` settles, so `fn`
 * must not await it.
 */
export class KeyedMutex {
  readonly #tails = new Map<string, Promise<unknown>>();

  /** Runs `fn` once every earlier call for `key` has settled. */
  run<T>(key: string, fn: () => Promise<T> | T): Promise<T> {
    if (typeof key !== 'string') throw new TypeError('key must be a string');
    if (typeof fn !== 'function') throw new TypeError('fn must be a function');
    const prev = this.#tails.get(key) ?? Promise.resolve();
    const result = prev.then(
      () => fn(),
      () => fn(),
    );
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }

  /** Number of keys with a call queued or running (for tests and diagnostics). */
  get activeKeys(): number {
    return this.#tails.size;
  }
}
