// Property tests (fast-check): round trips over random sizes on every crypto provider, garbage
// fed to the decoder, and random damage to valid files.
import {
  BackupFormatError,
  BackupKeyring,
  noAttemptLimit,
  openBackup,
  readBackupMetadata,
} from '@e2ee-kit/backup-kdf';
import { unsafeTestParams } from '@e2ee-kit/backup-kdf/testing';
import { DecodeError, E2eeError } from '@e2ee-kit/core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { allProviders } from '../../../tools/providers.js';
import { CHUNK, collect, concat, makeSet, PASSWORD, pattern } from './helpers.js';

const sizeArb = fc.oneof(
  fc.constantFrom(0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK - 1),
  fc.integer({ min: 0, max: 5 * CHUNK }),
);

/** Splits `data` into pieces at the given cut points (input arrives in arbitrary pieces). */
function split(data: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(data.subarray(prev, p));
    prev = p;
  }
  out.push(data.subarray(prev));
  return out;
}

describe('round trips over random sizes', () => {
  for (const { label, provider } of allProviders) {
    it(`${label}: create → open returns the input (sizes incl. 0, 1, chunk-1, chunk, chunk+1)`, async () => {
      const { keyring } = await BackupKeyring.create({
        password: PASSWORD,
        argon2: unsafeTestParams(),
        provider,
      });
      await fc.assert(
        fc.asyncProperty(
          sizeArb,
          fc.array(fc.nat(), { maxLength: 6 }),
          fc.array(fc.nat(), { maxLength: 6 }),
          fc.constantFrom('aes-256-gcm' as const, 'chacha20-poly1305' as const),
          fc.nat(255),
          async (size, cutsIn, cutsOut, suite, seed) => {
            const data = pattern(size, 31, seed);
            const file = await keyring.encrypt(split(data, cutsIn), { suite, chunkSize: CHUNK }).bytes();
            expect(file.length).toBe(92 + 110 + size + 16 * Math.max(1, Math.ceil(size / CHUNK)));
            const { plaintext } = await openBackup(
              split(file, cutsOut),
              { password: PASSWORD },
              { provider, attempts: noAttemptLimit },
            );
            expect(await plaintext.bytes()).toEqual(data);
          },
        ),
        { numRuns: 25 },
      );
    });
  }
});

describe('garbage input against the decoder', () => {
  const expectDecodeError = async (bytes: Uint8Array) => {
    const err = await readBackupMetadata(bytes).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DecodeError);
  };

  it('random bytes → DecodeError (never a crash, hang or huge allocation)', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), expectDecodeError), { numRuns: 300 });
  });

  it('random bytes after a valid magic and version → DecodeError or a well-formed result', async () => {
    const prefix = Uint8Array.of(0x42, 0x4b, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a, 0x01);
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 1200 }), async (tail) => {
        const bytes = concat([prefix, tail]);
        const r = await readBackupMetadata(bytes).then(
          (md) => ({ md, err: undefined }),
          (err: unknown) => ({ md: undefined, err }),
        );
        if (r.err !== undefined) expect(r.err).toBeInstanceOf(BackupFormatError);
        else expect(r.md!.slots.length).toBeGreaterThan(0);
      }),
      { numRuns: 300 },
    );
  });

  it('openBackup on garbage only ever throws E2eeErrors', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), async (bytes) => {
        const err = await openBackup(bytes, { password: PASSWORD }, { attempts: noAttemptLimit }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(E2eeError);
      }),
      { numRuns: 200 },
    );
  });
});

describe('random damage to a valid file', () => {
  let set: Awaited<ReturnType<typeof makeSet>>;
  beforeAll(async () => {
    set = await makeSet();
  });

  const damage = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
    fc.record({
      kind: fc.constant('insert' as const),
      at: fc.nat(),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 40 }),
    }),
  );

  it('is always an E2eeError, and whatever was released is an authenticated prefix of the original', async () => {
    await fc.assert(
      fc.asyncProperty(damage, async (d) => {
        const f = set.fileA;
        let bad: Uint8Array;
        if (d.kind === 'flip') {
          bad = f.slice();
          bad[d.at % f.length]! ^= 1 << d.bit;
        } else if (d.kind === 'cut') bad = f.subarray(0, d.at % f.length);
        else {
          const at = d.at % (f.length + 1);
          bad = concat([f.subarray(0, at), d.bytes, f.subarray(at)]);
        }
        let released: Uint8Array = new Uint8Array(0);
        let error: unknown;
        try {
          // a damaged Argon2 parameter must not make the test slow: cap the KDF memory
          const { plaintext } = await openBackup(
            bad,
            { password: PASSWORD },
            { attempts: noAttemptLimit, maxArgon2MemoryKiB: 64 },
          );
          const r = await collect(plaintext);
          released = concat(r.chunks);
          error = r.error;
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(E2eeError);
        expect(released.length % CHUNK).toBe(0);
        expect(released).toEqual(set.plainA.subarray(0, released.length));
      }),
      { numRuns: 80 },
    );
  });
});
