import { inspect } from 'node:util';
import {
  DecodeError,
  DuplicateMessageError,
  E2eeError,
  ErrorCode,
  generateKemKeyPair,
  IdentityKeyPair,
  InvalidKeyError,
  KeyPair,
  LockedOutError,
  MessageGapError,
  nobleProvider,
  PrivateKey,
  PublicKey,
  SessionNotFoundError,
  StoreError,
  toHex,
  UnsupportedError,
  UntrustedIdentityError,
  VerificationError,
  WrongPasswordError,
} from '@e2ee-kit/core';
import { describe, expect, it } from 'vitest';

const address = { name: 'alice', deviceId: 2 };

/** One instance of every error class, with the code it must carry. */
const samples: ReadonlyArray<[E2eeError, string, string]> = [
  [new E2eeError('CUSTOM_CODE', 'custom'), 'CUSTOM_CODE', 'E2eeError'],
  [new DecodeError('bad bytes'), ErrorCode.Decode, 'DecodeError'],
  [
    new VerificationError('bad mac', { code: ErrorCode.InvalidMac }),
    ErrorCode.InvalidMac,
    'VerificationError',
  ],
  [new VerificationError('bad sig'), ErrorCode.Verification, 'VerificationError'],
  [new InvalidKeyError('bad key'), ErrorCode.InvalidKey, 'InvalidKeyError'],
  [new UntrustedIdentityError(address), ErrorCode.UntrustedIdentity, 'UntrustedIdentityError'],
  [new SessionNotFoundError(address), ErrorCode.SessionNotFound, 'SessionNotFoundError'],
  [new DuplicateMessageError(), ErrorCode.DuplicateMessage, 'DuplicateMessageError'],
  [new MessageGapError(), ErrorCode.MessageGap, 'MessageGapError'],
  [new StoreError('store failed', { cause: new Error('disk full') }), ErrorCode.Store, 'StoreError'],
  [new LockedOutError(new Date(0)), ErrorCode.LockedOut, 'LockedOutError'],
  [new WrongPasswordError(), ErrorCode.WrongPassword, 'WrongPasswordError'],
  [new UnsupportedError('no wasm'), ErrorCode.Unsupported, 'UnsupportedError'],
];

describe('E2eeError', () => {
  it('codes are stable strings (a rename is a breaking change)', () => {
    expect(ErrorCode).toEqual({
      Decode: 'DECODE',
      Verification: 'VERIFICATION',
      InvalidSignature: 'INVALID_SIGNATURE',
      InvalidMac: 'INVALID_MAC',
      AeadTagMismatch: 'AEAD_TAG_MISMATCH',
      BadPadding: 'BAD_PADDING',
      InvalidKey: 'INVALID_KEY',
      InvalidKeyAgreement: 'INVALID_KEY_AGREEMENT',
      UntrustedIdentity: 'UNTRUSTED_IDENTITY',
      SessionNotFound: 'SESSION_NOT_FOUND',
      DuplicateMessage: 'DUPLICATE_MESSAGE',
      MessageGap: 'MESSAGE_GAP',
      Store: 'STORE',
      LockedOut: 'LOCKED_OUT',
      WrongPassword: 'WRONG_PASSWORD',
      Unsupported: 'UNSUPPORTED',
    });
  });

  it('every class: instanceof, name, code, is(), toString', () => {
    for (const [err, code, name] of samples) {
      expect(err).toBeInstanceOf(Error);
      expect(err).toBeInstanceOf(E2eeError);
      expect(err.name).toBe(name);
      expect(err.code).toBe(code);
      expect(E2eeError.is(err)).toBe(true);
      expect(E2eeError.is(err, code)).toBe(true);
      expect(E2eeError.is(err, 'SOMETHING_ELSE')).toBe(false);
      expect(String(err)).toBe(`${name} [${code}]: ${err.message}`);
      expect(err.stack).toContain(name);
    }
  });

  it('is() refuses non-errors and foreign errors', () => {
    for (const x of [
      undefined,
      null,
      0,
      'DECODE',
      {},
      { code: 'DECODE' },
      new Error('x'),
      new TypeError('x'),
    ]) {
      expect(E2eeError.is(x)).toBe(false);
      expect(E2eeError.is(x, 'DECODE')).toBe(false);
    }
  });

  it('is() recognises an error from a second copy of the package (brand symbol)', () => {
    class OtherCopyError extends Error {
      readonly code = 'DECODE';
    }
    Object.defineProperty(OtherCopyError.prototype, Symbol.for('@e2ee-kit/core/E2eeError'), { value: true });
    const e = new OtherCopyError('from the CJS build');
    expect(E2eeError.is(e)).toBe(true);
    expect(E2eeError.is(e, 'DECODE')).toBe(true);
    expect(E2eeError.is(e, 'STORE')).toBe(false);
  });

  it('subclasses carry their data; cause is kept; no cause key when none is given', () => {
    const u = new UntrustedIdentityError({ name: 'bob', deviceId: 7 });
    expect(u.address).toEqual({ name: 'bob', deviceId: 7 });
    expect(u.message).toBe('untrusted identity for bob.7');
    expect(new SessionNotFoundError({ name: 'bob', deviceId: 7 }).address).toEqual({
      name: 'bob',
      deviceId: 7,
    });
    const until = new Date('2030-01-01T00:00:00Z');
    expect(new LockedOutError(until).until).toBe(until);
    const cause = new Error('disk full');
    expect(new StoreError('save failed', { cause }).cause).toBe(cause);
    expect('cause' in new DecodeError('x')).toBe(false);
    expect(new DecodeError('x', { code: 'CUSTOM' }).code).toBe('CUSTOM');
  });
});

describe('no secret ever prints', () => {
  it('key objects print as placeholders in String(), JSON and util.inspect', async () => {
    const pair = await IdentityKeyPair.generate(nobleProvider);
    const kem = generateKemKeyPair(nobleProvider);
    const secrets = [toHex(pair.privateKey.serialize()), toHex(pair.publicKey.serialize()).slice(2)];
    const objects: unknown[] = [
      pair,
      pair.privateKey,
      pair.publicKey,
      new KeyPair(pair.publicKey, pair.privateKey),
      kem.secretKey,
      kem.publicKey,
    ];
    for (const o of objects) {
      for (const rendered of [
        String(o),
        JSON.stringify(o),
        inspect(o, { depth: 5, showHidden: true }),
        JSON.stringify({ o }),
      ]) {
        for (const s of secrets) expect(rendered).not.toContain(s);
        expect(rendered).not.toMatch(/[0-9a-f]{32}/);
      }
    }
    expect(String(pair.privateKey)).toBe('[PrivateKey]');
    expect(JSON.stringify(kem.secretKey)).toBe('"[KemSecretKey]"');
  });

  it('error messages from failed operations carry no key or input bytes', async () => {
    const key = nobleProvider.randomBytes(32);
    const data = nobleProvider.randomBytes(48);
    const errors: unknown[] = [];
    const capture = async (f: () => unknown) => {
      try {
        await f();
      } catch (e) {
        errors.push(e);
      }
    };
    await capture(() => nobleProvider.aes256GcmDecrypt(key, data.subarray(0, 12), data));
    await capture(() => nobleProvider.aes256CbcDecrypt(key, data.subarray(0, 16), data.subarray(0, 17)));
    await capture(() => PublicKey.deserialize(Uint8Array.of(9, ...key)));
    await capture(() => PrivateKey.deserialize(data));
    await capture(() =>
      PrivateKey.deserialize(key).agree(PublicKey.fromRaw(new Uint8Array(32)), nobleProvider),
    );
    expect(errors.length).toBe(5);
    for (const e of errors) {
      const text = `${String(e)} ${inspect(e)} ${JSON.stringify(e)}`;
      expect(text).not.toContain(toHex(key));
      expect(text).not.toContain(toHex(key).slice(0, 16));
      expect(text).not.toContain(toHex(data).slice(0, 16));
    }
  });
});
