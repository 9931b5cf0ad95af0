import { createBackup, openBackup, readBackupMetadata } from '@e2ee-kit/backup-kdf';
import { unsafeTestParams } from '@e2ee-kit/backup-kdf/testing';
import { describe, expect, it } from 'vitest';

describe('round trip', () => {
  it('password and recovery key', async () => {
    const data = new Uint8Array(200_000).map((_, i) => i & 0xff);
    const { output, recoveryKey } = await createBackup([data], {
      password: 'correct horse battery',
      recoveryKey: true,
      argon2: unsafeTestParams(),
    });
    const file = await output.bytes();
    const md = await readBackupMetadata(file);
    expect(md.slots.map((s) => s.type)).toEqual(['password', 'recovery']);
    const a = await openBackup(file, { password: 'correct horse battery' });
    expect(await a.plaintext.bytes()).toEqual(data);
    const b = await openBackup(file, { recoveryKey: recoveryKey!.toDisplayString() });
    expect(await b.plaintext.bytes()).toEqual(data);
  });
});
