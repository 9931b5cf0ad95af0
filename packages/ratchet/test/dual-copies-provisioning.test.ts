// Two copies of the packages in one app (see dual-copies-keys.test.ts): a `ProvisionMessage` made by
// one copy goes to the other copy's `encryptProvisionMessage`. Its serialized form holds the account's
// identity private keys, so the temporaries it is read through are overwritten, and a branded object
// that is not a message is refused as bad bytes are, with nothing of it in the error.
import { afterEach, describe, expect, it, vi } from 'vitest';

type Ratchet = typeof import('@e2ee-kit/ratchet');
type Core = typeof import('@e2ee-kit/core');

async function load(): Promise<{ ratchet: Ratchet; core: Core }> {
  vi.resetModules();
  return { ratchet: await import('@e2ee-kit/ratchet'), core: await import('@e2ee-kit/core') };
}

afterEach(() => {
  vi.restoreAllMocks();
  vi.resetModules();
});

const ACI = '9d0652a3-dcc3-4d11-975f-74d61598733f';
const PNI = 'PNI:e0c8b26d-177d-4f17-ad96-e716c3a5b6dc';
const SECRET = 'c0ffee'.repeat(10);
const BRAND = Symbol.for('@e2ee-kit/ratchet/ProvisionMessage@1');

async function caught(f: () => unknown): Promise<unknown> {
  try {
    await f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a refusal');
}

async function messageOf(copy: { ratchet: Ratchet; core: Core }) {
  const p = copy.core.nobleProvider;
  const aci = await copy.core.IdentityKeyPair.generate(p);
  const pni = await copy.core.IdentityKeyPair.generate(p);
  const message = copy.ratchet.ProvisionMessage.from({
    aciIdentityKeyPair: aci,
    aci: ACI,
    pni: PNI,
    pniIdentityKeyPair: pni,
    profileKey: new Uint8Array(32).fill(9),
    accountEntropyPool: 'a'.repeat(64),
  });
  return { aci, pni, message };
}

describe("encryptProvisionMessage takes the other copy's ProvisionMessage", () => {
  it('the envelope opens to the same message, in either copy', async () => {
    const a = await load();
    const b = await load();
    const { aci, pni, message } = await messageOf(a);
    expect(message).not.toBeInstanceOf(b.ratchet.ProvisionMessage);
    const link = await b.ratchet.DeviceLinkRequest.create();
    const envelope = await b.ratchet.encryptProvisionMessage(link.publicKey, message);
    const opened = await link.open(envelope);
    // The expected value: the message as copy a serializes it (the same fields, read back).
    expect(opened.serialize()).toEqual(message.serialize());
    expect(opened.aciIdentityKeyPair.serialize()).toEqual(aci.serialize());
    expect(opened.pniIdentityKeyPair?.serialize()).toEqual(pni.serialize());
    // The other copy's message is not consumed.
    expect(message.aciIdentityKeyPair.privateKey.wiped).toBe(false);
  });

  it('the serialized temporaries and the message read from them are wiped once sealed', async () => {
    const a = await load();
    const b = await load();
    const { message } = await messageOf(a);
    const handed: Uint8Array[] = [];
    const forged = {
      [BRAND]: true,
      serialize: () => {
        const bytes = message.serialize();
        handed.push(bytes);
        return bytes;
      },
    };
    const read: ReturnType<Ratchet['ProvisionMessage']['deserialize']>[] = [];
    const deserialize = b.ratchet.ProvisionMessage.deserialize;
    vi.spyOn(b.ratchet.ProvisionMessage, 'deserialize').mockImplementation((bytes: Uint8Array) => {
      const m = deserialize.call(b.ratchet.ProvisionMessage, bytes);
      read.push(m);
      return m;
    });
    const link = await a.ratchet.DeviceLinkRequest.create(); // opened by copy a: b reads once
    const envelope = await b.ratchet.encryptProvisionMessage(link.publicKey, forged as never);
    expect((await link.open(envelope)).serialize()).toEqual(message.serialize());
    expect(handed.length).toBe(1); // read once
    expect(handed[0]?.every((x) => x === 0)).toBe(true);
    // The copy-b message made for the call held the identity keys: wiped, not dropped.
    expect(read.length).toBe(1);
    expect(read[0]?.aciIdentityKeyPair.privateKey.wiped).toBe(true);
    expect(read[0]?.pniIdentityKeyPair?.privateKey.wiped).toBe(true);
  });

  it('a branded object that is not a message: DecodeError as for bad bytes, nothing of it printed', async () => {
    const b = await load();
    const link = await b.ratchet.DeviceLinkRequest.create();
    const tooLong = new Uint8Array(192 * 1024 + 1).fill(0x41);
    const garbage = Uint8Array.of(0x0a, 0x05, 1, 2);
    const cases: [string, () => unknown][] = [
      [
        'throws',
        () => {
          throw new Error(`secret ${SECRET}`);
        },
      ],
      ['not bytes', () => SECRET],
      ['too long', () => tooLong],
      ['not a message', () => garbage.slice()],
      ['a proxy', () => new Proxy(new Uint8Array(8), {})],
    ];
    const badBytes = (await caught(() => b.ratchet.ProvisionMessage.deserialize(garbage))) as {
      code: string;
    };
    for (const [name, serialize] of cases) {
      const e = await caught(() =>
        b.ratchet.encryptProvisionMessage(link.publicKey, { [BRAND]: true, serialize } as never),
      );
      expect(b.core.E2eeError.is(e, 'DECODE'), name).toBe(true);
      expect((e as { code: string }).code).toBe(badBytes.code);
      expect(String(e)).not.toContain(SECRET);
      // The serialized form holds private keys: no `cause` that could carry them.
      expect((e as { cause?: unknown }).cause).toBeUndefined();
    }
    // Refused unread past the cap (bounded work), and overwritten even so.
    expect(tooLong.every((x) => x === 0)).toBe(true);
    // Without the brand: the TypeError as before.
    expect(await caught(() => b.ratchet.encryptProvisionMessage(link.publicKey, {} as never))).toBeInstanceOf(
      TypeError,
    );
  });
});

it("decryptProvisionEnvelope takes the other copy's PrivateKey, and leaves it usable", async () => {
  const a = await load();
  const b = await load();
  const { message } = await messageOf(b);
  const key = await a.core.KeyPair.generate(a.core.nobleProvider);
  const envelope = await b.ratchet.encryptProvisionMessage(key.publicKey, message);
  const opened = await b.ratchet.decryptProvisionEnvelope(envelope, key.privateKey);
  expect(opened.serialize()).toEqual(message.serialize());
  expect(key.privateKey.wiped).toBe(false);
});
