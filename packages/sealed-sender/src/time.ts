/** Timestamps (ms since 1970, as Signal uses them) as exact 64-bit integers. */

export type Timestamp = number | bigint | Date;

const MAX_U64 = (1n << 64n) - 1n;

/** `value` as a bigint in 0..2^64-1; `TypeError` / `RangeError` for anything else. */
export function toMillis(value: Timestamp, name: string): bigint {
  let v: bigint;
  if (typeof value === 'bigint') v = value;
  else if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new RangeError(`${name} must be a safe integer (ms)`);
    v = BigInt(value);
  } else if (value instanceof Date) {
    const t = value.getTime();
    if (!Number.isSafeInteger(t)) throw new RangeError(`${name} is an invalid Date`);
    v = BigInt(t);
  } else throw new TypeError(`${name} must be a number, bigint or Date`);
  if (v < 0n || v > MAX_U64) throw new RangeError(`${name} must be between 0 and 2^64 - 1`);
  return v;
}
