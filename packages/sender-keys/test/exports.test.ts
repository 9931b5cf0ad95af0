// The package is enough on its own: errors, codes and providers by name from '@e2ee-kit/sender-keys'.
import { readFileSync } from 'node:fs';
import * as senderKeys from '@e2ee-kit/sender-keys';
import {
  E2eeError,
  ErrorCode,
  InvalidSenderKeySessionError,
  MissingSenderKeyError,
  SenderKeyErrorCode,
  SenderKeyVersionError,
} from '@e2ee-kit/sender-keys';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { coreErrorSamples, describePackageSurface } from '../../../tools/package-surface.js';

const alice = { name: 'alice', deviceId: 1 };

describePackageSurface('@e2ee-kit/sender-keys', senderKeys, {
  readme: readFileSync(new URL('../README.md', import.meta.url), 'utf8'),
  ownCodes: SenderKeyErrorCode,
  samples: {
    ...coreErrorSamples,
    MissingSenderKeyError: () => new MissingSenderKeyError(alice, 'd1f3c7a0-0000-4000-8000-000000000000'),
    InvalidSenderKeySessionError: () => new InvalidSenderKeySessionError('d1', 'no signing key'),
    SenderKeyVersionError: () => new SenderKeyVersionError(2),
  },
});

describe('@e2ee-kit/sender-keys: typed codes', () => {
  it('E2eeError.is narrows to the class of the code', () => {
    const err: unknown = new MissingSenderKeyError(alice, 'g', 7);
    if (E2eeError.is(err, ErrorCode.MissingSenderKey)) {
      expectTypeOf(err).toEqualTypeOf<MissingSenderKeyError>();
      expect(err.chainId).toBe(7);
    } else {
      expect.unreachable();
    }
    const bad: unknown = undefined;
    if (E2eeError.is(bad, ErrorCode.InvalidSenderKeySession)) {
      expectTypeOf(bad).toEqualTypeOf<InvalidSenderKeySessionError>();
    }
    // @ts-expect-error — a typo is not a code
    E2eeError.is(bad, 'SENDER_KEY_MISING');
  });
});
