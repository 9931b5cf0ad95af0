// Linking a device by QR code: Signal's provisioning cipher (spec devices-and-healing.md §2.2/§2.3).
import {
  createDecipheriv,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
  timingSafeEqual,
} from 'node:crypto';
import { inspect } from 'node:util';
import {
  DecodeError,
  defaultProvider,
  E2eeError,
  fromBase64,
  fromHex,
  IdentityKeyPair,
  InvalidKeyError,
  KeyPair,
  PrivateKey,
  ProtoReader,
  ProtoWriter,
  toHex,
} from '@e2ee-kit/core';
import {
  DeviceLinkRequest,
  decryptProvisionEnvelope,
  encryptProvisionMessage,
  ProvisionMessage,
  parseLinkDeviceUri,
} from '@e2ee-kit/ratchet';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const provider = defaultProvider;

async function sampleMessage(): Promise<{ message: ProvisionMessage; identity: IdentityKeyPair }> {
  const identity = await IdentityKeyPair.generate(provider);
  const message = ProvisionMessage.from({
    aciIdentityKeyPair: identity,
    aci: '9d0652a3-dcc3-4d11-975f-74d61598733f',
    number: '+15550001111',
    provisioningCode: 'link-token-123',
    userAgent: 'e2ee-kit test',
    profileKey: new Uint8Array(32).fill(7),
    readReceipts: true,
  });
  return { message, identity };
}

const b64url = (b: Uint8Array) => Buffer.from(b).toString('base64url');

/** Written from the spec's description alone, with node:crypto: the independent truth here. */
function nodeDecrypt(envelope: Uint8Array, ourPrivate: Uint8Array, ourPublic33: Uint8Array): Uint8Array {
  // ProvisionEnvelope { 1: publicKey, 2: body }
  const fields = new Map<number, Uint8Array>();
  const r = new ProtoReader(envelope);
  for (let h = r.next(); h; h = r.next()) fields.set(h.field, r.bytes());
  const theirPub = fields.get(1) as Uint8Array;
  const body = fields.get(2) as Uint8Array;
  expect(theirPub.length).toBe(33);
  expect(theirPub[0]).toBe(0x05);
  const priv = createPrivateKey({
    key: { kty: 'OKP', crv: 'X25519', d: b64url(ourPrivate), x: b64url(ourPublic33.subarray(1)) },
    format: 'jwk',
  });
  const pub = createPublicKey({
    key: { kty: 'OKP', crv: 'X25519', x: b64url(theirPub.subarray(1)) },
    format: 'jwk',
  });
  const shared = diffieHellman({ privateKey: priv, publicKey: pub });
  const okm = Buffer.from(
    hkdfSync('sha256', shared, Buffer.alloc(32), 'TextSecure Provisioning Message', 64),
  );
  expect(body[0]).toBe(0x01);
  const mac = createHmac('sha256', okm.subarray(32, 64))
    .update(body.subarray(0, body.length - 32))
    .digest();
  expect(timingSafeEqual(mac, body.subarray(body.length - 32))).toBe(true);
  const d = createDecipheriv('aes-256-cbc', okm.subarray(0, 32), body.subarray(1, 17));
  return new Uint8Array(Buffer.concat([d.update(body.subarray(17, body.length - 32)), d.final()]));
}

describe('provisioning (linking a device by QR)', () => {
  it('round trip: the new device shows a link URI, the existing device encrypts, the new device gets the identity', async () => {
    const { message, identity } = await sampleMessage();
    const request = await DeviceLinkRequest.create({ address: 'Qm9iLXByb3Zpc2lvbmluZw', provider });
    expect(request.uri.startsWith('sgnl://linkdevice?uuid=Qm9iLXByb3Zpc2lvbmluZw&pub_key=')).toBe(true);
    // The existing device scans the QR code.
    const scanned = parseLinkDeviceUri(request.uri);
    expect(scanned.address).toBe('Qm9iLXByb3Zpc2lvbmluZw');
    const envelope = await encryptProvisionMessage(scanned.publicKey, message, { provider });
    const got = await request.open(envelope);
    expect(got.aciIdentityKeyPair.serialize()).toEqual(identity.serialize());
    expect(got.aci).toBe(message.aci);
    expect(got.provisioningCode).toBe('link-token-123');
    expect(got.number).toBe('+15550001111');
    expect(got.readReceipts).toBe(true);
    expect(got.profileKey).toEqual(new Uint8Array(32).fill(7));
    expect(got.provisioningVersion).toBe(1);
  });

  it('the link URI uses standard base64 of the 33-byte key and a configurable prefix', async () => {
    const request = await DeviceLinkRequest.create({ scheme: 'e2eechat', host: 'link', provider });
    const query = new URLSearchParams(request.uri.slice('e2eechat://link?'.length));
    const key = Buffer.from(query.get('pub_key') as string, 'base64');
    expect(query.get('pub_key')).toMatch(/^[A-Za-z0-9+/]{44}$/); // standard alphabet, 33 bytes = 44 chars
    expect(key).toEqual(Buffer.from(request.publicKey.serialize()));
    expect(fromBase64(query.get('uuid') as string).length).toBe(16);
    expect(() => parseLinkDeviceUri(request.uri)).toThrow(E2eeError);
    expect(
      parseLinkDeviceUri(request.uri, { scheme: 'e2eechat', host: 'link' }).publicKey.equals(
        request.publicKey,
      ),
    ).toBe(true);
  });

  it('our envelope decrypts with node:crypto following the spec, and the body is Provisioning.proto', async () => {
    const { message, identity } = await sampleMessage();
    const qr = await KeyPair.generate(provider);
    const envelope = await encryptProvisionMessage(qr.publicKey, message, { provider });
    const plain = nodeDecrypt(envelope, qr.privateKey.serialize(), qr.publicKey.serialize());
    const fields = new Map<number, Uint8Array | number>();
    const r = new ProtoReader(plain);
    for (let h = r.next(); h; h = r.next())
      fields.set(h.field, h.wireType === 0 ? r.uint32() : new Uint8Array(r.bytes()));
    expect(fields.get(1)).toEqual(identity.publicKey.serialize());
    expect(fields.get(2)).toEqual(identity.privateKey.serialize());
    expect(new TextDecoder().decode(fields.get(3) as Uint8Array)).toBe('+15550001111');
    expect(new TextDecoder().decode(fields.get(4) as Uint8Array)).toBe('link-token-123');
    expect(fields.get(7)).toBe(1);
    expect(new TextDecoder().decode(fields.get(8) as Uint8Array)).toBe(message.aci);
    expect(fields.get(9)).toBe(1);
  });

  it('flipping any bit of the envelope gives a typed error', async () => {
    const { message } = await sampleMessage();
    const qr = await KeyPair.generate(provider);
    const envelope = await encryptProvisionMessage(qr.publicKey, message, { provider });
    const copy = envelope.slice();
    for (let bit = 0; bit < envelope.length * 8; bit++) {
      const bad = envelope.slice();
      bad[bit >> 3] = (bad[bit >> 3] as number) ^ (1 << (bit & 7));
      const err = await decryptProvisionEnvelope(bad, qr.privateKey, { provider }).catch((e: unknown) => e);
      expect(E2eeError.is(err), `bit ${bit}: ${String(err)}`).toBe(true);
    }
    expect(envelope).toEqual(copy);
  });

  it('the MAC is checked before decrypting, and another version byte is refused', async () => {
    const { message } = await sampleMessage();
    const qr = await KeyPair.generate(provider);
    const envelope = await encryptProvisionMessage(qr.publicKey, message, { provider });
    const last = envelope.slice();
    last[last.length - 1] = (last[last.length - 1] as number) ^ 1;
    await expect(decryptProvisionEnvelope(last, qr.privateKey, { provider })).rejects.toMatchObject({
      code: 'INVALID_MAC',
    });
    const other = await KeyPair.generate(provider);
    await expect(decryptProvisionEnvelope(envelope, other.privateKey, { provider })).rejects.toMatchObject({
      code: 'INVALID_MAC',
    });
    const bodyAt = 1 + 1 + 33 + 1 + 2; // tag, len, key, tag, two-byte length
    const v0 = envelope.slice();
    expect(v0[bodyAt]).toBe(1);
    v0[bodyAt] = 0;
    await expect(decryptProvisionEnvelope(v0, qr.privateKey, { provider })).rejects.toMatchObject({
      code: 'UNSUPPORTED',
    });
  });

  it('an identity key pair whose halves do not match: an InvalidKeyError (INVALID_KEY), the class its code narrows to', async () => {
    const identity = await IdentityKeyPair.generate(provider);
    const other = await IdentityKeyPair.generate(provider);
    const mismatched = ProvisionMessage.from({
      aciIdentityKeyPair: new IdentityKeyPair(other.publicKey, identity.privateKey),
      aci: '9d0652a3-dcc3-4d11-975f-74d61598733f',
    });
    const qr = await KeyPair.generate(provider);
    const envelope = await encryptProvisionMessage(qr.publicKey, mismatched, { provider });
    const err = await decryptProvisionEnvelope(envelope, qr.privateKey, { provider }).catch(
      (e: unknown) => e,
    );
    // `E2eeError.is(err, 'INVALID_KEY')` narrows to `DecodeError | InvalidKeyError`: a key that parses
    // but cannot be used is an InvalidKeyError (core's rule), never a bare E2eeError.
    expect(E2eeError.is(err, 'INVALID_KEY')).toBe(true);
    expect(err).toBeInstanceOf(InvalidKeyError);
  });

  it('garbage bytes always give a typed error', async () => {
    const qr = await KeyPair.generate(provider);
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
        const err = await decryptProvisionEnvelope(bytes, qr.privateKey, { provider }).catch(
          (e: unknown) => e,
        );
        expect(E2eeError.is(err)).toBe(true);
      }),
      { numRuns: 300 },
    );
    const bodyish = await fc.sample(fc.uint8Array({ minLength: 1, maxLength: 200 }), 200);
    for (const b of bodyish) {
      let err: unknown;
      try {
        ProvisionMessage.deserialize(b);
      } catch (e) {
        err = e;
      }
      expect(E2eeError.is(err)).toBe(true);
    }
  });

  it('ProvisionMessage.from keeps copies of byte fields given as pooled Buffers', async () => {
    const identity = await IdentityKeyPair.generate(defaultProvider);
    const pooled = (fill: number) => Buffer.from(new Uint8Array(32).fill(fill)); // views into the pool
    const fields = { profileKey: pooled(1), mediaRootBackupKey: pooled(2), ephemeralBackupKey: pooled(3) };
    for (const b of Object.values(fields)) expect(b.byteLength).toBeLessThan(b.buffer.byteLength);
    const aci = '9d0652a3-dcc3-4d11-975f-74d61598733f';
    const message = ProvisionMessage.from({ aciIdentityKeyPair: identity, aci, ...fields });
    for (const b of Object.values(fields)) b.fill(0xee); // the app wipes or reuses its buffers
    expect(message.profileKey).toEqual(new Uint8Array(32).fill(1));
    expect(message.mediaRootBackupKey).toEqual(new Uint8Array(32).fill(2));
    expect(message.ephemeralBackupKey).toEqual(new Uint8Array(32).fill(3));
    const opened = ProvisionMessage.deserialize(message.serialize());
    expect(opened.profileKey).toEqual(new Uint8Array(32).fill(1));
  });

  it('text fields are capped at 4096 bytes of UTF-8, on creation and on decode, not 4096 UTF-16 units', async () => {
    const identity = await IdentityKeyPair.generate(defaultProvider);
    const aci = '9d0652a3-dcc3-4d11-975f-74d61598733f';
    const fits = `${'€'.repeat(1365)}a`; // 3 × 1365 + 1 = 4096 bytes
    const over = '€'.repeat(1366); // 4098 bytes in 1366 UTF-16 units
    expect(new TextEncoder().encode(fits).length).toBe(4096);
    const ok = ProvisionMessage.deserialize(
      ProvisionMessage.from({ aciIdentityKeyPair: identity, aci, userAgent: fits }).serialize(),
    );
    expect(ok.userAgent).toBe(fits);
    for (const k of ['aci', 'userAgent', 'number', 'provisioningCode', 'accountEntropyPool'] as const)
      expect(() => ProvisionMessage.from({ aciIdentityKeyPair: identity, aci, [k]: over })).toThrow(
        RangeError,
      );
    // a sender that is not us: the same field, over the cap, appended (the last occurrence wins)
    const base = ProvisionMessage.from({ aciIdentityKeyPair: identity, aci }).serialize();
    const extra = new ProtoWriter().string(5, over).finish();
    const bytes = new Uint8Array(base.length + extra.length);
    bytes.set(base);
    bytes.set(extra, base.length);
    expect(() => ProvisionMessage.deserialize(bytes)).toThrow(DecodeError);
  });

  it('secrets are never printed', async () => {
    const { message, identity } = await sampleMessage();
    const request = await DeviceLinkRequest.create({ provider });
    const got = await request.open(await encryptProvisionMessage(request.publicKey, message, { provider }));
    const hexPriv = Buffer.from(identity.privateKey.serialize()).toString('hex');
    const b64Priv = Buffer.from(identity.privateKey.serialize()).toString('base64');
    for (const v of [message, got, got.aciIdentityKeyPair, request]) {
      for (const text of [
        inspect(v, { depth: 10, showHidden: true }),
        JSON.stringify(v),
        String(v),
        JSON.stringify({ v }),
      ]) {
        expect(text).not.toContain(hexPriv);
        expect(text).not.toContain(b64Priv);
        expect(text).not.toContain('link-token-123');
        expect(text).not.toMatch(/\d+, \d+, \d+/);
      }
    }
    request.dispose();
    await expect(request.open(new Uint8Array(0))).rejects.toBeTruthy();
  });

  it('a frozen envelope (provisioning version 1, cipher version 0x01) stays loadable', async () => {
    // Written once by this package with a deterministic provider; kept byte for byte.
    const fixture = {
      qrPrivate: '40e143e223ca718185e4741ce6b0c933b8498f8daa65115c0a1d50bba545f47d',
      identityPublic: '0580d5d169751e0a07e54240bd9c9b129def97c071920c62a3db671f3c2deb9371',
      envelope:
        '0a210582972f0568f4b60a47bf792638645b5261708ed7a2eb38a9522fc49845dd351212b10101187321c75b28a3f5aae6503551dce6766491b5c041e10f0ebf00f1973456b17bbcf39cc8c3ebc6f22613d25ee9799b81e4e4fe7d912f1eac0f960193334cb8c2438356774b18096ddea2863a749ed77b4b1a4ace7a284cec112050e975407d260264a080eb8099364348838fba14fc36e3e44444e2c2d65b629aa1e9c717df496d23e2b2c1c9a8a9b2e4316d7451cdf061752a9023be46bc55501a1bc859477250cc8006fe0c6e2589a76df15ddc780c',
    };
    const qrPrivate = PrivateKey.deserialize(fromHex(fixture.qrPrivate));
    const got = await decryptProvisionEnvelope(fromHex(fixture.envelope), qrPrivate, { provider });
    expect(toHex(got.aciIdentityKeyPair.publicKey.serialize())).toBe(fixture.identityPublic);
    expect(got.aci).toBe('9d0652a3-dcc3-4d11-975f-74d61598733f');
    expect(got.provisioningCode).toBe('fixture-code');
    expect(got.readReceipts).toBe(false);
    expect(got.provisioningVersion).toBe(1);
    // And node:crypto, from the spec, opens it too.
    const qrPublic = await qrPrivate.publicKey(provider);
    expect(
      nodeDecrypt(fromHex(fixture.envelope), qrPrivate.serialize(), qrPublic.serialize()).length,
    ).toBeGreaterThan(0);
  });
});
