// The package is enough on its own: errors, codes and providers by name from '@e2ee-kit/sealed-sender'.
import { readFileSync } from 'node:fs';
import * as sealedSender from '@e2ee-kit/sealed-sender';
import {
  E2eeError,
  ErrorCode,
  InvalidSenderCertificateError,
  SealedSenderErrorCode,
  SealedSenderSelfSendError,
  SealedSenderVersionError,
} from '@e2ee-kit/sealed-sender';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { coreErrorSamples, describePackageSurface } from '../../../tools/package-surface.js';

describePackageSurface('@e2ee-kit/sealed-sender', sealedSender, {
  readme: readFileSync(new URL('../README.md', import.meta.url), 'utf8'),
  ownCodes: SealedSenderErrorCode,
  samples: {
    ...coreErrorSamples,
    InvalidSenderCertificateError: () => new InvalidSenderCertificateError('expired'),
    SealedSenderSelfSendError: () => new SealedSenderSelfSendError(),
    SealedSenderVersionError: () => new SealedSenderVersionError(7),
  },
});

describe('@e2ee-kit/sealed-sender: typed codes', () => {
  it('E2eeError.is narrows to the class of the code', () => {
    const err: unknown = new InvalidSenderCertificateError('revoked');
    if (E2eeError.is(err, ErrorCode.InvalidCertificate)) {
      expectTypeOf(err).toEqualTypeOf<InvalidSenderCertificateError>();
      expect(err.reason).toBe('revoked');
    } else {
      expect.unreachable();
    }
    const bad: unknown = undefined;
    if (E2eeError.is(bad, ErrorCode.UnknownVersion))
      expectTypeOf(bad).toEqualTypeOf<SealedSenderVersionError>();
    // @ts-expect-error — a typo is not a code
    E2eeError.is(bad, 'SEALED_SENDER_SELF_SND');
  });
});
