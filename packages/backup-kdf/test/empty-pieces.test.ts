// A byte source that yields zero-length pieces without end (a stalled socket wrapper, a hostile
// stream) must end in a typed error after a bounded number of pulls, not spin forever; a source that
// yields some empty pieces between its data still works.
import {
  createBackup,
  DecodeError,
  E2eeError,
  ErrorCode,
  noAttemptLimit,
  openBackup,
} from '@e2ee-kit/backup-kdf';
import { unsafeTestParams } from '@e2ee-kit/backup-kdf/testing';
import { describe, expect, it } from 'vitest';
import { collect, concat, PASSWORD, pattern } from './helpers.js';

/** Far above the reader's budget: reaching it means the reader would have kept pulling forever. */
const RUNAWAY = 200_000;

/** `prefix`, then empty pieces until pulled `RUNAWAY` times (then a plain Error: the test failed). */
function emptyForever(prefix: Uint8Array[] = []): AsyncIterable<Uint8Array> & { pulls: number } {
  const source = {
    pulls: 0,
    async *[Symbol.asyncIterator]() {
      yield* prefix;
      for (;;) {
        if (++source.pulls > RUNAWAY) throw new Error('runaway: the reader never gave up');
        yield new Uint8Array(0);
      }
    },
  };
  return source;
}

const options = { password: PASSWORD, argon2: unsafeTestParams(), chunkSize: 4096 };

function expectStalled(error: unknown, source: { pulls: number }): void {
  expect(error).toBeInstanceOf(DecodeError);
  expect(E2eeError.is(error, ErrorCode.Decode)).toBe(true);
  expect((error as Error).message).toMatch(/empty pieces/);
  expect(source.pulls).toBeLessThanOrEqual(1024);
}

describe('a source of empty pieces without end', () => {
  it('createBackup ends its output with a DecodeError after a bounded number of pulls', async () => {
    const source = emptyForever([pattern(5000)]);
    const { output } = await createBackup(source, options);
    const { error } = await collect(output);
    expectStalled(error, source);
  });

  it('openBackup refuses a source that stalls before the header', async () => {
    const source = emptyForever();
    const error = await openBackup(source, { password: PASSWORD }, { attempts: noAttemptLimit }).catch(
      (e: unknown) => e,
    );
    expectStalled(error, source);
  });

  it('openBackup ends the plaintext with a DecodeError when the payload stalls', async () => {
    const { output } = await createBackup([pattern(3 * 4096 + 7)], options);
    const file = await output.bytes();
    const source = emptyForever([file.subarray(0, file.length - 100)]);
    const { plaintext } = await openBackup(source, { password: PASSWORD }, { attempts: noAttemptLimit });
    const { error } = await collect(plaintext);
    expectStalled(error, source);
  });

  it('empty pieces between data are skipped: the budget counts only empty pieces in a row', async () => {
    const plain = pattern(3 * 4096 + 7);
    async function* gappy(bytes: Uint8Array) {
      for (let o = 0; o < bytes.length; o += 1000) {
        for (let i = 0; i < 1000; i++) yield new Uint8Array(0);
        yield bytes.subarray(o, o + 1000);
      }
    }
    const { output } = await createBackup(gappy(plain), options);
    const file = await output.bytes();
    const { plaintext } = await openBackup(gappy(file), { password: PASSWORD }, { attempts: noAttemptLimit });
    expect(concat((await collect(plaintext)).chunks)).toEqual(plain);
  });
});
