/**
 * Gives the event loop a turn during long chain walks (sender-key chains, the ratchet's message and
 * post-quantum chains). A message up to 25,000 iterations ahead is valid (libsignal's limit) and
 * walking to it costs about 27,000 HMACs; awaited provider calls
 * resolve as microtasks, so without a real break the whole walk is one synchronous stretch
 * (200–650 ms measured on a loaded 2-vCPU VM) in which no timer, I/O callback or UI event runs.
 *
 * The walk calls `maybeYield()` every step; every `CHECK_EVERY` steps it looks at the clock and, once
 * `SLICE_MS` have passed since the last break, or after `MAX_STEPS` steps in any case (runtimes
 * without a clock, and a floor tests can rely on), waits for one event-loop turn. Nothing else
 * changes: the caller holds its lock across the break, and the walk's inputs are immutable values.
 */

/** Longest stretch between breaks. Well under the 50 ms "long task" budget, leaving room for the rest. */
const SLICE_MS = 8;
const CHECK_EVERY = 64;
const MAX_STEPS = 4096;

type Clock = () => number;

function clock(): Clock | undefined {
  const perf = (globalThis as { performance?: { now?: () => number } }).performance;
  if (perf !== undefined && typeof perf.now === 'function') return () => perf.now!();
  return typeof Date.now === 'function' ? Date.now : undefined;
}

/**
 * One turn of the event loop, looked up per call (never at load), best first: `setImmediate` (Node,
 * Bun: runs after pending I/O and timers, no clamping); `scheduler.yield()` (Chromium: lets input and
 * rendering run, then resumes ahead of other tasks); a `MessageChannel` message (browsers, workers,
 * Deno: a task without the 4 ms clamp nested `setTimeout`s get); `setTimeout(0)`.
 */
export function yieldToEventLoop(): Promise<void> {
  const g = globalThis as {
    setImmediate?: (f: () => void) => unknown;
    scheduler?: { yield?: () => Promise<void> };
    MessageChannel?: new () => {
      port1: { onmessage: (() => void) | null; close(): void };
      port2: { postMessage(m: unknown): void; close(): void };
    };
    setTimeout?: (f: () => void, ms: number) => unknown;
  };
  if (typeof g.setImmediate !== 'function' && typeof g.scheduler?.yield === 'function') {
    return g.scheduler.yield();
  }
  return new Promise<void>((resolve) => {
    if (typeof g.setImmediate === 'function') g.setImmediate(resolve);
    else if (typeof g.MessageChannel === 'function') {
      const { port1, port2 } = new g.MessageChannel();
      port1.onmessage = () => {
        port1.close();
        port2.close();
        resolve();
      };
      port2.postMessage(null);
    } else if (typeof g.setTimeout === 'function') g.setTimeout(resolve, 0);
    else resolve();
  });
}

export class ChainWalkYielder {
  readonly #now: Clock | undefined = clock();
  #start: number;
  #steps = 0;

  constructor() {
    this.#start = this.#now?.() ?? 0;
  }

  /** Call once per chain step; resolves at once except when a break is due. */
  maybeYield(): Promise<void> | undefined {
    if (++this.#steps % CHECK_EVERY !== 0) return undefined;
    const now = this.#now;
    const due = this.#steps >= MAX_STEPS || (now !== undefined && now() - this.#start >= SLICE_MS);
    if (!due) return undefined;
    return this.#break();
  }

  async #break(): Promise<void> {
    await yieldToEventLoop();
    this.#steps = 0;
    this.#start = this.#now?.() ?? 0;
  }
}
