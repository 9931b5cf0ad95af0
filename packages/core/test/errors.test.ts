import { inspect } from 'node:util';
import {
  type CoreErrorCode,
  DecodeError,
  DuplicateMessageError,
  E2eeError,
  type E2eeErrorCode,
  type E2eeErrorCodeMap,
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
import { describe, expect, expectTypeOf, it } from 'vitest';

const address = { name: 'alice', deviceId: 2 };

/** One instance of every error class, with the code it must carry. */
const samples: ReadonlyArray<[E2eeError, E2eeErrorCode, string]> = [
  [new E2eeError(ErrorCode.Unsupported, 'plain'), ErrorCode.Unsupported, 'E2eeError'],
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
      expect(E2eeError.is(err, code === 'DECODE' ? 'STORE' : 'DECODE')).toBe(false);
      // A code the type does not know is refused at runtime too (for untyped JavaScript callers).
      expect(E2eeError.is(err, 'SOMETHING_ELSE' as E2eeErrorCode)).toBe(false);
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
    expect(new DecodeError('x', { code: ErrorCode.InvalidKey }).code).toBe('INVALID_KEY');
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

describe('E2eeError.is: typed codes, narrowing, brand', () => {
  it('narrows to the class a code belongs to (types checked by tsc, values at runtime)', () => {
    const err: unknown = new LockedOutError(new Date('2030-01-01T00:00:00Z'));
    if (E2eeError.is(err, ErrorCode.LockedOut)) {
      expectTypeOf(err).toEqualTypeOf<LockedOutError>();
      expectTypeOf(err.until).toEqualTypeOf<Date>();
      expect(err.until.toISOString()).toBe('2030-01-01T00:00:00.000Z');
    } else {
      expect.unreachable('a LockedOutError is LOCKED_OUT');
    }
    const store: unknown = new StoreError('x', { cause: new Error('disk') });
    if (E2eeError.is(store, 'STORE')) expectTypeOf(store).toEqualTypeOf<StoreError>();
    const bad: unknown = new VerificationError('x', { code: ErrorCode.InvalidMac });
    if (E2eeError.is(bad, ErrorCode.InvalidMac)) expectTypeOf(bad).toEqualTypeOf<VerificationError>();
    const key: unknown = new InvalidKeyError('x');
    if (E2eeError.is(key, ErrorCode.InvalidKey)) {
      expectTypeOf(key).toEqualTypeOf<DecodeError | InvalidKeyError>();
    }
    if (E2eeError.is(key)) expectTypeOf(key).toEqualTypeOf<E2eeError>();
    // A union of codes narrows to the union of their classes.
    const code = Math.random() < 2 ? ErrorCode.LockedOut : ErrorCode.WrongPassword;
    const either: unknown = new WrongPasswordError();
    if (E2eeError.is(either, code)) expectTypeOf(either).toEqualTypeOf<LockedOutError | WrongPasswordError>();
  });

  it('takes only known codes: a typo does not compile', () => {
    const err: unknown = new DecodeError('x');
    // @ts-expect-error — 'DECOED' is not a code
    expect(E2eeError.is(err, 'DECOED')).toBe(false);
    // @ts-expect-error — a plain string is not a code either
    expect(E2eeError.is(err, String('DECODE'))).toBe(true);
    // @ts-expect-error — constructors take codes too
    expect(new E2eeError('NOT_A_CODE', 'x').code).toBe('NOT_A_CODE');
    expectTypeOf<E2eeErrorCode>().toEqualTypeOf<CoreErrorCode>();
    expectTypeOf(new DecodeError('x').code).toEqualTypeOf<E2eeErrorCode>();
  });

  it('the map has exactly the codes of ErrorCode', () => {
    expectTypeOf<keyof E2eeErrorCodeMap>().toEqualTypeOf<CoreErrorCode>();
    expectTypeOf<CoreErrorCode>().toEqualTypeOf<(typeof ErrorCode)[keyof typeof ErrorCode]>();
  });

  it('recognises errors of a second module instance (as when both the ESM and CJS copies load)', async () => {
    // A second instance of the same source: its classes are distinct objects, as in a dual load.
    const other = (await import(
      /* @vite-ignore */ `../src/errors.ts?second-copy=${Date.now()}`
    )) as typeof import('../src/errors.js');
    expect(other.E2eeError).not.toBe(E2eeError);
    const foreign: unknown = new other.LockedOutError(new Date(0));
    expect(foreign instanceof E2eeError).toBe(false);
    expect(E2eeError.is(foreign)).toBe(true);
    expect(E2eeError.is(foreign, ErrorCode.LockedOut)).toBe(true);
    expect(E2eeError.is(foreign, ErrorCode.Store)).toBe(false);
    expect(other.E2eeError.is(new StoreError('x'), ErrorCode.Store)).toBe(true);
    if (E2eeError.is(foreign, ErrorCode.LockedOut)) expect(foreign.until.getTime()).toBe(0);
    expect(String(foreign)).toBe('LockedOutError [LOCKED_OUT]: locked out until 1970-01-01T00:00:00.000Z');
  });
});
