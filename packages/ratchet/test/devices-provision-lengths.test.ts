// Every length-bounded field of Signal's ProvisionMessage is held to its bound, on creation
// (`ProvisionMessage.from`: RangeError) and on decode (bytes of a peer: DecodeError), at the bound
// and one over. The bounds are Signal's, not ours: libsignal's zkgroup `ProfileKey.SIZE` (32), its
// `BackupKey.SIZE` (32, the backup keys), `AccountEntropyPool::LENGTH` (64 ASCII characters,
// rust/account-keys), a UUID's 16 bytes (`Aci.fromUuidBytes`), a Curve25519 key's 33 / 32 bytes; the
// free-text fields (number, link token, user agent, ids) have none in Signal and keep our 4096-byte cap.
import { DecodeError, E2eeError, IdentityKeyPair, nobleProvider, ProtoWriter } from '@e2ee-kit/core';
import { ProvisionMessage } from '@e2ee-kit/ratchet';
import { beforeAll, describe, expect, it } from 'vitest';

const ACI = '9d0652a3-dcc3-4d11-975f-74d61598733f';
const ACI_BYTES = Uint8Array.from(ACI.replaceAll('-', '').match(/../g) ?? [], (h) => Number.parseInt(h, 16));
let identity: IdentityKeyPair;
beforeAll(async () => {
  identity = await IdentityKeyPair.generate(nobleProvider);
});

function caught(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
}

/** The bytes of a peer: written field by field from Provisioning.proto's numbers, not by our encoder. */
function wire(extra: (w: ProtoWriter) => void): Uint8Array {
  const w = new ProtoWriter()
    .bytes(1, identity.publicKey.serialize())
    .bytes(2, identity.privateKey.serialize())
    .string(8, ACI);
  extra(w);
  return w.finish();
}

const fill = (n: number, v = 0x61) => new Uint8Array(n).fill(v);

describe('byte fields of fixed length (Signal: profile key 32, backup keys 32)', () => {
  const fields = [
    ['profileKey', 6, 32],
    ['mediaRootBackupKey', 16, 32],
    ['ephemeralBackupKey', 14, 32],
  ] as const;
  for (const [name, field, length] of fields) {
    it(`${name}: ${length} bytes taken, ${length + 1} and ${length - 1} refused (from and decode)`, () => {
      const ok = ProvisionMessage.from({ aciIdentityKeyPair: identity, aci: ACI, [name]: fill(length) });
      expect(ok[name]).toEqual(fill(length));
      expect(ProvisionMessage.deserialize(wire((w) => w.bytes(field, fill(length))))[name]).toEqual(
        fill(length),
      );
      for (const n of [length + 1, length - 1]) {
        const err = caught(() =>
          ProvisionMessage.from({ aciIdentityKeyPair: identity, aci: ACI, [name]: fill(n, 0x5a) }),
        );
        expect(err).toBeInstanceOf(RangeError);
        expect(String(err)).toContain(name);
        const decoded = caught(() =>
          ProvisionMessage.deserialize(wire((w) => w.bytes(field, fill(n, 0x5a)))),
        );
        expect(decoded).toBeInstanceOf(DecodeError);
        expect(E2eeError.is(decoded, 'DECODE')).toBe(true);
        expect(String((decoded as Error).message)).not.toContain('ZZZZ');
      }
    });
  }

  it('a hostile peer cannot make the new device keep a large profile key', () => {
    const big = fill(1 << 20);
    expect(() => ProvisionMessage.deserialize(wire((w) => w.bytes(6, big)))).toThrow(DecodeError);
    expect(() => ProvisionMessage.from({ aciIdentityKeyPair: identity, aci: ACI, profileKey: big })).toThrow(
      RangeError,
    );
  });
});

describe('accountEntropyPool: 64 characters (libsignal AccountEntropyPool::LENGTH)', () => {
  const pool = (n: number) => 'a1'.repeat(n).slice(0, n);

  it('64 taken, 65 and 63 refused, on creation', () => {
    const ok = ProvisionMessage.from({
      aciIdentityKeyPair: identity,
      aci: ACI,
      accountEntropyPool: pool(64),
    });
    expect(ProvisionMessage.deserialize(ok.serialize()).accountEntropyPool).toBe(pool(64));
    for (const n of [65, 63]) {
      const err = caught(() =>
        ProvisionMessage.from({ aciIdentityKeyPair: identity, aci: ACI, accountEntropyPool: pool(n) }),
      );
      expect(err).toBeInstanceOf(RangeError);
      expect(String(err)).toContain('accountEntropyPool');
      expect(String(err)).not.toContain(pool(n)); // the pool is the account's root secret
    }
  });

  it('64 taken, 65 and 63 refused, on decode; 64 bytes of UTF-8, not 64 UTF-16 units', () => {
    expect(ProvisionMessage.deserialize(wire((w) => w.string(15, pool(64)))).accountEntropyPool).toBe(
      pool(64),
    );
    // 'é' is two bytes of UTF-8: 64 of them are 64 UTF-16 units but 128 bytes on the wire
    for (const text of [pool(65), pool(63), 'é'.repeat(64)]) {
      const err = caught(() => ProvisionMessage.deserialize(wire((w) => w.string(15, text))));
      expect(err).toBeInstanceOf(DecodeError);
      expect(String((err as Error).message)).not.toContain(text);
    }
    expect(() =>
      ProvisionMessage.from({ aciIdentityKeyPair: identity, aci: ACI, accountEntropyPool: 'é'.repeat(64) }),
    ).toThrow(RangeError);
  });
});

describe('fields already bounded, kept so', () => {
  it('aciBinary / pniBinary: 16 bytes taken, 17 refused', () => {
    const only = (id: Uint8Array) =>
      new ProtoWriter()
        .bytes(1, identity.publicKey.serialize())
        .bytes(2, identity.privateKey.serialize())
        .bytes(17, id)
        .finish();
    expect(ProvisionMessage.deserialize(only(ACI_BYTES)).aci).toBe(ACI);
    expect(() => ProvisionMessage.deserialize(only(Uint8Array.of(...ACI_BYTES, 0)))).toThrow(DecodeError);
    const pniOver = wire((w) =>
      w
        .bytes(11, identity.publicKey.serialize())
        .bytes(12, identity.privateKey.serialize())
        .bytes(18, fill(17)),
    );
    expect(() => ProvisionMessage.deserialize(pniOver)).toThrow(DecodeError);
  });

  it('identity keys: 33-byte public and 32-byte private taken, one more byte refused', () => {
    const pub = identity.publicKey.serialize();
    const priv = identity.privateKey.serialize();
    const pair = (p: Uint8Array, s: Uint8Array) =>
      new ProtoWriter().bytes(1, p).bytes(2, s).string(8, ACI).finish();
    expect(ProvisionMessage.deserialize(pair(pub, priv)).aci).toBe(ACI);
    expect(() => ProvisionMessage.deserialize(pair(Uint8Array.of(...pub, 0), priv))).toThrow(DecodeError);
    expect(() => ProvisionMessage.deserialize(pair(pub, Uint8Array.of(...priv, 0)))).toThrow(DecodeError);
  });
});
