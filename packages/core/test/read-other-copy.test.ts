// `readOtherCopy` as the README ("Errors", the dual-package paragraph) describes it: one call of
// `serialize()`, a longer serialization refused unread, every failure a DecodeError naming only the
// class — `read`'s own typed errors passing through, a StoreError with `fromStore` — and with
// `secret` the serialized temporary overwritten and no `cause` kept.
import { DecodeError, E2eeError, InvalidKeyError, ownValue, readOtherCopy, StoreError } from '@e2ee-kit/core';
import { describe, expect, it } from 'vitest';

const caught = (f: () => unknown): unknown => {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('did not throw');
};

/** An object of "another copy" whose serialize() answers `bytes` (or throws `fails`), counting calls. */
function other(bytes: Uint8Array, fails?: Error) {
  const o = {
    calls: 0,
    serialize(): Uint8Array {
      o.calls++;
      if (fails) throw fails;
      return bytes;
    },
  };
  return o;
}

describe('readOtherCopy', () => {
  it('reads through one serialize() call', () => {
    const o = other(Uint8Array.of(1, 2, 3));
    expect(readOtherCopy(o, 'Thing', (b) => [...b])).toEqual([1, 2, 3]);
    expect(o.calls).toBe(1);
  });

  it('a serialization longer than maxLength is a DecodeError and never reaches read', () => {
    let reads = 0;
    const read = () => reads++;
    expect(readOtherCopy(other(new Uint8Array(10)), 'Thing', read, { maxLength: 10 })).toBe(0);
    const e = caught(() => readOtherCopy(other(new Uint8Array(11)), 'Thing', read, { maxLength: 10 }));
    expect(e).toBeInstanceOf(DecodeError);
    expect((e as Error).message).toBe('a Thing of another copy is too long');
    expect(reads).toBe(1);
  });

  it('an untyped failure is a DecodeError naming only the class; read’s typed errors pass through', () => {
    const leaky = new Error('secret 0xdeadbeef');
    const thrown = caught(() => readOtherCopy(other(Uint8Array.of(1), leaky), 'Thing', () => 0));
    expect(thrown).toBeInstanceOf(DecodeError);
    expect((thrown as Error).message).toBe('a Thing of another copy did not serialize');
    const unread = caught(() =>
      readOtherCopy(other(Uint8Array.of(1)), 'Thing', () => {
        throw leaky;
      }),
    );
    expect(unread).toBeInstanceOf(DecodeError);
    expect((unread as Error).message).toBe('a Thing of another copy could not be read');
    expect(String(unread)).not.toContain('deadbeef');
    const typed = new InvalidKeyError('private key has been wiped');
    expect(
      caught(() =>
        readOtherCopy(other(Uint8Array.of(1)), 'Thing', () => {
          throw typed;
        }),
      ),
    ).toBe(typed);
  });

  it('fromStore: the untyped failures are StoreErrors; read’s DecodeError passes through', () => {
    const opts = { fromStore: true } as const;
    const failed = caught(() => readOtherCopy(other(Uint8Array.of(1), new Error('x')), 'Rec', () => 0, opts));
    expect(E2eeError.is(failed, 'STORE')).toBe(true);
    expect(failed).toBeInstanceOf(StoreError);
    const unread = caught(() =>
      readOtherCopy(
        other(Uint8Array.of(1)),
        'Rec',
        () => {
          throw new Error('x');
        },
        opts,
      ),
    );
    expect(unread).toBeInstanceOf(StoreError);
    const format = new DecodeError('unknown record version');
    expect(
      caught(() =>
        readOtherCopy(
          other(Uint8Array.of(1)),
          'Rec',
          () => {
            throw format;
          },
          opts,
        ),
      ),
    ).toBe(format);
  });

  it('secret: the serialized temporary is overwritten, on success and on failure, and no cause is kept', () => {
    const ok = Uint8Array.of(7, 7, 7);
    expect(readOtherCopy(other(ok), 'Key', (b) => [...b], { secret: true })).toEqual([7, 7, 7]);
    expect([...ok]).toEqual([0, 0, 0]);
    const bad = Uint8Array.of(7, 7);
    const e = caught(() =>
      readOtherCopy(
        other(bad),
        'Key',
        () => {
          throw new Error('7 7');
        },
        { secret: true },
      ),
    );
    expect([...bad]).toEqual([0, 0]);
    expect((e as Error).cause).toBeUndefined();
    const threw = caught(() => readOtherCopy(other(bad, new Error('7 7')), 'Key', () => 0, { secret: true }));
    expect((threw as Error).cause).toBeUndefined();
    // Without `secret` the other object's error is kept as the cause.
    const cause = new Error('not secret');
    expect((caught(() => readOtherCopy(other(bad, cause), 'Key', () => 0)) as Error).cause).toBe(cause);
  });
});

// `ownValue`: what a package's value class does with an argument that may be its own instance, another
// copy's branded object, or anything else (the README's dual-package paragraph).
describe('ownValue', () => {
  const brand = Symbol.for('e2ee-kit-test/Thing@1');
  class Thing {
    constructor(readonly held: Uint8Array) {}
    static deserialize(bytes: Uint8Array): Thing {
      return new Thing(bytes); // keeps a view on purpose: ownValue must hand it a copy
    }
  }
  const branded = (bytes: Uint8Array) => Object.assign(other(bytes), { [brand]: true });

  it('returns an instance of the class itself, unread', () => {
    const t = new Thing(Uint8Array.of(1));
    expect(ownValue(t, Thing, brand, 'Thing', {})).toBe(t);
  });

  it("reads another copy's branded object into a copy: nothing decoded is a view of its array", () => {
    const serialized = Uint8Array.of(4, 5, 6);
    const o = branded(serialized);
    const t = ownValue(o, Thing, brand, 'Thing', {});
    expect(t).toBeInstanceOf(Thing);
    expect(o.calls).toBe(1);
    serialized.fill(9); // the other object changes its array later: ours is a copy
    expect([...(t as Thing).held]).toEqual([4, 5, 6]);
  });

  it('with secret, decodes the temporary itself and overwrites it: no second, unwiped copy', () => {
    const serialized = Uint8Array.of(4, 5, 6);
    let seen: Uint8Array | undefined;
    class Copying {
      readonly decoded = true;
      static deserialize(bytes: Uint8Array): Copying {
        seen = bytes;
        return new Copying();
      }
    }
    const o = Object.assign(other(serialized), { [brand]: true });
    expect(ownValue(o, Copying, brand, 'Copying', { secret: true })).toBeInstanceOf(Copying);
    expect(seen).toBe(serialized); // the array serialize() returned, not a copy of it
    expect([...serialized]).toEqual([0, 0, 0]); // wiped once read
  });

  it('keeps the options of readOtherCopy (maxLength)', () => {
    expect(
      caught(() => ownValue(branded(new Uint8Array(5)), Thing, brand, 'Thing', { maxLength: 4 })),
    ).toBeInstanceOf(DecodeError);
  });

  it('answers undefined for anything else, without reading it', () => {
    const unbranded = other(Uint8Array.of(1));
    for (const v of [unbranded, null, undefined, 3, 'x', Uint8Array.of(1)])
      expect(ownValue(v, Thing, brand, 'Thing', {})).toBeUndefined();
    expect(unbranded.calls).toBe(0);
  });
});
