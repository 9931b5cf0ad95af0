// The package is enough on its own: errors, codes and providers by name from '@e2ee-kit/ratchet'.
import { readFileSync } from 'node:fs';
import * as ratchet from '@e2ee-kit/ratchet';
import {
  type DecodeError,
  E2eeError,
  ErrorCode,
  type InvalidKeyError,
  type LockedOutError,
  PreKeyNotFoundError,
  RatchetErrorCode,
  type VerificationError,
} from '@e2ee-kit/ratchet';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { coreErrorSamples, describePackageSurface } from '../../../tools/package-surface.js';
import { SpqrErrorCode } from '../src/spqr/errors.js';

describePackageSurface('@e2ee-kit/ratchet', ratchet, {
  readme: readFileSync(new URL('../README.md', import.meta.url), 'utf8'),
  // The post-quantum ratchet's `SPQR_*` codes are this package's too (they join its ErrorCode).
  ownCodes: { ...RatchetErrorCode, ...SpqrErrorCode },
  samples: {
    ...coreErrorSamples,
    PreKeyNotFoundError: () => new PreKeyNotFoundError('signed', 7, { name: 'bob', deviceId: 1 }),
    FanoutIncompleteError: () =>
      new ratchet.FanoutIncompleteError([], { account: 'alice', sync: true }, new Error('down')),
    IdentityChangedError: () =>
      new ratchet.IdentityChangedError(
        { name: 'bob', deviceId: 1 },
        ratchet.PublicKey.fromRaw(new Uint8Array(32).fill(9)),
      ),
  },
});

describe('@e2ee-kit/ratchet: typed codes', () => {
  it("E2eeError.is narrows this package's codes and core's", () => {
    const err: unknown = undefined;
    if (E2eeError.is(err, ErrorCode.InvalidMessage)) {
      expectTypeOf(err).toEqualTypeOf<VerificationError | DecodeError>();
    }
    if (E2eeError.is(err, ErrorCode.InvalidBaseKey)) expectTypeOf(err).toEqualTypeOf<InvalidKeyError>();
    if (E2eeError.is(err, ErrorCode.InvalidPreKeyId)) expectTypeOf(err).toEqualTypeOf<PreKeyNotFoundError>();
    if (E2eeError.is(err, ErrorCode.LockedOut)) expectTypeOf(err).toEqualTypeOf<LockedOutError>();
    // @ts-expect-error — a typo is not a code
    E2eeError.is(err, 'INVALID_MESAGE');
    expectTypeOf<ratchet.ErrorCode>().toExtend<ratchet.E2eeErrorCode>();
    expectTypeOf<keyof typeof ErrorCode>().toEqualTypeOf<
      | keyof typeof RatchetErrorCode
      | keyof typeof SpqrErrorCode
      | keyof typeof import('@e2ee-kit/core').ErrorCode
    >();
  });
});

describe('@e2ee-kit/ratchet: the healing layer', () => {
  it('exports HealingCipher, its option and result types, and SessionCipher.archive', () => {
    expect(typeof ratchet.HealingCipher).toBe('function');
    expect(typeof ratchet.SessionCipher.prototype.archive).toBe('function');
    expect(typeof ratchet.SessionCipher.prototype.discardUnreadableSession).toBe('function');
    expectTypeOf<ratchet.HealingDecryptResult['kind']>().toEqualTypeOf<
      'decrypted' | 'retry-requested' | 'gave-up'
    >();
    expectTypeOf<ratchet.RetryRequestResult['kind']>().toEqualTypeOf<
      'resent' | 'not-cached' | 'refused' | 'other-device'
    >();
    expectTypeOf<ratchet.EnvelopeInfo>().toEqualTypeOf<{ readonly timestamp: number }>();
    expectTypeOf<ratchet.HealingCipherOptions['fetchBundle']>().toEqualTypeOf<
      (address: ratchet.Address) => Promise<ratchet.PreKeyBundle>
    >();
    expectTypeOf<ratchet.ArchiveOptions>().toEqualTypeOf<{ ifRatchetKey?: ratchet.PublicKey }>();
  });
});
