import {
  addressEquals,
  addressToString,
  createAddress,
  MAX_DEVICE_ID,
  validateAddress,
} from '@e2ee-kit/core';
import { describe, expect, it } from 'vitest';

describe('Address', () => {
  it('createAddress validates and freezes', () => {
    const a = createAddress('alice', 1);
    expect(a).toEqual({ name: 'alice', deviceId: 1 });
    expect(Object.isFrozen(a)).toBe(true);
    expect(createAddress('x'.repeat(1024), MAX_DEVICE_ID).deviceId).toBe(127);
  });

  it('device ids are 1..127 as in libsignal; names 1..1024 characters', () => {
    expect(MAX_DEVICE_ID).toBe(127);
    for (const id of [0, -1, 128, 2 ** 31]) expect(() => createAddress('a', id)).toThrow(RangeError);
    for (const id of [1.5, Number.NaN, '1', null])
      expect(() => createAddress('a', id as never)).toThrow(TypeError);
    expect(() => createAddress('', 1)).toThrow(RangeError);
    expect(() => createAddress('x'.repeat(1025), 1)).toThrow(RangeError);
    expect(() => createAddress(5 as never, 1)).toThrow(TypeError);
    for (const bad of [null, undefined, 'alice.1', 7]) expect(() => validateAddress(bad)).toThrow(TypeError);
  });

  it('addressToString is name.deviceId; names may contain dots', () => {
    expect(addressToString({ name: 'alice', deviceId: 3 })).toBe('alice.3');
    expect(addressToString({ name: 'a.b.c', deviceId: 12 })).toBe('a.b.c.12');
    expect(() => addressToString({ name: 'a', deviceId: 0 })).toThrow(RangeError);
  });

  it('addressEquals compares name and device', () => {
    expect(addressEquals({ name: 'a', deviceId: 1 }, createAddress('a', 1))).toBe(true);
    expect(addressEquals({ name: 'a', deviceId: 1 }, { name: 'a', deviceId: 2 })).toBe(false);
    expect(addressEquals({ name: 'a', deviceId: 1 }, { name: 'b', deviceId: 1 })).toBe(false);
  });
});
