/** A device of a user: libsignal's `ProtocolAddress` (name + device id 1..127). */
export interface Address {
  readonly name: string;
  readonly deviceId: number;
}

export const MAX_DEVICE_ID = 127;

export function createAddress(name: string, deviceId: number): Address {
  validateAddress({ name, deviceId });
  return Object.freeze({ name, deviceId });
}

export function validateAddress(address: unknown): asserts address is Address {
  if (address === null || typeof address !== 'object') throw new TypeError('address must be an object');
  const { name, deviceId } = address as { name?: unknown; deviceId?: unknown };
  if (typeof name !== 'string') throw new TypeError('address.name must be a string');
  if (name.length === 0 || name.length > 1024)
    throw new RangeError('address.name must be 1 to 1024 characters');
  if (typeof deviceId !== 'number' || !Number.isInteger(deviceId))
    throw new TypeError('address.deviceId must be an integer');
  if (deviceId < 1 || deviceId > MAX_DEVICE_ID)
    throw new RangeError(`address.deviceId must be 1..${MAX_DEVICE_ID}`);
}

/** `name.deviceId`, unambiguous because the device id is always the part after the last dot. */
export function addressToString(address: Address): string {
  validateAddress(address);
  return `${address.name}.${address.deviceId}`;
}

export function addressEquals(a: Address, b: Address): boolean {
  return a.name === b.name && a.deviceId === b.deviceId;
}
