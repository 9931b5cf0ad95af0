// Resend cache (issue 14, point 2): plaintexts of sent messages kept sealed under the app's key,
// keyed by recipient address + timestamp, bounded by count and age, with atomic store writes. The
// record format is checked against an independent node:crypto reading of the documented layout.
import { createDecipheriv, createHmac, hkdfSync } from 'node:crypto';
import { inspect } from 'node:util';
import {
  type Address,
  DecodeError,
  E2eeError,
  ErrorCode,
  fromHex,
  platformProvider,
  StoreError,
  toHex,
  utf8,
  VerificationError,
} from '@e2ee-kit/core';
import { ResendCache, type ResendCacheOptions } from '@e2ee-kit/ratchet';
import { InMemoryResendStore } from '@e2ee-kit/ratchet/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const key = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
const bob: Address = { name: 'bob', deviceId: 2 };

function setup(options: Partial<ResendCacheOptions> = {}) {
  const clock = { now: 1_700_000_000_000 };
  const store = new InMemoryResendStore();
  const make = (o: Partial<ResendCacheOptions> = {}) =>
    ResendCache.create({ key, store, provider: platformProvider, now: () => clock.now, ...options, ...o });
  return { clock, store, make };
}

/** The documented id and record layout, read with node:crypto (not our provider). */
function independent(appKey: Uint8Array) {
  const okm = Buffer.from(hkdfSync('sha256', appKey, Buffer.alloc(32), 'e2ee-kit resend cache v1', 64));
  const material = (a: Address, ts: number) => {
    const name = Buffer.from(a.name, 'utf8');
    const m = Buffer.alloc(4 + name.length + 1 + 8);
    m.writeUInt32BE(name.length, 0);
    name.copy(m, 4);
    m[4 + name.length] = a.deviceId;
    m.writeBigUInt64BE(BigInt(ts), 5 + name.length);
    return m;
  };
  return {
    id: (a: Address, ts: number) =>
      createHmac('sha256', okm.subarray(32)).update(material(a, ts)).digest('hex'),
    open(a: Address, ts: number, record: Uint8Array): { savedAt: number; plaintext: Uint8Array } {
      const r = Buffer.from(record);
      expect([r[0], r[1]]).toEqual([0x07, 0x01]);
      const header = r.subarray(0, 10);
      const d = createDecipheriv('aes-256-gcm', okm.subarray(0, 32), r.subarray(10, 22));
      d.setAAD(Buffer.concat([header, material(a, ts)]));
      d.setAuthTag(r.subarray(r.length - 16));
      const plaintext = Buffer.concat([d.update(r.subarray(22, r.length - 16)), d.final()]);
      return { savedAt: Number(r.readBigUInt64BE(2)), plaintext: new Uint8Array(plaintext) };
    },
  };
}

describe('ResendCache', () => {
  it('keeps what was sent per recipient device and timestamp', async () => {
    const { make } = setup();
    const cache = await make();
    await cache.put(bob, 1000, utf8('hello bob'));
    await cache.put({ name: 'bob', deviceId: 3 }, 1000, utf8('hello bob 3'));
    await cache.put(bob, 1001, utf8('second'));
    const got = await cache.get(bob, 1000);
    expect(got && new TextDecoder().decode(got.plaintext)).toBe('hello bob');
    expect(got?.timestamp).toBe(1000);
    expect(got?.savedAt).toBe(1_700_000_000_000);
    expect(new TextDecoder().decode((await cache.get({ name: 'bob', deviceId: 3 }, 1000))!.plaintext)).toBe(
      'hello bob 3',
    );
    expect(await cache.get(bob, 999)).toBeUndefined();
    expect(await cache.get({ name: 'bob', deviceId: 1 }, 1000)).toBeUndefined();
    expect(await cache.get({ name: 'bo', deviceId: 2 }, 1000)).toBeUndefined();
    // replacing an entry
    await cache.put(bob, 1000, utf8('edited'));
    expect(new TextDecoder().decode((await cache.get(bob, 1000))!.plaintext)).toBe('edited');
    await cache.remove(bob, 1000);
    expect(await cache.get(bob, 1000)).toBeUndefined();
    expect(await cache.get(bob, 1001)).toBeDefined();
  });

  it('stores the documented layout: HMAC ids, AES-256-GCM bound to id and save time (node:crypto reads it)', async () => {
    const { make, store } = setup();
    const cache = await make();
    const plaintext = utf8('a secret message for carol');
    const carol: Address = { name: 'carol@example', deviceId: 7 };
    await cache.put(carol, 1_699_999_999_999, plaintext);
    const [[id, row]] = [...store.snapshot()] as [[string, { savedAt: number; record: Uint8Array }]];
    const ref = independent(key);
    expect(id).toBe(ref.id(carol, 1_699_999_999_999));
    expect(row.savedAt).toBe(1_700_000_000_000);
    const opened = ref.open(carol, 1_699_999_999_999, row.record);
    expect(opened).toEqual({ savedAt: 1_700_000_000_000, plaintext });
    // nothing readable at rest: neither the plaintext nor the recipient's name
    const hay = toHex(row.record) + id;
    expect(hay.includes(toHex(plaintext.subarray(0, 8)))).toBe(false);
    expect(hay.includes(toHex(utf8('carol')))).toBe(false);
  });

  it('keeps its own copies of the derived keys when the provider hands out a Node Buffer (wiping it wipes no key)', async () => {
    // Buffer#slice is a view: keys taken with it would be zeroed with the provider's output.
    const bufferProvider = {
      ...platformProvider,
      hkdfSha256: async (...args: Parameters<typeof platformProvider.hkdfSha256>) =>
        Buffer.from(await platformProvider.hkdfSha256(...args)),
    };
    const { make, store } = setup({ provider: bufferProvider });
    const cache = await make();
    await cache.put(bob, 5, utf8('under the documented key'));
    const ref = independent(key);
    const row = store.snapshot().get(ref.id(bob, 5));
    expect(row, 'stored under the id of the documented id key').toBeDefined();
    expect(new TextDecoder().decode(ref.open(bob, 5, row!.record).plaintext)).toBe(
      'under the documented key',
    );
  });

  it('a record moved to another id, given another save time, damaged or under another key does not open', async () => {
    const { make, store } = setup();
    const cache = await make();
    await cache.put(bob, 1, utf8('one'));
    await cache.put(bob, 2, utf8('two'));
    const ref = independent(key);
    const rows = store.snapshot();
    const one = rows.get(ref.id(bob, 1))!;
    // moved: the record of timestamp 1 under the id of timestamp 2
    store.setRaw(ref.id(bob, 2), one.savedAt, one.record);
    await expect(cache.get(bob, 2)).rejects.toSatisfy((e) => E2eeError.is(e, ErrorCode.AeadTagMismatch));
    // save time changed in the record
    const older = one.record.slice();
    older[9] = (older[9] as number) ^ 1;
    store.setRaw(ref.id(bob, 1), one.savedAt, older);
    await expect(cache.get(bob, 1)).rejects.toBeInstanceOf(VerificationError);
    // malformed
    for (const bad of [
      one.record.subarray(0, 37),
      Uint8Array.of(0x08, ...one.record.subarray(1)),
      Uint8Array.of(0x07, 2, ...one.record.subarray(2)),
    ]) {
      store.setRaw(ref.id(bob, 1), one.savedAt, bad);
      await expect(cache.get(bob, 1)).rejects.toBeInstanceOf(DecodeError);
    }
    // another app key
    store.setRaw(ref.id(bob, 1), one.savedAt, one.record);
    const other = await ResendCache.create({
      key: new Uint8Array(32).fill(9),
      store,
      provider: platformProvider,
    });
    expect(await other.get(bob, 1)).toBeUndefined(); // its ids differ: nothing found
    expect(new TextDecoder().decode((await cache.get(bob, 1))!.plaintext)).toBe('one');
  });

  it('frozen v1 record (made with node:crypto from the documented layout) stays loadable', async () => {
    const store = new InMemoryResendStore();
    const appKey = Uint8Array.from({ length: 32 }, (_, i) => 0xa0 + i);
    store.setRaw(
      '8120ceb2025fb2a2747e6e2dc76548d2d8f41d307618d4cbdc0852761925a736',
      1_700_000_000_500,
      fromHex(
        '07010000018bcfe569f4000102030405060708090a0b362c0444bbdc3aa4b68d52a46f2585b0b9d6822b1ebd6aeae5d65a15b6135821',
      ),
    );
    const cache = await ResendCache.create({
      key: appKey,
      store,
      provider: platformProvider,
      now: () => 1_700_000_001_000,
    });
    const got = await cache.get({ name: 'frozen@example', deviceId: 5 }, 1_700_000_000_000);
    expect(got && new TextDecoder().decode(got.plaintext)).toBe('frozen v1 record');
    expect(got?.savedAt).toBe(1_700_000_000_500);
  });

  it('garbage records: DecodeError or VerificationError, nothing else', async () => {
    const { make, store } = setup();
    const cache = await make();
    await cache.put(bob, 1, utf8('valid'));
    const [[id, row]] = [...store.snapshot()] as [[string, { savedAt: number; record: Uint8Array }]];
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 80 }),
          fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 }), fc.nat()).map(([at, x, cut]) => {
            const b = row.record.slice(0, 1 + (cut % row.record.length));
            b[at % b.length] = (b[at % b.length] as number) ^ x;
            return b;
          }),
        ),
        async (bytes) => {
          store.setRaw(id, row.savedAt, bytes);
          const err = await cache.get(bob, 1).then(
            (v) => v,
            (e: unknown) => e,
          );
          if (err === undefined) return; // a save time that reads as expired
          expect(err instanceof DecodeError || err instanceof VerificationError, String(err)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is bounded by count (oldest out first) and by age', async () => {
    const { make, store, clock } = setup({ maxEntries: 3, maxAgeMs: 10_000 });
    const cache = await make();
    for (let i = 0; i < 5; i++) {
      await cache.put(bob, i, utf8(`m${i}`));
      clock.now += 1;
    }
    expect(store.size).toBe(3);
    expect(await cache.get(bob, 0)).toBeUndefined();
    expect(await cache.get(bob, 1)).toBeUndefined();
    expect(await cache.get(bob, 2)).toBeDefined();
    clock.now += 10_000 - 3; // entry 2 saved at t0+2 is now exactly maxAge old: still kept
    expect(await cache.get(bob, 2)).toBeDefined();
    clock.now += 1;
    expect(await cache.get(bob, 2)).toBeUndefined();
    expect(await cache.get(bob, 4)).toBeDefined();
    expect(await cache.prune()).toBe(1);
    expect(store.size).toBe(2);
    clock.now += 10_000;
    await cache.put(bob, 9, utf8('new')); // a put also drops what expired
    expect(store.size).toBe(1);
  });

  it('a clock set back keeps nothing longer than maxAgeMs past the clock (no entry from the future lives on)', async () => {
    const { make, store, clock } = setup({ maxAgeMs: 10_000 });
    const cache = await make();
    const YEAR = 365 * 24 * 3_600_000;
    clock.now += YEAR; // the clock ran a year ahead…
    await cache.put(bob, 1, utf8('sent while the clock was ahead'));
    clock.now -= YEAR; // …and was corrected
    await cache.put(bob, 2, utf8('sent after'));
    expect(await cache.get(bob, 1)).toBeUndefined(); // saved "a year from now": past any age check
    expect(await cache.get(bob, 2)).toBeDefined();
    clock.now += 10_001;
    expect(await cache.get(bob, 2)).toBeUndefined(); // its save time came from the clock, not the entry ahead
    await cache.prune();
    expect(store.size).toBe(0);
    // A clock set back by less than maxAgeMs keeps entries (and the put order) as before.
    await cache.put(bob, 3, utf8('a'));
    clock.now -= 5_000;
    await cache.put(bob, 4, utf8('b'));
    expect(await cache.get(bob, 3)).toBeDefined();
    expect((await cache.get(bob, 4))?.savedAt).toBeGreaterThan((await cache.get(bob, 3))?.savedAt ?? 0);
  });

  it('many puts within one millisecond: the newest stay', async () => {
    const { make, store } = setup({ maxEntries: 2 });
    const cache = await make();
    for (let t = 0; t < 6; t++) await cache.put(bob, t, utf8(`m${t}`));
    expect(store.size).toBe(2);
    for (let t = 0; t < 6; t++) expect((await cache.get(bob, t)) !== undefined, `entry ${t}`).toBe(t >= 4);
  });

  it('model check: get answers exactly what a bounded, aging model keeps', async () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('put' as const), dev: fc.integer({ min: 1, max: 3 }), ts: fc.nat(6) }),
      fc.record({ kind: fc.constant('get' as const), dev: fc.integer({ min: 1, max: 3 }), ts: fc.nat(6) }),
      fc.record({
        kind: fc.constant('tick' as const),
        ms: fc.oneof(fc.constant(0), fc.integer({ min: -50, max: 400 })),
      }),
      fc.constant({ kind: 'prune' as const }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { maxLength: 40 }),
        fc.integer({ min: 1, max: 5 }),
        async (ops, maxEntries) => {
          const { make, clock, store } = setup({ maxEntries, maxAgeMs: 1000 });
          const cache = await make();
          const model = new Map<string, { savedAt: number; text: string }>();
          // Neither more than maxAgeMs old nor more than maxAgeMs ahead of the clock (set back).
          const alive = (savedAt: number) => Math.abs(clock.now - savedAt) <= 1000;
          let n = 0;
          for (const o of ops) {
            if (o.kind === 'tick') clock.now += o.ms;
            else if (o.kind === 'prune') {
              await cache.prune();
              for (const [k, v] of model) if (!alive(v.savedAt)) model.delete(k);
            } else if (o.kind === 'put') {
              const text = `v${n++}`;
              await cache.put({ name: 'x', deviceId: o.dev }, o.ts, utf8(text));
              const k = `${o.dev}/${o.ts}`;
              let savedAt = clock.now;
              for (const v of model.values())
                if (alive(v.savedAt) && v.savedAt >= savedAt) savedAt = v.savedAt + 1;
              model.delete(k);
              for (const [mk, v] of model) if (!alive(v.savedAt)) model.delete(mk);
              while (model.size >= maxEntries) model.delete(model.keys().next().value as string);
              model.set(k, { savedAt, text });
            } else {
              const got = await cache.get({ name: 'x', deviceId: o.dev }, o.ts);
              const want = model.get(`${o.dev}/${o.ts}`);
              expect(got && new TextDecoder().decode(got.plaintext)).toBe(
                want && alive(want.savedAt) ? want.text : undefined,
              );
            }
            expect(store.size).toBeLessThanOrEqual(maxEntries);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a failed store call is a StoreError and changes nothing', async () => {
    let fail: string | undefined;
    const clock = { now: 5_000 };
    const store = new InMemoryResendStore({
      onCall: (m) => {
        if (m === fail) throw new Error('disk full');
      },
    });
    const cache = await ResendCache.create({
      key,
      store,
      provider: platformProvider,
      now: () => clock.now,
      maxEntries: 2,
    });
    await cache.put(bob, 1, utf8('one'));
    await cache.put(bob, 2, utf8('two'));
    const before = store.snapshot();
    for (const m of ['list', 'apply'] as const) {
      fail = m;
      const err = await cache.put(bob, 3, utf8('three')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).cause).toBeInstanceOf(Error);
      expect(store.snapshot()).toEqual(before);
    }
    fail = 'get';
    await expect(cache.get(bob, 1)).rejects.toBeInstanceOf(StoreError);
    fail = undefined;
    expect(await cache.get(bob, 1)).toBeDefined();
  });

  it('keeps no view of the caller’s key or plaintext (Buffer pool views)', async () => {
    const { store } = setup();
    const pool = Buffer.alloc(128, 0x11);
    const keyView = pool.subarray(3, 35);
    keyView.set(key);
    const cache = await ResendCache.create({ key: keyView, store, provider: platformProvider });
    const text = pool.subarray(40, 60);
    text.set(utf8('twenty bytes exactly'));
    const before = toHex(pool);
    await cache.put(bob, 1, text);
    expect(toHex(pool)).toBe(before);
    pool.fill(0);
    const got = await cache.get(bob, 1);
    expect(new TextDecoder().decode(got!.plaintext)).toBe('twenty bytes exactly');
    // a second cache on the original key bytes reads the same store
    const again = await ResendCache.create({ key, store, provider: platformProvider });
    expect(await again.get(bob, 1)).toBeDefined();
  });

  it('validates its arguments and shows no secrets', async () => {
    const { make, store } = setup({ maxPlaintextLength: 16 });
    await expect(ResendCache.create({ key: new Uint8Array(31), store })).rejects.toThrow(RangeError);
    await expect(ResendCache.create({ key: 'k' as unknown as Uint8Array, store })).rejects.toThrow(TypeError);
    await expect(ResendCache.create({ key, store: {} as never })).rejects.toThrow(TypeError);
    await expect(make({ maxEntries: 0 })).rejects.toThrow(RangeError);
    const cache = await make();
    await expect(cache.put(bob, 1, new Uint8Array(17))).rejects.toThrow(RangeError);
    await expect(cache.put(bob, -1, new Uint8Array(1))).rejects.toThrow(RangeError);
    await expect(cache.put(bob, 1.5, new Uint8Array(1))).rejects.toThrow(TypeError);
    await expect(cache.put({ name: 'bob', deviceId: 0 }, 1, new Uint8Array(1))).rejects.toThrow(RangeError);
    await expect(cache.get(bob, 2 ** 53)).rejects.toThrow(TypeError);
    expect(inspect(cache, { showHidden: true, depth: 5 })).toBe('[ResendCache]');
    expect(String(cache)).toBe('[ResendCache]');
    expect(JSON.stringify(cache)).toBe('{}');
  });
});
