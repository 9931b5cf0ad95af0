import {
  BackupErrorCode,
  BackupKeyring,
  changeBackupPassword,
  createBackup,
  IncorrectSecretError,
  InvalidRecoveryKeyError,
  noAttemptLimit,
  openBackup,
  PasswordRejectedError,
  parseRecoveryKey,
  readBackupMetadata,
  unlockBackup,
} from '@e2ee-kit/backup-kdf';
import { unsafeTestParams } from '@e2ee-kit/backup-kdf/testing';
import { type CryptoProvider, toHex } from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import { describe, expect, it } from 'vitest';
import {
  CHUNK,
  collect,
  concat,
  countingArgon2,
  layout,
  makeSet,
  openAll,
  PASSWORD,
  pattern,
} from './helpers.js';

const test = unsafeTestParams();
const opts = { attempts: noAttemptLimit };

function readable(parts: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(c) {
      if (i < parts.length) c.enqueue(parts[i++]!);
      else c.close();
    },
  });
}

async function* slowly(data: Uint8Array, sizes: number[]): AsyncGenerator<Uint8Array> {
  let o = 0;
  for (let i = 0; o < data.length; i++) {
    const n = sizes[i % sizes.length]!;
    yield data.subarray(o, o + n);
    o += n;
    await new Promise((r) => setTimeout(r, 0));
  }
}

describe('create and open, streaming in and out', () => {
  it('ReadableStream in → ReadableStream out → ReadableStream in → ReadableStream out', async () => {
    const data = pattern(3 * CHUNK + 17);
    const { output } = await createBackup(
      readable([data.subarray(0, 5), data.subarray(5, 9000), data.subarray(9000)]),
      {
        password: PASSWORD,
        argon2: test,
        chunkSize: CHUNK,
      },
    );
    const encrypted = output.toReadableStream();
    expect(encrypted).toBeInstanceOf(ReadableStream);
    const { plaintext } = await openBackup(encrypted, { password: PASSWORD }, opts);
    const back: Uint8Array[] = [];
    const reader = plaintext.toReadableStream().getReader();
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      back.push(r.value);
    }
    expect(concat(back)).toEqual(data);
  });

  it('AsyncIterable in (odd piece sizes) → AsyncIterable out, one chunk at a time', async () => {
    const data = pattern(5 * CHUNK);
    const { output } = await createBackup(slowly(data, [1, 4095, 7000, 3]), {
      password: PASSWORD,
      argon2: test,
      chunkSize: CHUNK,
    });
    const pieces: Uint8Array[] = [];
    for await (const p of output) pieces.push(p);
    const { plaintext } = await openBackup(
      slowly(concat(pieces), [333, 8192, 1]),
      { password: PASSWORD },
      opts,
    );
    const out: Uint8Array[] = [];
    for await (const p of plaintext) {
      expect(p.length).toBeLessThanOrEqual(CHUNK);
      out.push(p);
    }
    expect(out).toHaveLength(5);
    expect(concat(out)).toEqual(data);
  });

  it('a stream can only be consumed once', async () => {
    const { output } = await createBackup([new Uint8Array(1)], { password: PASSWORD, argon2: test });
    await output.bytes();
    expect(() => output.toReadableStream()).toThrow(TypeError);
  });

  it('several files of one set share the keyring; each file opens on its own', async () => {
    const set = await makeSet();
    expect((await openAll(set.fileB)).released).toEqual(set.plainB);
    const viaKeyring = await set.keyring.decrypt(set.fileB).bytes();
    expect(viaKeyring).toEqual(set.plainB);
    const { keyring } = await openBackup(set.fileA, { password: PASSWORD }, opts);
    expect(await keyring.decrypt(set.fileB).bytes()).toEqual(set.plainB);
    // a file of another set is refused by this keyring
    const other = await makeSet();
    await expect(keyring.decrypt(other.fileA).bytes()).rejects.toMatchObject({
      code: BackupErrorCode.SlotsTampered,
    });
  });

  it('ChaCha20-Poly1305 suite and every chunk size edge', async () => {
    const { keyring } = await BackupKeyring.create({ password: PASSWORD, argon2: test });
    for (const chunkSize of [4096, 1 << 16]) {
      for (const n of [0, 1, chunkSize - 1, chunkSize, chunkSize + 1]) {
        for (const suite of ['aes-256-gcm', 'chacha20-poly1305'] as const) {
          const data = pattern(n, 5, 1);
          const file = await keyring.encrypt([data], { suite, chunkSize }).bytes();
          expect(file.length).toBe(
            layout(file, chunkSize).payloadStart + n + 16 * Math.max(1, Math.ceil(n / chunkSize)),
          );
          expect(await keyring.decrypt(file).bytes()).toEqual(data);
        }
      }
    }
  });

  it('refuses chunk sizes that are not a power of two in 4 KiB…4 MiB', async () => {
    const { keyring } = await BackupKeyring.create({ password: PASSWORD, argon2: test });
    for (const chunkSize of [1000, 2048, 8 << 20, 65535])
      expect(() => keyring.encrypt([], { chunkSize })).toThrow(RangeError);
  });
});

describe('passwords', () => {
  it('are NFKC-normalized: composed and decomposed accents, full-width characters unlock alike', async () => {
    const composed = 'Caf\u00e9 cr\u00e8me 12';
    const decomposed = 'Cafe\u0301 cre\u0300me \uff11\uff12';
    const { output } = await createBackup([new Uint8Array(5)], { password: composed, argon2: test });
    const file = await output.bytes();
    await expect(openAll(file, { password: decomposed })).resolves.toMatchObject({ error: undefined });
  });

  it('empty and too-short passwords are refused before any KDF runs (create and open)', async () => {
    const argon2Provider = countingArgon2();
    await expect(createBackup([], { password: '', argon2: test, argon2Provider })).rejects.toMatchObject({
      code: BackupErrorCode.PasswordEmpty,
    });
    await expect(
      createBackup([], { password: 'short12', argon2: test, argon2Provider }),
    ).rejects.toMatchObject({
      code: BackupErrorCode.PasswordTooShort,
    });
    const set = await makeSet();
    for (const pw of ['', '12345']) {
      const err = await openBackup(set.fileA, { password: pw }, { ...opts, argon2Provider }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(PasswordRejectedError);
    }
    expect(argon2Provider.calls).toBe(0);
  });

  it('minimum length is configurable at creation but never below 6', async () => {
    await expect(
      createBackup([], { password: '123456', argon2: test, minPasswordLength: 6 }),
    ).resolves.toBeDefined();
    await expect(
      createBackup([], { password: '1234567', argon2: test, minPasswordLength: 5 }),
    ).rejects.toBeInstanceOf(RangeError);
  });
});

describe('change password: only the slot section is rewritten', () => {
  it('header and payload bytes stay identical; old password fails, new and recovery key work', async () => {
    const set = await makeSet();
    const before = set.fileA;
    const { output } = await changeBackupPassword(before, { password: PASSWORD }, 'a brand new password', {
      ...opts,
      argon2: test,
    });
    const after = await output.bytes();
    const lb = layout(before, CHUNK);
    const la = layout(after, CHUNK);
    expect(toHex(after.subarray(0, 92))).toBe(toHex(before.subarray(0, 92)));
    expect(toHex(after.subarray(la.payloadStart))).toBe(toHex(before.subarray(lb.payloadStart)));
    expect(toHex(after.subarray(92, la.slotEnd))).not.toBe(toHex(before.subarray(92, lb.slotEnd)));
    await expect(openBackup(after, { password: PASSWORD }, opts)).rejects.toBeInstanceOf(
      IncorrectSecretError,
    );
    expect((await openAll(after, { password: 'a brand new password' })).released).toEqual(set.plainA);
    expect((await openAll(after, { recoveryKey: set.recoveryKey })).released).toEqual(set.plainA);
  });

  it('can be done with the recovery key when the password is forgotten, streaming', async () => {
    const set = await makeSet();
    const { output } = await changeBackupPassword(
      slowly(set.fileA, [100, 5000]),
      { recoveryKey: set.recoveryKey.toDisplayString() },
      'remembered now',
      { ...opts, argon2: test },
    );
    const after = await output.bytes();
    expect((await openAll(after, { password: 'remembered now' })).released).toEqual(set.plainA);
  });

  it('a keyring rewrites the other files of the set the same way', async () => {
    const set = await makeSet();
    await set.keyring.changePassword('another password!', { argon2: test });
    const newB = await set.keyring.rewriteSlots(set.fileB).bytes();
    expect(toHex(newB.subarray(layout(newB, CHUNK).payloadStart))).toBe(
      toHex(set.fileB.subarray(layout(set.fileB, CHUNK).payloadStart)),
    );
    expect((await openAll(newB, { password: 'another password!' })).released).toEqual(set.plainB);
  });

  it('the new password is checked before the current one is tried', async () => {
    const set = await makeSet();
    const argon2Provider = countingArgon2();
    await expect(
      changeBackupPassword(set.fileA, { password: PASSWORD }, 'short', {
        ...opts,
        argon2: test,
        argon2Provider,
      }),
    ).rejects.toBeInstanceOf(PasswordRejectedError);
    expect(argon2Provider.calls).toBe(0);
  });
});

describe('recovery keys: add, remove, typos', () => {
  it('add a recovery key to a password-only backup, then remove it', async () => {
    const { output, keyring } = await createBackup([pattern(10)], { password: PASSWORD, argon2: test });
    const original = await output.bytes();
    const k = await keyring.addRecoveryKey();
    const withKey = await keyring.rewriteSlots(original).bytes();
    expect((await readBackupMetadata(withKey)).slots.map((s) => s.type)).toEqual(['password', 'recovery']);
    expect((await openAll(withKey, { recoveryKey: k.toDisplayString() })).released).toEqual(pattern(10));
    expect(keyring.removeRecoveryKey()).toBe(1);
    const without = await keyring.rewriteSlots(withKey).bytes();
    expect((await readBackupMetadata(without)).slots.map((s) => s.type)).toEqual(['password']);
    await expect(openBackup(without, { recoveryKey: k }, opts)).rejects.toMatchObject({
      code: BackupErrorCode.NoMatchingSlot,
    });
  });

  it('the last way to unlock cannot be removed', async () => {
    const { keyring } = await BackupKeyring.create({ recoveryKey: true });
    expect(() => keyring.removeRecoveryKey()).toThrow(RangeError);
  });

  it('a mistyped key is rejected locally (InvalidRecoveryKeyError), never silently corrected', async () => {
    const set = await makeSet();
    const d = set.recoveryKey.toDisplayString().replace(/ /g, '');
    const typo = d.slice(0, 10) + ((Number(d[10]) + 1) % 10) + d.slice(11);
    await expect(openBackup(set.fileA, { recoveryKey: typo }, opts)).rejects.toBeInstanceOf(
      InvalidRecoveryKeyError,
    );
  });

  it('a valid key of another backup is a wrong secret', async () => {
    const set = await makeSet();
    const other = await makeSet();
    await expect(openBackup(set.fileA, { recoveryKey: other.recoveryKey }, opts)).rejects.toBeInstanceOf(
      IncorrectSecretError,
    );
    expect(parseRecoveryKey(other.recoveryKey.toDisplayString()).format).toBe('digits64');
  });
});

describe('metadata without the key', () => {
  it('shows format, suite, chunk size, backup id and slot kinds with KDF parameters — nothing else', async () => {
    const set = await makeSet();
    const md = await readBackupMetadata(set.fileA);
    expect(md).toEqual({
      formatVersion: 1,
      suite: 'aes-256-gcm',
      chunkSize: CHUNK,
      backupId: set.keyring.backupId,
      slots: [
        { type: 'password', argon2: { memoryKiB: 8, iterations: 1, parallelism: 1 } },
        { type: 'recovery', format: 'digits64' },
      ],
    });
    expect(await readBackupMetadata(set.fileB)).toEqual(md);
  });

  it('reads only the preamble of a stream', async () => {
    const set = await makeSet();
    let pulled = 0;
    async function* counting() {
      for (let o = 0; o < set.fileA.length; o += 100) {
        pulled += 100;
        yield set.fileA.subarray(o, o + 100);
      }
    }
    await readBackupMetadata(counting());
    expect(pulled).toBeLessThanOrEqual(layout(set.fileA, CHUNK).payloadStart + 100);
  });
});

describe('external slot hook (server / HSM / enclave gated secret)', () => {
  it('unlocks with the secret the resolver releases; a wrong or withheld secret fails', async () => {
    const serverSecret = new Uint8Array(32).fill(0x42);
    const { output } = await createBackup([pattern(100)], {
      external: [{ type: 0x81, data: new TextEncoder().encode('record-17'), secret: serverSecret }],
    });
    const file = await output.bytes();
    const seen: string[] = [];
    const { plaintext } = await openBackup(file, {
      external: async (slot) => {
        seen.push(`${slot.type}:${new TextDecoder().decode(slot.data)}`);
        return serverSecret;
      },
    });
    expect(await plaintext.bytes()).toEqual(pattern(100));
    expect(seen).toEqual(['129:record-17']);
    await expect(openBackup(file, { external: async () => new Uint8Array(32) })).rejects.toBeInstanceOf(
      IncorrectSecretError,
    );
    await expect(openBackup(file, { external: async () => undefined })).rejects.toBeInstanceOf(
      IncorrectSecretError,
    );
  });

  it('validates the slot type and secret size', async () => {
    await expect(
      createBackup([], { external: [{ type: 0x7f, secret: new Uint8Array(32) }] }),
    ).rejects.toBeInstanceOf(RangeError);
    await expect(
      createBackup([], { external: [{ type: 0x80, secret: new Uint8Array(8) }] }),
    ).rejects.toBeInstanceOf(RangeError);
  });
});

describe('keyring hygiene', () => {
  it('a consumer that stops early still gets the payload key and the plaintext buffers wiped', async () => {
    // Records what the stream hands the AEAD (its own arrays: the payload key, the chunk buffers).
    const seen: { keys: Uint8Array[]; inputs: Uint8Array[] } = { keys: [], inputs: [] };
    const provider: CryptoProvider = {
      ...nodeProvider,
      aes256GcmEncrypt: (key, nonce, data, aad) => {
        seen.keys.push(key);
        seen.inputs.push(data);
        return nodeProvider.aes256GcmEncrypt(key, nonce, data, aad);
      },
      aes256GcmDecrypt: (key, nonce, data, aad) => {
        seen.keys.push(key);
        return nodeProvider.aes256GcmDecrypt(key, nonce, data, aad);
      },
    };
    const { keyring } = await BackupKeyring.create({ password: PASSWORD, argon2: test, provider });
    const plain = new Uint8Array(8 * CHUNK).fill(0x5a);
    const file = await keyring.encrypt([plain], { chunkSize: CHUNK }).bytes();
    const zero = (b: Uint8Array) => b.every((x) => x === 0);
    for (const make of [
      () => keyring.encrypt([plain], { chunkSize: CHUNK }),
      async () => (await openBackup(file, { password: PASSWORD }, { ...opts, provider })).plaintext,
    ]) {
      const stream = await make();
      seen.keys.length = 0;
      seen.inputs.length = 0;
      let pieces = 0;
      for await (const _ of stream) if (++pieces === 4) break; // e.g. the upload was cancelled
      await new Promise((r) => setTimeout(r, 50)); // chunks still in flight finish
      expect(seen.keys.length).toBeGreaterThan(0);
      expect(seen.keys.every(zero)).toBe(true);
      expect(seen.inputs.every(zero)).toBe(true);
    }
  });

  it('unlockBackup returns a keyring without decrypting; destroy() makes it unusable', async () => {
    const set = await makeSet();
    const k = await unlockBackup(set.fileA, { password: PASSWORD }, opts);
    expect(String(k)).toBe('[BackupKeyring]');
    k.destroy();
    await expect(k.decrypt(set.fileA).bytes()).rejects.toBeInstanceOf(TypeError);
  });

  it('errors never carry the password', async () => {
    const set = await makeSet();
    const pw = 'secret-password-xyz';
    const err = (await openBackup(set.fileA, { password: pw }, opts).catch((e: unknown) => e)) as Error;
    expect(`${err.message}${String(err)}${JSON.stringify(err)}`).not.toContain(pw);
    const { error } = await collect((await openBackup(set.fileA, { password: PASSWORD }, opts)).plaintext);
    expect(error).toBeUndefined();
  });
});

describe('sources that reuse their buffer', () => {
  /** Yields views of ONE buffer, overwriting it as soon as the next piece is asked for. */
  async function* reusing(data: Uint8Array, sizes: number[]): AsyncGenerator<Uint8Array> {
    const buf = new Uint8Array(Math.max(...sizes));
    let o = 0;
    for (let i = 0; o < data.length; i++) {
      const n = Math.min(sizes[i % sizes.length]!, data.length - o);
      buf.set(data.subarray(o, o + n));
      yield buf.subarray(0, n);
      buf.fill(0xee); // the consumer asked for more: the old bytes are gone
      o += n;
    }
  }

  it('round-trips even when every piece is overwritten after the next one is requested', async () => {
    const { keyring } = await BackupKeyring.create({ password: PASSWORD, argon2: test });
    for (const sizes of [[CHUNK], [CHUNK + 7, 100], [3 * CHUNK + 1], [1, 2, 4095]]) {
      const data = pattern(4 * CHUNK + 33, 3, 9);
      const file = await keyring.encrypt(reusing(data, sizes), { chunkSize: CHUNK }).bytes();
      const back = await keyring.decrypt(reusing(file, sizes)).bytes();
      expect(back).toEqual(data);
    }
  });
});
