/** Pre-key ids are libsignal's `u32`. */
export const MAX_PREKEY_ID = 0xffff_ffff;

export function checkPreKeyId(id: unknown, name: string): asserts id is number {
  if (typeof id !== 'number' || !Number.isInteger(id)) throw new TypeError(`${name} must be an integer`);
  if (id < 0 || id > MAX_PREKEY_ID) throw new RangeError(`${name} must be a 32-bit unsigned integer`);
}
