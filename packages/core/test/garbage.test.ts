// Garbage in, typed errors out: every public function, constructor, static and instance method of the
// main, ./node and ./testing entries is fed a list of wrong values. Exports are enumerated at run time,
// so a new export is covered (and a new class fails this test until it has a factory below).
import * as core from '@e2ee-kit/core';
import * as nodeEntry from '@e2ee-kit/core/node';
import * as testing from '@e2ee-kit/core/testing';
import { describe, expect, it } from 'vitest';

const GARBAGE: ReadonlyArray<[string, unknown]> = [
  ['undefined', undefined],
  ['null', null],
  ['NaN', Number.NaN],
  ['-1', -1],
  ['0', 0],
  ['1.5', 1.5],
  ['2**53', 2 ** 53],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['1n', 1n],
  ['true', true],
  ["''", ''],
  ["'abc'", 'abc'],
  ['{}', {}],
  ['[]', []],
  ['[1,2,3]', [1, 2, 3]],
  ['Uint8Array(0)', new Uint8Array(0)],
  ['Uint8Array(1)', new Uint8Array(1)],
  ['Uint8Array(33)', new Uint8Array(33).fill(5)],
  ['Uint8Array(2 MiB)', new Uint8Array(2 * 1024 * 1024)],
  ['Array(100000)', new Array(100_000).fill(7)],
  ['Uint16Array(32)', new Uint16Array(32)],
  ['ArrayBuffer(32)', new ArrayBuffer(32)],
  ['Symbol', Symbol('garbage')],
  ['function', () => {}],
  ['async function', async () => new Uint8Array(3)],
  ['Object.create(null)', Object.create(null)],
  ['wrong address shape', { name: 1, deviceId: 'x' }],
  ['address, bad device', { name: 'a', deviceId: 1.5 }],
  ['fake provider', { name: 'x', randomBytes: () => new Uint8Array(1), hkdfSha256: () => 1 }],
  ['fake key', { rawView: new Uint8Array(32), type: 8 }],
  ['Date', new Date(Number.NaN)],
];

const isAllowed = (e: unknown) => e instanceof TypeError || e instanceof RangeError || core.E2eeError.is(e);

const TIMEOUT = Symbol('timeout');
async function settle(f: () => unknown): Promise<unknown> {
  try {
    const r = f();
    if (r instanceof Promise) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const out = await Promise.race([
        r.then(
          () => undefined,
          (e: unknown) => e,
        ),
        new Promise((res) => {
          timer = setTimeout(() => res(TIMEOUT), 5000);
        }),
      ]);
      clearTimeout(timer);
      return out;
    }
    return undefined;
  } catch (e) {
    return e;
  }
}

const isClass = (f: unknown): f is new (...a: unknown[]) => unknown =>
  typeof f === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(f));

/** Argument lists: every garbage value in every position (others undefined), and all positions at once. */
function* argLists(arity: number): Generator<[string, unknown[]]> {
  const n = Math.max(arity, 1) + 1;
  for (const [label, g] of GARBAGE) {
    yield [`all ${label}`, new Array(n).fill(g)];
    for (let i = 0; i < n; i++) {
      const args = new Array<unknown>(n).fill(undefined);
      args[i] = g;
      yield [`arg${i} ${label}`, args];
    }
  }
}

async function feed(name: string, call: (args: unknown[]) => unknown, arity: number): Promise<string[]> {
  const bad: string[] = [];
  for (const [label, args] of argLists(arity)) {
    const e = await settle(() => call(args));
    if (e === TIMEOUT) bad.push(`${name}(${label}): hung`);
    else if (e !== undefined && !isAllowed(e))
      bad.push(`${name}(${label}): ${(e as Error)?.name}: ${(e as Error)?.message}`);
  }
  return bad;
}

const p = core.nobleProvider;
const address = { name: 'alice', deviceId: 1 };

/** A working `WebLocksLike`: `request` runs the callbacks of one name one after another. */
function webLocks(): core.WebLocksLike {
  const mutex = new core.KeyedMutex();
  return { request: (name, _options, callback) => mutex.run(name, callback) };
}

/** A valid instance of every exported class, so its instance methods get garbage too. */
async function instances(): Promise<Record<string, () => Promise<object>>> {
  // Built once; factories hand out cheap fresh copies (some methods, e.g. wipe, change their object).
  const pair = await core.IdentityKeyPair.generate(p);
  const pairBytes = pair.serialize();
  const kem = core.generateKemKeyPair(p);
  const kemSecret = kem.secretKey.serialize();
  return {
    PublicKey: async () => pair.publicKey,
    PrivateKey: async () => core.PrivateKey.deserialize(pair.privateKey.serialize()),
    KeyPair: async () => {
      const fresh = core.IdentityKeyPair.deserialize(pairBytes);
      return new core.KeyPair(fresh.publicKey, fresh.privateKey);
    },
    IdentityKeyPair: async () => core.IdentityKeyPair.deserialize(pairBytes),
    KemPublicKey: async () => kem.publicKey,
    KemSecretKey: async () => core.KemSecretKey.deserialize(kemSecret),
    ProtoReader: async () => new core.ProtoReader(new core.ProtoWriter().uint32(1, 5).finish()),
    ProtoWriter: async () => new core.ProtoWriter(),
    KeyedMutex: async () => new core.KeyedMutex(),
    InProcessLockManager: async () => new core.InProcessLockManager(),
    ChainWalkYielder: async () => new core.ChainWalkYielder(),
    // Over a Web Locks stand-in with per-name exclusion (Node has no navigator.locks).
    WebLocksManager: async () => new core.WebLocksManager({ locks: webLocks() }),
    SecretBytes: async () => core.SecretBytes.copyOf(pair.privateKey.serialize()),
    KeyValueIdentityKeyStore: async () =>
      new core.KeyValueIdentityKeyStore({
        identityKeyPair: pair,
        registrationId: 1,
        backend: new testing.MemoryBackend(),
      }),
    InMemoryIdentityKeyStore: async () =>
      testing.InMemoryIdentityKeyStore.create({ provider: p, identityKeyPair: pair, registrationId: 1 }),
    MemoryBackend: async () => new testing.MemoryBackend(),
    E2eeError: async () => new core.E2eeError(core.ErrorCode.Decode, 'x'),
    DecodeError: async () => new core.DecodeError('x'),
    VerificationError: async () => new core.VerificationError('x'),
    InvalidKeyError: async () => new core.InvalidKeyError('x'),
    UntrustedIdentityError: async () => new core.UntrustedIdentityError(address),
    SessionNotFoundError: async () => new core.SessionNotFoundError(address),
    DuplicateMessageError: async () => new core.DuplicateMessageError(),
    MessageGapError: async () => new core.MessageGapError(),
    StoreError: async () => new core.StoreError('x'),
    LockedOutError: async () => new core.LockedOutError(new Date(0)),
    WrongPasswordError: async () => new core.WrongPasswordError(),
    UnsupportedError: async () => new core.UnsupportedError('x'),
  };
}

const entries: ReadonlyArray<[string, Record<string, unknown>]> = [
  ['@e2ee-kit/core', core],
  ['@e2ee-kit/core/node', nodeEntry],
  ['@e2ee-kit/core/testing', testing],
];

function methodsOf(obj: object): Array<[string, (...a: unknown[]) => unknown]> {
  const out: Array<[string, (...a: unknown[]) => unknown]> = [];
  const seen = new Set<string>();
  for (
    let o: object | null = obj;
    o && o !== Object.prototype && o !== Error.prototype;
    o = Object.getPrototypeOf(o)
  ) {
    for (const key of Object.getOwnPropertyNames(o)) {
      if (key === 'constructor' || seen.has(key)) continue;
      const d = Object.getOwnPropertyDescriptor(o, key);
      if (d && typeof d.value === 'function') {
        seen.add(key);
        out.push([key, d.value as (...a: unknown[]) => unknown]);
      }
    }
  }
  return out;
}

describe('garbage input to every public API', () => {
  for (const [entryName, mod] of entries) {
    const names = Object.keys(mod).sort();

    it(`${entryName}: exports are enumerated (${names.length})`, () => {
      expect(names.length).toBeGreaterThan(0);
      console.log(`[garbage] ${entryName}: ${names.join(', ')}`);
    });

    for (const name of names) {
      const value = mod[name];
      if (isClass(value)) {
        it(`${entryName} class ${name}: constructor, statics and instance methods`, async () => {
          const bad = await feed(`new ${name}`, (args) => new value(...args), value.length);
          for (const key of Object.getOwnPropertyNames(value)) {
            const f = (value as unknown as Record<string, unknown>)[key];
            if (typeof f !== 'function' || isClass(f)) continue;
            bad.push(
              ...(await feed(
                `${name}.${key}`,
                (args) => (f as (...a: unknown[]) => unknown).apply(value, args),
                f.length,
              )),
            );
          }
          const factory = (await instances())[name];
          expect(factory, `no factory for exported class ${name}: add one to instances()`).toBeDefined();
          for (const [key, f] of methodsOf(await factory!())) {
            // A fresh instance per method, so one call's damage (e.g. wipe) never hides another's.
            bad.push(
              ...(await feed(`${name}#${key}`, async (args) => f.apply(await factory!(), args), f.length)),
            );
          }
          expect(bad).toEqual([]);
        });
      } else if (typeof value === 'function') {
        it(`${entryName} function ${name}`, async () => {
          expect(
            await feed(name, (args) => (value as (...a: unknown[]) => unknown)(...args), value.length),
          ).toEqual([]);
        });
      } else if (value !== null && typeof value === 'object') {
        const methods = methodsOf(value);
        if (methods.length === 0) continue;
        it(`${entryName} object ${name}: ${methods.length} methods`, async () => {
          const bad: string[] = [];
          for (const [key, f] of methods)
            bad.push(...(await feed(`${name}.${key}`, (args) => f.apply(value, args), f.length)));
          expect(bad).toEqual([]);
        });
      }
    }
  }
});
