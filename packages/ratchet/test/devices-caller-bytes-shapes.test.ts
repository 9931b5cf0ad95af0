// The devices entries that read bytes a peer or the app hands over — `ProvisionMessage.deserialize`,
// `decryptProvisionEnvelope` / `DeviceLinkRequest.open`, `ProvisionMessage.from`'s byte fields — fed
// offset views and pooled Node Buffers (what `ws` and `fs` hand out): the caller's bytes and the bytes
// around them stay as they were (the decoder overwrites its temporaries, never the caller's array),
// the message read equals the one read from a plain copy, and it does not change when the caller
// reuses its buffer.
import { IdentityKeyPair, nobleProvider } from '@e2ee-kit/core';
import {
  DeviceLinkRequest,
  decryptProvisionEnvelope,
  encryptProvisionMessage,
  ProvisionMessage,
} from '@e2ee-kit/ratchet';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkCallerBytes, foreignShapes, hexOf } from '../../../tools/caller-bytes.js';

const provider = nobleProvider;
const ACI = '9d0652a3-dcc3-4d11-975f-74d61598733f';
const PNI = 'PNI:e0c8b26d-177d-4f17-ad96-e716c3a5b6dc';

let aci: IdentityKeyPair;
let pni: IdentityKeyPair;
beforeAll(async () => {
  aci = await IdentityKeyPair.generate(provider);
  pni = await IdentityKeyPair.generate(provider);
});

const sample = () =>
  ProvisionMessage.from({
    aciIdentityKeyPair: aci,
    aci: ACI,
    pni: PNI,
    pniIdentityKeyPair: pni,
    number: '+15550001111',
    provisioningCode: 'link-token-123',
    userAgent: 'e2ee-kit test',
    profileKey: new Uint8Array(32).fill(7),
    readReceipts: true,
    accountEntropyPool: 'ab12'.repeat(16),
    mediaRootBackupKey: new Uint8Array(32).fill(8),
    ephemeralBackupKey: new Uint8Array(32).fill(9),
  });

/** Everything a message holds, as plain values (hex for bytes and keys). */
function fields(m: ProvisionMessage) {
  return hexOf([
    m.aci,
    m.pni,
    m.number,
    m.provisioningCode,
    m.userAgent,
    m.readReceipts,
    m.provisioningVersion,
    m.accountEntropyPool,
    m.profileKey,
    m.mediaRootBackupKey,
    m.ephemeralBackupKey,
    m.aciIdentityKeyPair.publicKey.serialize(),
    m.aciIdentityKeyPair.privateKey.serialize(),
    m.pniIdentityKeyPair?.publicKey.serialize(),
    m.pniIdentityKeyPair?.privateKey.serialize(),
  ]);
}

describe.each(foreignShapes)('$name inputs', ({ make }) => {
  it('ProvisionMessage.deserialize: the caller’s bytes untouched, the message as from a plain copy', async () => {
    const bytes = sample().serialize();
    const expected = fields(ProvisionMessage.deserialize(new Uint8Array(bytes)));
    await checkCallerBytes(make, [bytes], (b) => ProvisionMessage.deserialize(b), fields, expected);
  });

  it('decryptProvisionEnvelope and DeviceLinkRequest.open: the caller’s envelope untouched', async () => {
    const request = await DeviceLinkRequest.create({ provider });
    const envelope = await encryptProvisionMessage(request.publicKey, sample(), { provider });
    const expected = fields(await request.open(new Uint8Array(envelope)));
    await checkCallerBytes(make, [envelope], (e) => request.open(e), fields, expected);
    // refused (sealed to another QR key: the MAC fails), the caller's bytes are still untouched
    const other = await DeviceLinkRequest.create({ provider });
    const given = make(await encryptProvisionMessage(other.publicKey, sample(), { provider }));
    await expect(decryptProvisionEnvelope(given.input, aci.privateKey, { provider })).rejects.toMatchObject({
      code: 'INVALID_MAC',
    });
    given.assertUntouched();
  });

  it('ProvisionMessage.from: byte fields copied, the caller’s arrays untouched', async () => {
    const keys = [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2), new Uint8Array(32).fill(3)];
    const build = (profileKey: Uint8Array, mediaRootBackupKey: Uint8Array, ephemeralBackupKey: Uint8Array) =>
      ProvisionMessage.from({
        aciIdentityKeyPair: aci,
        aci: ACI,
        profileKey,
        mediaRootBackupKey,
        ephemeralBackupKey,
      });
    const expected = fields(
      build(...(keys.map((k) => new Uint8Array(k)) as [Uint8Array, Uint8Array, Uint8Array])),
    );
    const message = await checkCallerBytes(make, keys, (p, m, e) => build(p, m, e), fields, expected);
    // and what it writes carries them, after the caller reused its arrays
    expect(fields(ProvisionMessage.deserialize(message.serialize()))).toEqual(expected);
  });
});
