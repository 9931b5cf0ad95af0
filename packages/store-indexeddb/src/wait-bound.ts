/**
 * The bound on a wait IndexedDB gives no event for (an open or deletion queued behind another tab's
 * request): an option in milliseconds, or `Infinity` to wait as long as IndexedDB does.
 */

// setTimeout's largest delay (2^31 - 1 ms); a longer one fires at once.
export const MAX_TIMER_MS = 2_147_483_647;

/** `value` checked as option `option` (`fallback` when undefined); RangeError outside 1…MAX or ∞. */
export function waitBound(value: unknown, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value >= 1) || (value > MAX_TIMER_MS && value !== Infinity))
    throw new RangeError(`${option} must be a number of milliseconds in 1…${MAX_TIMER_MS} or Infinity`);
  return value;
}
