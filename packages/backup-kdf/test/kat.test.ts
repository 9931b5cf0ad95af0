// Container known-answer tests: the committed fixture bytes must come out of the library again
// (deterministic randomness), and an independent reader written here on node:crypto and the native
// `argon2` package must decrypt them — so the fixtures check the format, not just our own code.
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  BackupKeyring,
  changeBackupPassword,
  importHexRecoveryKey,
  MIN_ARGON2_PARAMS,
  noAttemptLimit,
  openBackup,
  parseRecoveryKey,
} from '@e2ee-kit/backup-kdf';
import { nobleProvider, toHex } from '@e2ee-kit/core';
import { deterministicProvider } from '@e2ee-kit/core/testing';
import argon2 from 'argon2';
import { describe, expect, it } from 'vitest';
import { allProviders } from '../../../tools/providers.js';
import { pattern } from './helpers.js';

interface KatFile {
  length: number;
  mul: number;
  add: number;
  fileHex: string;
}
interface KatCase {
  name: string;
  seed: string;
  password?: string;
  recovery?: 'digits' | 'hex';
  recoveryKey?: string;
  hexKey?: string;
  external?: { type: number; dataHex: string; secretHex: string };
  suite: 'aes-256-gcm' | 'chacha20-poly1305';
  chunkSize: number;
  files: KatFile[];
  changeTo?: string;
  changed?: { seed: string; newPassword: string; fileHex: string };
}
const fixture = JSON.parse(
  readFileSync(new URL('./fixtures/container-v1-kat.json', import.meta.url), 'utf8'),
) as { cases: KatCase[] };
const hex = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
const utf8 = (s: string) => new TextEncoder().encode(s);

/** Rebuilds a case with the library (deterministic randomness) and returns the file bytes. */
async function rebuild(c: KatCase, provider: (typeof allProviders)[number]['provider']) {
  const p = deterministicProvider(provider, c.seed);
  const { keyring, recoveryKey } = await BackupKeyring.create({
    provider: p,
    argon2: MIN_ARGON2_PARAMS,
    ...(c.password !== undefined ? { password: c.password } : {}),
    ...(c.recovery === 'digits' ? { recoveryKey: true } : {}),
    ...(c.recovery === 'hex' ? { recoveryKey: importHexRecoveryKey(c.hexKey!) } : {}),
    ...(c.external
      ? {
          external: [
            { type: c.external.type, data: hex(c.external.dataHex), secret: hex(c.external.secretHex) },
          ],
        }
      : {}),
  });
  const files: string[] = [];
  for (const f of c.files) {
    const bytes = await keyring
      .encrypt([pattern(f.length, f.mul, f.add)], { suite: c.suite, chunkSize: c.chunkSize })
      .bytes();
    files.push(toHex(bytes));
  }
  return { files, recoveryKey };
}

// ---------------------------------------------------------------------------------------------
// Independent reader: every step re-done with node:crypto and node-argon2, from the spec text.
// ---------------------------------------------------------------------------------------------
const MAGIC = Buffer.from('424b44460d0a1a0a', 'hex');
const hkdf = (ikm: Uint8Array, salt: Uint8Array, info: string | Uint8Array, len = 32) =>
  new Uint8Array(hkdfSync('sha256', ikm, salt, typeof info === 'string' ? utf8(info) : info, len));
const hmac = (key: Uint8Array, data: Uint8Array) =>
  new Uint8Array(createHmac('sha256', key).update(data).digest());

function aeadOpen(
  alg: 'aes-256-gcm' | 'chacha20-poly1305',
  key: Uint8Array,
  nonce: Uint8Array,
  sealed: Uint8Array,
  aad: Uint8Array,
) {
  const d = createDecipheriv(alg as 'aes-256-gcm', key, nonce, { authTagLength: 16 });
  d.setAAD(aad, { plaintextLength: sealed.length - 16 });
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  return new Uint8Array(Buffer.concat([d.update(sealed.subarray(0, sealed.length - 16)), d.final()]));
}

interface ParsedSlot {
  type: number;
  body: Uint8Array;
}
function parse(file: Uint8Array) {
  expect(Buffer.from(file.subarray(0, 8)).equals(MAGIC)).toBe(true);
  expect(file[8]).toBe(1);
  const header = file.subarray(0, 92);
  const slots: ParsedSlot[] = [];
  let o = 93;
  for (let i = 0; i < file[92]!; i++) {
    const len = (file[o + 1]! << 8) | file[o + 2]!;
    slots.push({ type: file[o]!, body: file.subarray(o + 3, o + 3 + len) });
    o += 3 + len;
  }
  return {
    header,
    slots,
    slotBytes: file.subarray(92, o),
    mac: file.subarray(o, o + 32),
    payload: file.subarray(o + 32),
  };
}

async function independentDek(file: Uint8Array, c: KatCase, password?: string): Promise<Uint8Array> {
  const { slots } = parse(file);
  const wrapLabel = utf8('backup-kdf/v1/wrap');
  for (const s of slots) {
    let kek: Uint8Array | undefined;
    let descriptor: Uint8Array;
    const b = s.body;
    if (s.type === 0x01 && password !== undefined) {
      const view = Buffer.from(b);
      const salt = b.subarray(10, 26);
      const a = await argon2.hash(Buffer.from(password.normalize('NFKC'), 'utf8'), {
        type: argon2.argon2id,
        raw: true,
        memoryCost: view.readUInt32BE(1),
        timeCost: view.readUInt32BE(5),
        parallelism: b[9]!,
        salt: Buffer.from(salt),
        hashLength: 32,
      });
      kek = hkdf(a, salt, 'backup-kdf/v1/kek/password');
      descriptor = Buffer.concat([Buffer.of(0x01), b.subarray(0, 26)]);
      const dek = aeadOpen(
        'aes-256-gcm',
        kek,
        new Uint8Array(12),
        b.subarray(26, 74),
        Buffer.concat([wrapLabel, descriptor]),
      );
      return dek;
    }
    if (s.type === 0x02 && password === undefined && c.recovery) {
      const salt = b.subarray(1, 17);
      const ikm = c.recovery === 'digits' ? utf8(c.recoveryKey!.replace(/ /g, '')) : hex(c.hexKey!);
      expect(b[0]).toBe(c.recovery === 'digits' ? 1 : 2);
      kek = hkdf(ikm, salt, 'backup-kdf/v1/kek/recovery');
      descriptor = Buffer.concat([Buffer.of(0x02), b.subarray(0, 17)]);
      return aeadOpen(
        'aes-256-gcm',
        kek,
        new Uint8Array(12),
        b.subarray(17, 65),
        Buffer.concat([wrapLabel, descriptor]),
      );
    }
  }
  throw new Error('no slot opened');
}

function independentPayload(file: Uint8Array, dek: Uint8Array, c: KatCase): Uint8Array {
  const { header, slotBytes, mac, payload } = parse(file);
  // slots MAC and header tag
  const slotsKey = hkdf(dek, new Uint8Array(0), 'backup-kdf/v1/slots-mac');
  expect(
    toHex(hmac(slotsKey, Buffer.concat([header.subarray(0, 9), header.subarray(12, 28), slotBytes]))),
  ).toBe(toHex(mac));
  const headerKey = hkdf(dek, new Uint8Array(0), 'backup-kdf/v1/header-mac');
  expect(toHex(hmac(headerKey, header.subarray(0, 60)))).toBe(toHex(header.subarray(60, 92)));
  // payload
  expect(header[9]).toBe(c.suite === 'aes-256-gcm' ? 1 : 2);
  expect(2 ** header[10]!).toBe(c.chunkSize);
  const key = hkdf(dek, header.subarray(28, 60), 'backup-kdf/v1/payload');
  const aad = new Uint8Array(createHash('sha256').update(header).digest());
  const out: Uint8Array[] = [];
  const full = c.chunkSize + 16;
  for (let i = 0, o = 0; o < payload.length; i++, o += full) {
    const sealed = payload.subarray(o, Math.min(payload.length, o + full));
    const final = o + full >= payload.length;
    const nonce = new Uint8Array(12);
    Buffer.from(nonce.buffer).writeUIntBE(i, 5, 6);
    nonce[11] = final ? 1 : 0;
    out.push(aeadOpen(c.suite, key, nonce, sealed, aad));
  }
  return new Uint8Array(Buffer.concat(out));
}

describe('container v1 known answers', () => {
  for (const c of fixture.cases) {
    it(`${c.name}: the library reproduces the fixture bytes on every provider`, async () => {
      for (const { label, provider } of allProviders) {
        const { files, recoveryKey } = await rebuild(c, provider);
        expect(files, label).toEqual(c.files.map((f) => f.fileHex));
        if (c.recovery === 'digits') expect(recoveryKey!.toDisplayString(), label).toBe(c.recoveryKey);
      }
    });

    it(`${c.name}: an independent node:crypto + node-argon2 reader decrypts it`, async () => {
      for (const f of c.files) {
        const file = hex(f.fileHex);
        const expected = pattern(f.length, f.mul, f.add);
        if (c.password !== undefined) {
          const dek = await independentDek(file, c, c.password);
          expect(independentPayload(file, dek, c)).toEqual(expected);
        }
        if (c.recovery) {
          const dek = await independentDek(file, c);
          expect(independentPayload(file, dek, c)).toEqual(expected);
        }
      }
    });

    it(`${c.name}: the library opens the fixture`, async () => {
      const file = hex(c.files[0]!.fileHex);
      const expected = pattern(c.files[0]!.length, c.files[0]!.mul, c.files[0]!.add);
      const opts = { attempts: noAttemptLimit };
      if (c.password !== undefined) {
        const { plaintext } = await openBackup(file, { password: c.password }, opts);
        expect(await plaintext.bytes()).toEqual(expected);
      }
      if (c.recovery === 'digits') {
        const { plaintext } = await openBackup(file, { recoveryKey: parseRecoveryKey(c.recoveryKey!) }, opts);
        expect(await plaintext.bytes()).toEqual(expected);
      }
      if (c.recovery === 'hex') {
        const { plaintext } = await openBackup(file, { recoveryKey: importHexRecoveryKey(c.hexKey!) }, opts);
        expect(await plaintext.bytes()).toEqual(expected);
      }
      if (c.external) {
        const ext = c.external;
        const { plaintext } = await openBackup(
          file,
          {
            external: async (slot) => {
              expect(slot.type).toBe(ext.type);
              expect(toHex(slot.data)).toBe(ext.dataHex);
              return hex(ext.secretHex);
            },
          },
          opts,
        );
        expect(await plaintext.bytes()).toEqual(expected);
      }
    });

    if (c.changed) {
      const changed = c.changed;
      it(`${c.name}: password change reproduces the fixture and leaves header and payload bytes identical`, async () => {
        const before = hex(c.files[0]!.fileHex);
        const { output } = await changeBackupPassword(
          before,
          { password: c.password! },
          changed.newPassword,
          {
            provider: deterministicProvider(nobleProvider, changed.seed),
            argon2: MIN_ARGON2_PARAMS,
            attempts: noAttemptLimit,
          },
        );
        const after = await output.bytes();
        expect(toHex(after)).toBe(changed.fileHex);
        const a = parse(before);
        const b = parse(after);
        expect(toHex(b.header)).toBe(toHex(a.header));
        expect(toHex(b.payload)).toBe(toHex(a.payload));
        expect(toHex(b.slotBytes)).not.toBe(toHex(a.slotBytes));
        const dek = await independentDek(after, c, changed.newPassword);
        expect(independentPayload(after, dek, c)).toEqual(
          pattern(c.files[0]!.length, c.files[0]!.mul, c.files[0]!.add),
        );
      });
    }
  }

  it('the independent AEAD helper itself matches node:crypto encryption (sanity of the reader)', () => {
    const key = new Uint8Array(32).fill(9);
    const nonce = new Uint8Array(12).fill(1);
    const c = createCipheriv('aes-256-gcm', key, nonce);
    c.setAAD(Buffer.from('aad'));
    const sealed = Buffer.concat([c.update(Buffer.from('hello')), c.final(), c.getAuthTag()]);
    expect(Buffer.from(aeadOpen('aes-256-gcm', key, nonce, sealed, utf8('aad'))).toString()).toBe('hello');
  });
});
