// The package is enough on its own: errors, codes and providers by name from '@e2ee-kit/safety-number'.
import { readFileSync } from 'node:fs';
import * as safetyNumber from '@e2ee-kit/safety-number';
import {
  E2eeError,
  ErrorCode,
  parseSafetyNumber,
  SafetyNumberErrorCode,
  SafetyNumberFormatError,
} from '@e2ee-kit/safety-number';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { coreErrorSamples, describePackageSurface } from '../../../tools/package-surface.js';

describePackageSurface('@e2ee-kit/safety-number', safetyNumber, {
  readme: readFileSync(new URL('../README.md', import.meta.url), 'utf8'),
  ownCodes: SafetyNumberErrorCode,
  samples: {
    ...coreErrorSamples,
    SafetyNumberFormatError: () => new SafetyNumberFormatError('wrong-length', -1, 59),
  },
});

describe('@e2ee-kit/safety-number: typed codes', () => {
  it('E2eeError.is narrows to the class of the code', () => {
    let err: unknown;
    try {
      parseSafetyNumber('12345');
    } catch (e) {
      err = e;
    }
    if (E2eeError.is(err, ErrorCode.InvalidFormat)) {
      expectTypeOf(err).toEqualTypeOf<SafetyNumberFormatError>();
      expect(err.reason).toBe('wrong-length');
    } else {
      expect.unreachable();
    }
    // @ts-expect-error — a typo is not a code
    E2eeError.is(err, 'SAFETY_NUMBER_FROMAT');
  });
});
