// The package is enough on its own: errors, codes and providers by name from '@e2ee-kit/backup-kdf'.
import { readFileSync } from 'node:fs';
import * as backup from '@e2ee-kit/backup-kdf';
import {
  BackupErrorCode,
  BackupFormatError,
  BackupPayloadError,
  BackupTamperedError,
  E2eeError,
  ErrorCode,
  IncorrectSecretError,
  InvalidRecoveryKeyError,
  type LockedOutError,
  NoMatchingSlotError,
  PasswordRejectedError,
  parseRecoveryKey,
  SlotsChangedError,
  type WrongPasswordError,
} from '@e2ee-kit/backup-kdf';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { coreErrorSamples, describePackageSurface } from '../../../tools/package-surface.js';

describePackageSurface('@e2ee-kit/backup-kdf', backup, {
  readme: readFileSync(new URL('../README.md', import.meta.url), 'utf8'),
  ownCodes: BackupErrorCode,
  samples: {
    ...coreErrorSamples,
    BackupFormatError: () => new BackupFormatError(BackupErrorCode.BadMagic, 'not a backup'),
    BackupTamperedError: () => new BackupTamperedError(BackupErrorCode.HeaderTampered, 'header modified'),
    BackupPayloadError: () => new BackupPayloadError(BackupErrorCode.Truncated, 'truncated', 3),
    NoMatchingSlotError: () => new NoMatchingSlotError('no recovery-key slot'),
    InvalidRecoveryKeyError: () =>
      new InvalidRecoveryKeyError(BackupErrorCode.RecoveryKeyFormat, 'not 64 digits'),
    PasswordRejectedError: () => new PasswordRejectedError(BackupErrorCode.PasswordTooShort, 8),
    IncorrectSecretError: () => new IncorrectSecretError({ remainingAttempts: 4 }),
    SlotsChangedError: () => new SlotsChangedError(),
  },
});

describe('@e2ee-kit/backup-kdf: typed codes', () => {
  it('E2eeError.is narrows to the class of the code', () => {
    let err: unknown;
    try {
      parseRecoveryKey('1234');
    } catch (e) {
      err = e;
    }
    if (E2eeError.is(err, ErrorCode.RecoveryKeyFormat)) {
      expectTypeOf(err).toEqualTypeOf<InvalidRecoveryKeyError>();
    } else {
      expect.unreachable();
    }
    const other: unknown = undefined;
    if (E2eeError.is(other, ErrorCode.LockedOut)) expectTypeOf(other.until).toEqualTypeOf<Date>();
    if (E2eeError.is(other, ErrorCode.WrongPassword)) expectTypeOf(other).toEqualTypeOf<WrongPasswordError>();
    if (E2eeError.is(other, ErrorCode.ChunkReordered)) {
      expectTypeOf(other).toEqualTypeOf<BackupPayloadError>();
      expectTypeOf(other.position).toEqualTypeOf<number>();
    }
    if (E2eeError.is(other, ErrorCode.SlotsTampered))
      expectTypeOf(other).toEqualTypeOf<BackupTamperedError>();
    if (E2eeError.is(other, ErrorCode.BadMagic)) expectTypeOf(other).toEqualTypeOf<BackupFormatError>();
    if (E2eeError.is(other, ErrorCode.NoMatchingSlot))
      expectTypeOf(other).toEqualTypeOf<NoMatchingSlotError>();
    if (E2eeError.is(other, ErrorCode.PasswordEmpty))
      expectTypeOf(other).toEqualTypeOf<PasswordRejectedError>();
    expectTypeOf<LockedOutError['until']>().toEqualTypeOf<Date>();
    // @ts-expect-error — a typo is not a code
    E2eeError.is(other, 'LOCKED_UOT');
  });
});
