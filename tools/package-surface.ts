// Test-only: checks that a feature package is enough on its own — it exports every error class and
// code its README names, core's error classes and providers (the same objects, not copies), a merged
// `ErrorCode`, and every error class prints under its own name.
import * as core from '@e2ee-kit/core';
import { describe, expect, it } from 'vitest';

const coreExports: Readonly<Record<string, unknown>> = { ...core };

export interface SurfaceOptions {
  /** The package's README text. */
  readme: string;
  /** The package's own code object (e.g. `RatchetErrorCode`). */
  ownCodes: Readonly<Record<string, string>>;
  /** One instance per exported error class, keyed by its export name. */
  samples: Readonly<Record<string, () => core.E2eeError>>;
}

/** Export names whose value is `E2eeError` or a subclass of it. */
export function errorClassesOf(mod: Readonly<Record<string, unknown>>): string[] {
  return Object.keys(mod)
    .filter((k) => {
      const v = mod[k];
      return typeof v === 'function' && (v === core.E2eeError || v.prototype instanceof core.E2eeError);
    })
    .sort();
}

/** Class names (`SomethingError`) in backticks in the README's "## Errors" section. */
export function readmeErrorNames(readme: string): string[] {
  const start = readme.indexOf('\n## Errors');
  if (start < 0) throw new Error('README has no "## Errors" section');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const names = new Set<string>();
  for (const m of section.matchAll(/`([A-Z][A-Za-z0-9]*Error)`/g)) names.add(m[1] as string);
  for (const n of ['TypeError', 'RangeError']) names.delete(n);
  return [...names].sort();
}

export function describePackageSurface(
  name: string,
  mod: Readonly<Record<string, unknown>>,
  options: SurfaceOptions,
): void {
  describe(`${name}: enough on its own`, () => {
    it('exports every error class its README names', () => {
      const named = readmeErrorNames(options.readme);
      expect(named.length).toBeGreaterThan(1);
      expect(named.filter((n) => !(n in mod))).toEqual([]);
    });

    it("exports core's error classes and providers as the same objects", () => {
      const shared = [
        ...errorClassesOf(coreExports),
        'nobleProvider',
        'platformProvider',
        'createPlatformProvider',
      ];
      for (const n of shared) expect(mod[n], n).toBe(coreExports[n]);
    });

    it("ErrorCode is core's codes plus the package's own, with no key or value shared", () => {
      const merged = mod['ErrorCode'] as Record<string, string>;
      expect(merged).toEqual({ ...core.ErrorCode, ...options.ownCodes });
      const keys = [...Object.keys(core.ErrorCode), ...Object.keys(options.ownCodes)];
      expect(new Set(keys).size).toBe(keys.length);
      expect(new Set(Object.values(merged)).size).toBe(keys.length);
      expect(Object.isFrozen(merged)).toBe(true);
    });

    it('every error class prints under its own name and its code is in ErrorCode', () => {
      expect(Object.keys(options.samples).sort()).toEqual(errorClassesOf(mod));
      const codes = new Set(Object.values(mod['ErrorCode'] as Record<string, string>));
      for (const [exportName, make] of Object.entries(options.samples)) {
        const err = make();
        expect(err).toBeInstanceOf(mod[exportName] as typeof core.E2eeError);
        expect(err.name).toBe(exportName);
        expect(String(err)).toBe(`${exportName} [${err.code}]: ${err.message}`);
        expect(err.stack?.startsWith(`${exportName}: `), err.stack).toBe(true);
        expect(codes.has(err.code), err.code).toBe(true);
        expect(core.E2eeError.is(err, err.code)).toBe(true);
      }
    });
  });
}

/** Samples of core's error classes, shared by every package's surface test. */
export const coreErrorSamples: Readonly<Record<string, () => core.E2eeError>> = {
  E2eeError: () => new core.E2eeError(core.ErrorCode.Unsupported, 'plain'),
  DecodeError: () => new core.DecodeError('bad bytes'),
  VerificationError: () => new core.VerificationError('bad mac', { code: core.ErrorCode.InvalidMac }),
  InvalidKeyError: () => new core.InvalidKeyError('bad key'),
  UntrustedIdentityError: () => new core.UntrustedIdentityError({ name: 'bob', deviceId: 1 }),
  SessionNotFoundError: () => new core.SessionNotFoundError({ name: 'bob', deviceId: 1 }),
  DuplicateMessageError: () => new core.DuplicateMessageError(),
  MessageGapError: () => new core.MessageGapError(),
  StoreError: () => new core.StoreError('store failed'),
  LockedOutError: () => new core.LockedOutError(new Date(0)),
  WrongPasswordError: () => new core.WrongPasswordError(),
  UnsupportedError: () => new core.UnsupportedError('no wasm'),
};
