// Hostile files, swept: every byte of a real file's header and slot section flipped (three ways),
// the file cut at every length up to its payload, fields set to extreme values, and the same for
// splitBackupFile / joinBackupFile. Each ends in a typed error; one the decoder or the reader's caps
// refuse comes before any KDF, with the attempt store byte for byte as it was; any other runs at
// most one KDF, within the reader's caps (what the file asks for never exceeds them).
import {
  type Argon2Provider,
  BackupFormatError,
  BackupKeyring,
  DEFAULT_MAX_ARGON2_MEMORY_KIB,
  DEFAULT_MAX_ARGON2_WORK,
  E2eeError,
  hashWasmArgon2Provider,
  joinBackupFile,
  LocalBackoffPolicy,
  MemoryAttemptStore,
  NoMatchingSlotError,
  openBackup,
  splitBackupFile,
} from '@e2ee-kit/backup-kdf';
import { unsafeTestParams } from '@e2ee-kit/backup-kdf/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { collect, concat, layout, PASSWORD, pattern } from './helpers.js';

const NOW = Date.UTC(2026, 0, 1);
let file: Uint8Array;
let slotEnd: number;
/** Attempt records after two wrong passwords: what a refused open must leave exactly as it was. */
let before: Uint8Array;
let store: MemoryAttemptStore;

beforeAll(async () => {
  const { keyring } = await BackupKeyring.create({
    password: PASSWORD,
    recoveryKey: true,
    external: [{ type: 0x90, data: pattern(16), secret: pattern(32, 3, 1) }],
    argon2: unsafeTestParams(),
  });
  file = await keyring.encrypt([pattern(5000)], { chunkSize: 4096 }).bytes();
  ({ slotEnd } = layout(file, 4096));
  store = new MemoryAttemptStore();
  const attempts = new LocalBackoffPolicy({ store, now: () => NOW });
  for (const password of ['wrong guess 1', 'wrong guess 2']) {
    await openBackup(file, { password }, { attempts }).catch(() => {});
  }
  before = (await store.get('password'))!;
  expect(before).toBeDefined();
});

/** An Argon2 provider that records the parameters of every run it is asked for. */
function recordingArgon2(): Argon2Provider & { runs: { memoryKiB: number; iterations: number }[] } {
  const p = {
    name: 'recording',
    supportsAssociatedData: false,
    runs: [] as { memoryKiB: number; iterations: number }[],
    argon2id(input: Parameters<Argon2Provider['argon2id']>[0]) {
      p.runs.push({ memoryKiB: input.memoryKiB, iterations: input.iterations });
      return hashWasmArgon2Provider.argon2id(input);
    },
  };
  return p;
}

/**
 * Opens `bytes` with the password through a copy of the two-failure store; checks the outcome's
 * type, what KDF ran and what the store holds after. Returns a label of the outcome.
 */
async function openHostile(bytes: Uint8Array, where: string): Promise<string> {
  const copy = new MemoryAttemptStore();
  await copy.set('password', before);
  const attempts = new LocalBackoffPolicy({ store: copy, now: () => NOW });
  const argon2Provider = recordingArgon2();
  let error: unknown;
  try {
    const { plaintext, keyring } = await openBackup(
      bytes,
      { password: PASSWORD },
      { attempts, argon2Provider },
    );
    error = (await collect(plaintext)).error;
    keyring.destroy();
  } catch (err) {
    error = err;
  }
  expect(error === undefined || error instanceof E2eeError, `${where}: ${String(error)}`).toBe(true);
  for (const run of argon2Provider.runs) {
    expect(run.memoryKiB, where).toBeLessThanOrEqual(DEFAULT_MAX_ARGON2_MEMORY_KIB);
    expect(run.memoryKiB * run.iterations, where).toBeLessThanOrEqual(DEFAULT_MAX_ARGON2_WORK);
  }
  expect(argon2Provider.runs.length, where).toBeLessThanOrEqual(1);
  if (error instanceof BackupFormatError || error instanceof NoMatchingSlotError) {
    // Refused from the file alone: no KDF, and not one byte of the attempt store changed.
    expect(argon2Provider.runs, where).toHaveLength(0);
    expect(await copy.get('password'), where).toEqual(before);
    return 'refused';
  }
  return error === undefined ? 'opened' : (error as E2eeError).code;
}

describe('every byte of the header and slot section flipped', () => {
  it('ends in a typed error, never an open; refusals run no KDF and write nothing', async () => {
    const seen = new Map<string, number>();
    for (let i = 0; i < slotEnd; i++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const edited = file.slice();
        edited[i]! ^= mask;
        const label = await openHostile(edited, `byte ${i} ^ 0x${mask.toString(16)}`);
        seen.set(label, (seen.get(label) ?? 0) + 1);
      }
    }
    // The sweep reached every kind of outcome: refusals, wrong secrets and tampering.
    expect(seen.get('refused')).toBeGreaterThan(50);
    expect(seen.get('WRONG_PASSWORD')).toBeGreaterThan(50);
    expect(seen.get('BACKUP_SLOTS_TAMPERED')).toBeGreaterThan(50);
    expect(seen.has('opened')).toBe(false); // the slots MAC covers every slot byte, the header tag the header
  }, 120_000);
});

describe('the file cut at every length up to its payload, or run on', () => {
  it('before the payload: refused from the file alone; right at it: BACKUP_TRUNCATED', async () => {
    for (let n = 0; n < slotEnd; n++) {
      expect(await openHostile(file.subarray(0, n), `cut at ${n}`), `cut at ${n}`).toBe('refused');
    }
    expect(await openHostile(file.subarray(0, slotEnd), 'no payload')).toBe('BACKUP_TRUNCATED');
    expect(await openHostile(concat([file, Uint8Array.of(0)]), 'one byte more')).toBe('BACKUP_TRAILING_DATA');
  });
});

describe('fields at extreme values', () => {
  const put32 = (b: Uint8Array, o: number, v: number) => new DataView(b.buffer, b.byteOffset).setUint32(o, v);
  // The password slot is the first: its body at 96 = kdf, m 97…100, t 101…104, p 105.
  const cases: Array<[string, (b: Uint8Array) => void]> = [
    ['chunk_log2 0', (b) => (b[10] = 0)],
    ['chunk_log2 255', (b) => (b[10] = 255)],
    ['slot_count 255', (b) => (b[92] = 255)],
    ['first slot length 0xffff', (b) => b.fill(0xff, 94, 96)],
    ['first slot length 0', (b) => b.fill(0, 94, 96)],
    ['m = 2^32 - 1 KiB', (b) => put32(b, 97, 0xffffffff)],
    ['m one KiB above the reader cap', (b) => put32(b, 97, DEFAULT_MAX_ARGON2_MEMORY_KIB + 1)],
    ['m = the format maximum (1 GiB)', (b) => put32(b, 97, 1024 * 1024)],
    [
      'm·t above the work cap (128 MiB × 6)',
      (b) => {
        put32(b, 97, 128 * 1024);
        put32(b, 101, 6);
      },
    ],
    ['t = 2^32 - 1', (b) => put32(b, 101, 0xffffffff)],
    ['p = 255', (b) => (b[105] = 255)],
  ];
  for (const [what, mutate] of cases) {
    it(`${what}: refused before any KDF, the attempt store untouched`, async () => {
      const bad = file.slice();
      mutate(bad);
      expect(await openHostile(bad, what)).toBe('refused');
    });
  }
});

describe('splitBackupFile / joinBackupFile on hostile bytes', () => {
  const typedOrExact = (run: () => Uint8Array, input: Uint8Array, where: string) => {
    let out: Uint8Array;
    try {
      out = run();
    } catch (err) {
      expect(err, where).toBeInstanceOf(BackupFormatError);
      return;
    }
    // Compared by hand: a deep-equal of kilobytes, ten thousand times, takes a minute.
    expect(out.length === input.length && out.every((b, i) => b === input[i]), where).toBe(true);
  };
  it('every flip and every cut of the file: a BackupFormatError, or parts that join back to exactly those bytes', () => {
    for (let i = 0; i < file.length; i++) {
      const edited = file.slice();
      edited[i]! ^= 0x80;
      typedOrExact(() => joinBackupFile(splitBackupFile(edited)), edited, `flip ${i}`);
    }
    for (let n = 0; n <= file.length; n++) {
      const cut = file.slice(0, n);
      typedOrExact(() => joinBackupFile(splitBackupFile(cut)), cut, `cut at ${n}`);
    }
  });

  it('a slot section cut, run on or swapped for garbage, and a body cut inside its header: BackupFormatError', () => {
    const { slots, body } = splitBackupFile(file);
    for (let n = 0; n < slots.length; n++) {
      expect(() => joinBackupFile({ slots: slots.subarray(0, n), body }), `slots cut at ${n}`).toThrow(
        BackupFormatError,
      );
    }
    expect(() => joinBackupFile({ slots: concat([slots, Uint8Array.of(0)]), body })).toThrow(
      BackupFormatError,
    );
    expect(() => joinBackupFile({ slots: new Uint8Array(slots.length).fill(0xff), body })).toThrow(
      BackupFormatError,
    );
    for (let n = 0; n < 92; n++) {
      expect(() => joinBackupFile({ slots, body: body.subarray(0, n) }), `body cut at ${n}`).toThrow(
        BackupFormatError,
      );
    }
  });
});
