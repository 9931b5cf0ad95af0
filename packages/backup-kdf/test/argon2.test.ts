import {
  type Argon2Provider,
  argon2PackageProvider,
  BackupKeyring,
  calibrateArgon2,
  DEFAULT_ARGON2_PARAMS,
  DEFAULT_MAX_ARGON2_WORK,
  defaultArgon2Provider,
  hashWasmArgon2Provider,
  isUnsafeTestParams,
  MIN_ARGON2_PARAMS,
  nobleArgon2Provider,
} from '@e2ee-kit/backup-kdf';
import { checkArgon2Provider, unsafeTestParams } from '@e2ee-kit/backup-kdf/testing';
import { toHex, UnsupportedError } from '@e2ee-kit/core';
import argon2 from 'argon2';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createDefaultArgon2Provider } from '../src/argon2.js';
import { countingArgon2 } from './helpers.js';

const native = argon2PackageProvider(argon2 as never);

// RFC 9106 §5.3 (Argon2id, version 0x13) — inputs and tag from the RFC.
const rfc = {
  password: new Uint8Array(32).fill(0x01),
  salt: new Uint8Array(16).fill(0x02),
  secret: new Uint8Array(8).fill(0x03),
  associatedData: new Uint8Array(12).fill(0x04),
  memoryKiB: 32,
  iterations: 3,
  parallelism: 4,
  hashLength: 32,
};
const RFC_TAG = '0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659';
// spec/backup.md §5: the same inputs without associated data (computed by three implementations).
const CROSS_TAG_NO_AD = '0034de3c8a75efc1148100eaf5ba9b1ce6d50ba5cdf6ae4018c54a4fc03ac10d';

const all: Array<[string, Argon2Provider]> = [
  ['hash-wasm', hashWasmArgon2Provider],
  ['noble', nobleArgon2Provider],
  ['argon2 native (adapter)', native],
  ['default', defaultArgon2Provider],
];

describe('Argon2 providers', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  for (const [label, p] of all.filter(([, p]) => p.supportsAssociatedData)) {
    it(`${label}: RFC 9106 §5.3 Argon2id vector`, async () => {
      expect(toHex(await p.argon2id(rfc))).toBe(RFC_TAG);
    });
  }

  for (const [label, p] of all) {
    it(`${label}: cross vector without associated data`, async () => {
      const { associatedData: _ad, ...noAd } = rfc;
      expect(toHex(await p.argon2id(noAd))).toBe(CROSS_TAG_NO_AD);
    });
  }

  it('hash-wasm refuses associated data instead of ignoring it', async () => {
    await expect(hashWasmArgon2Provider.argon2id(rfc)).rejects.toBeInstanceOf(UnsupportedError);
  });

  it('all providers agree at the creation floor (m = 19 MiB, t = 2, p = 1)', async () => {
    const input = {
      ...MIN_ARGON2_PARAMS,
      password: new TextEncoder().encode('pw'),
      salt: new Uint8Array(16).fill(9),
      hashLength: 32,
    };
    const outs = await Promise.all(all.map(([, p]) => p.argon2id(input).then(toHex)));
    expect(new Set(outs).size).toBe(1);
  });

  it('without WebAssembly (React Native Hermes) the default falls back to noble', async () => {
    const { associatedData: _ad, ...noAd } = rfc;
    vi.stubGlobal('WebAssembly', undefined);
    await expect(hashWasmArgon2Provider.argon2id(noAd)).rejects.toBeInstanceOf(UnsupportedError);
    expect(toHex(await createDefaultArgon2Provider().argon2id(noAd))).toBe(CROSS_TAG_NO_AD);
  });

  // Which implementation the default picked shows in associated data: noble takes it (the RFC's
  // tag), hash-wasm refuses it.
  it('where WebAssembly exists but refuses to compile (Cloudflare Workers, a strict CSP) the default uses noble', async () => {
    const refuse = vi
      .spyOn(WebAssembly, 'compile')
      .mockRejectedValue(new WebAssembly.CompileError('Wasm code generation disallowed by embedder'));
    try {
      const provider = createDefaultArgon2Provider();
      expect(toHex(await provider.argon2id(rfc))).toBe(RFC_TAG);
      expect(toHex(await provider.argon2id(rfc))).toBe(RFC_TAG);
      expect(refuse).toHaveBeenCalledTimes(1); // probed once, then kept
    } finally {
      refuse.mockRestore();
    }
    // Control: where it compiles, a fresh default picks hash-wasm.
    await expect(createDefaultArgon2Provider().argon2id(rfc)).rejects.toBeInstanceOf(UnsupportedError);
  });

  it('providers refuse parameters outside the format limits', async () => {
    const base = { password: new Uint8Array(1), salt: new Uint8Array(16), hashLength: 32 };
    for (const bad of [
      { memoryKiB: 1024 * 1024 + 1, iterations: 1, parallelism: 1 },
      { memoryKiB: 64, iterations: 0, parallelism: 1 },
      { memoryKiB: 64, iterations: 1, parallelism: 17 },
      { memoryKiB: 7, iterations: 1, parallelism: 1 },
    ]) {
      for (const [, p] of all)
        await expect(p.argon2id({ ...base, ...bad })).rejects.toBeInstanceOf(RangeError);
    }
  });

  it('checkArgon2Provider (for integrators’ native providers) passes ours and catches a broken one', async () => {
    for (const [, p] of all) await checkArgon2Provider(p);
    const broken: Argon2Provider = {
      name: 'broken',
      supportsAssociatedData: true,
      argon2id: async (input) =>
        nobleArgon2Provider.argon2id({ ...input, associatedData: new Uint8Array(0) }),
    };
    await expect(checkArgon2Provider(broken)).rejects.toThrow(/RFC 9106/);
    const wrong: Argon2Provider = {
      ...broken,
      supportsAssociatedData: false,
      argon2id: async () => new Uint8Array(32),
    };
    await expect(checkArgon2Provider(wrong)).rejects.toThrow(/cross vector/);
  });

  it('the adapter refuses something that is not the argon2 package', () => {
    expect(() => argon2PackageProvider({} as never)).toThrow(TypeError);
  });
});

describe('parameter policy', () => {
  it('defaults are m = 64 MiB, t = 3, p = 4; floor m = 19 MiB, t = 2, p = 1', () => {
    expect(DEFAULT_ARGON2_PARAMS).toEqual({ memoryKiB: 65536, iterations: 3, parallelism: 4 });
    expect(MIN_ARGON2_PARAMS).toEqual({ memoryKiB: 19456, iterations: 2, parallelism: 1 });
  });

  it('creation refuses anything below the floor (before any KDF runs), and above the format caps', async () => {
    const argon2Provider = countingArgon2();
    for (const weak of [
      { memoryKiB: 19455, iterations: 2, parallelism: 1 },
      { memoryKiB: 19456, iterations: 1, parallelism: 1 },
      { memoryKiB: 8, iterations: 1, parallelism: 1 }, // what unsafeTestParams gives, but unbranded
      { memoryKiB: 2 * 1024 * 1024, iterations: 3, parallelism: 4 },
      { memoryKiB: 65536, iterations: 11, parallelism: 4 },
    ]) {
      await expect(
        BackupKeyring.create({ password: 'long enough pw', argon2: weak, argon2Provider }),
      ).rejects.toBeInstanceOf(RangeError);
    }
    expect(argon2Provider.calls).toBe(0);
  });

  it('unsafeTestParams is the only way below the floor, and is visibly branded', async () => {
    const p = unsafeTestParams();
    expect(isUnsafeTestParams(p)).toBe(true);
    expect(isUnsafeTestParams({ ...p })).toBe(false); // a copy loses the brand
    expect(Object.keys(p)).toEqual(['memoryKiB', 'iterations', 'parallelism']);
    await expect(BackupKeyring.create({ password: 'long enough pw', argon2: p })).resolves.toBeDefined();
    await expect(
      BackupKeyring.create({ password: 'long enough pw', argon2: { ...p } }),
    ).rejects.toBeInstanceOf(RangeError);
  });
});

describe('calibrateArgon2 (simulated device: time = m·t·k)', () => {
  function fakeDevice(msPerMiBPass: number) {
    let clock = 0;
    const provider: Argon2Provider = {
      name: 'fake',
      supportsAssociatedData: false,
      async argon2id(input) {
        clock += (input.memoryKiB / 1024) * input.iterations * msPerMiBPass;
        return new Uint8Array(input.hashLength);
      },
    };
    return { provider, now: () => clock };
  }

  it('a fast device gets more passes, then more memory, within the cap', async () => {
    const d = fakeDevice(0.5); // defaults: 64·3·0.5 = 96 ms
    // More memory than 64 MiB at t = 10 is above the readers' default work cap: opted in here
    // (without it the result is 64 MiB × 10, argon2-work-cap.test.ts).
    const maxWork = 256 * 1024 * 10;
    const p = await calibrateArgon2({ targetMs: 750, argon2Provider: d.provider, now: d.now, maxWork });
    expect(p.iterations).toBe(10);
    expect(p.memoryKiB).toBe(128 * 1024); // 128·10·0.5 = 640 ms ≤ 750; 256 MiB would be 1280 ms
    expect(p.parallelism).toBe(4);
  });

  it('a medium device keeps 64 MiB and raises t towards the target', async () => {
    const d = fakeDevice(2); // 64·3·2 = 384 ms
    const p = await calibrateArgon2({ targetMs: 750, argon2Provider: d.provider, now: d.now });
    expect(p).toEqual({ memoryKiB: 65536, iterations: 5, parallelism: 4 });
  });

  it('a slow phone steps down but never below the floor', async () => {
    const d = fakeDevice(100);
    const p = await calibrateArgon2({
      targetMs: 750,
      argon2Provider: d.provider,
      now: d.now,
      parallelism: 1,
    });
    expect(p).toEqual({ memoryKiB: 19456, iterations: 2, parallelism: 1 });
  });

  it('a very fast device gets 64 MiB × 10 passes, not more memory, unless it opts in', async () => {
    const d = fakeDevice(0.05);
    const p = await calibrateArgon2({ targetMs: 750, argon2Provider: d.provider, now: d.now });
    expect(p).toEqual({ memoryKiB: 64 * 1024, iterations: 10, parallelism: 4 });
    expect(p.memoryKiB * p.iterations).toBeLessThanOrEqual(DEFAULT_MAX_ARGON2_WORK);
    const opted = await calibrateArgon2({
      targetMs: 750,
      argon2Provider: d.provider,
      now: d.now,
      maxWork: 256 * 1024 * 10,
    });
    expect(opted).toEqual({ memoryKiB: 256 * 1024, iterations: 10, parallelism: 4 });
  });

  it('refuses a maxWork below its starting point', async () => {
    const d = fakeDevice(0.05);
    await expect(
      calibrateArgon2({ targetMs: 750, argon2Provider: d.provider, now: d.now, maxWork: 64 * 1024 * 2 }),
    ).rejects.toBeInstanceOf(RangeError);
  });

  it('runs a real measurement with the default provider', async () => {
    const p = await calibrateArgon2({ targetMs: 1, maxMemoryKiB: 19456, parallelism: 1 });
    expect(p).toEqual({ memoryKiB: 19456, iterations: 2, parallelism: 1 });
  });
});
