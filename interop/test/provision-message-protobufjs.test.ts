// ProvisionMessage against an independent protobuf implementation: protobufjs (the encoder the
// `libsignal` JS package ships with) given the ProvisionMessage schema of Signal's Provisioning.proto,
// fields 1–18 (17 `aciBinary` and 18 `pniBinary`: the 16-byte UUIDs beside the strings). Our bytes
// equal protobufjs's encoding of the same fields, and we read what it writes — binary ids alone too.
import { createRequire } from 'node:module';
import { IdentityKeyPair } from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import { DecodeError, ProvisionMessage } from '@e2ee-kit/ratchet';
import { describe, expect, it } from 'vitest';

// protobufjs is declared by this package (the same version `libsignal` 6.0.0 resolves).
const protobuf = createRequire(import.meta.url)('protobufjs') as {
  Root: { fromJSON(json: unknown): { lookupType(name: string): ProtoType } };
};
interface ProtoType {
  fromObject(o: Record<string, unknown>): unknown;
  encode(m: unknown): { finish(): Uint8Array };
  decode(b: Uint8Array): unknown;
  toObject(m: unknown, o: Record<string, unknown>): Record<string, unknown>;
}

// Signal's ProvisionMessage (proto2, every field optional), as protobufjs's JSON descriptor.
const fields: Record<string, [number, string]> = {
  aciIdentityKeyPublic: [1, 'bytes'],
  aciIdentityKeyPrivate: [2, 'bytes'],
  number: [3, 'string'],
  provisioningCode: [4, 'string'],
  userAgent: [5, 'string'],
  profileKey: [6, 'bytes'],
  readReceipts: [7, 'bool'],
  aci: [8, 'string'],
  provisioningVersion: [9, 'uint32'],
  pni: [10, 'string'],
  pniIdentityKeyPublic: [11, 'bytes'],
  pniIdentityKeyPrivate: [12, 'bytes'],
  masterKey: [13, 'bytes'],
  ephemeralBackupKey: [14, 'bytes'],
  accountEntropyPool: [15, 'string'],
  mediaRootBackupKey: [16, 'bytes'],
  aciBinary: [17, 'bytes'],
  pniBinary: [18, 'bytes'],
};
const ProvisionMessageProto = protobuf.Root.fromJSON({
  nested: {
    ProvisionMessage: {
      fields: Object.fromEntries(
        Object.entries(fields).map(([name, [id, type]]) => [name, { id, type, rule: 'optional' }]),
      ),
    },
  },
}).lookupType('ProvisionMessage');

const ACI = '9d0652a3-dcc3-4d11-975f-74d61598733f';
const PNI = 'a1b2c3d4-0000-4000-8000-0123456789ab';
const uuid16 = (u: string) => new Uint8Array(Buffer.from(u.replace(/-/g, ''), 'hex'));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('ProvisionMessage fields 17/18 (aciBinary, pniBinary) against protobufjs', () => {
  it('our serialization is byte-identical to protobufjs encoding the same fields', async () => {
    const aciPair = await IdentityKeyPair.generate(nodeProvider);
    const pniPair = await IdentityKeyPair.generate(nodeProvider);
    const ours = ProvisionMessage.from({
      aciIdentityKeyPair: aciPair,
      aci: ACI,
      pni: PNI,
      pniIdentityKeyPair: pniPair,
      number: '+14155550100',
      provisioningCode: 'link-code',
      userAgent: 'OWD',
      profileKey: new Uint8Array(32).fill(5),
      readReceipts: true,
      accountEntropyPool: 'a'.repeat(64),
      mediaRootBackupKey: new Uint8Array(32).fill(9),
      ephemeralBackupKey: new Uint8Array(32).fill(3),
    }).serialize();
    const theirs = ProvisionMessageProto.encode(
      ProvisionMessageProto.fromObject({
        aciIdentityKeyPublic: aciPair.publicKey.serialize(),
        aciIdentityKeyPrivate: aciPair.privateKey.serialize(),
        number: '+14155550100',
        provisioningCode: 'link-code',
        userAgent: 'OWD',
        profileKey: new Uint8Array(32).fill(5),
        readReceipts: true,
        aci: ACI,
        provisioningVersion: 1,
        pni: PNI,
        pniIdentityKeyPublic: pniPair.publicKey.serialize(),
        pniIdentityKeyPrivate: pniPair.privateKey.serialize(),
        ephemeralBackupKey: new Uint8Array(32).fill(3),
        accountEntropyPool: 'a'.repeat(64),
        mediaRootBackupKey: new Uint8Array(32).fill(9),
        aciBinary: uuid16(ACI),
        pniBinary: uuid16(PNI),
      }),
    ).finish();
    expect(hex(ours)).toBe(hex(theirs));
    const decoded = ProvisionMessageProto.toObject(ProvisionMessageProto.decode(ours), { bytes: Array });
    expect(decoded.aciBinary).toEqual([...uuid16(ACI)]);
    expect(decoded.pniBinary).toEqual([...uuid16(PNI)]);
  });

  it('reads binary-only ids (no strings) as lower-case UUID strings', async () => {
    const aciPair = await IdentityKeyPair.generate(nodeProvider);
    const pniPair = await IdentityKeyPair.generate(nodeProvider);
    const bytes = ProvisionMessageProto.encode(
      ProvisionMessageProto.fromObject({
        aciIdentityKeyPublic: aciPair.publicKey.serialize(),
        aciIdentityKeyPrivate: aciPair.privateKey.serialize(),
        provisioningVersion: 1,
        pniIdentityKeyPublic: pniPair.publicKey.serialize(),
        pniIdentityKeyPrivate: pniPair.privateKey.serialize(),
        aciBinary: uuid16(ACI.toUpperCase()),
        pniBinary: uuid16(PNI),
      }),
    ).finish();
    const m = ProvisionMessage.deserialize(bytes);
    expect(m.aci).toBe(ACI);
    expect(m.pni).toBe(PNI);
    expect(hex(m.aciIdentityKeyPair.publicKey.serialize())).toBe(hex(aciPair.publicKey.serialize()));
  });

  it('refuses a UUID string and bytes that disagree, and bytes of the wrong length', async () => {
    const pair = await IdentityKeyPair.generate(nodeProvider);
    const base = {
      aciIdentityKeyPublic: pair.publicKey.serialize(),
      aciIdentityKeyPrivate: pair.privateKey.serialize(),
      aci: ACI,
    };
    const encode = (o: Record<string, unknown>) =>
      ProvisionMessageProto.encode(ProvisionMessageProto.fromObject({ ...base, ...o })).finish();
    expect(() => ProvisionMessage.deserialize(encode({ aciBinary: uuid16(PNI) }))).toThrow(DecodeError);
    expect(() => ProvisionMessage.deserialize(encode({ aciBinary: new Uint8Array(17) }))).toThrow(
      DecodeError,
    );
    // matching forms, upper-case string: the string is kept as sent
    expect(ProvisionMessage.deserialize(encode({ aci: ACI.toUpperCase(), aciBinary: uuid16(ACI) })).aci).toBe(
      ACI.toUpperCase(),
    );
  });
});
