// Multi-recipient sending against libsignal-client 0.103.0, for the recipient lists the happy-path
// tests do not list: none at all, only excluded ServiceIds, a device listed twice, an account repeated
// around another, an ACI and the PNI of one UUID, and the lists the server's split refuses. For each,
// our SentMessage has the length of libsignal's for the same USMC and lists, splits to the same
// recipients, devices and exclusions, and every recipient's libsignal opens its part; where libsignal
// encrypts a message its own split refuses, ours refuses to seal it (RangeError).
import { randomUUID } from 'node:crypto';
import { nodeProvider } from '@e2ee-kit/core/node';
import {
  type MultiRecipient,
  SealedSenderMultiRecipientMessage,
  sealMultiRecipient,
  UnidentifiedSenderMessageContent,
} from '@e2ee-kit/sealed-sender';
import { beforeAll, describe, expect, it } from 'vitest';
import { lib103 as L } from '../src/libsignal.js';
import {
  ab,
  createWorld,
  hex,
  libGroupMessage,
  libSplit,
  ourSplit,
  type Party,
  type World,
} from './sealed-sender-parties.js';

const provider = nodeProvider;
let w: World;
let usmc: ReturnType<typeof L.UnidentifiedSenderMessageContent.new>;
const stranger = randomUUID();

beforeAll(async () => {
  w = await createWorld(2);
  const group = await libGroupMessage(w.alice, 'to an odd list');
  usmc = L.UnidentifiedSenderMessageContent.new(group.msg, w.aliceLibCert, 0, ab(new Uint8Array(32).fill(3)));
}, 120_000);

type Listing = { party: () => Party; devices?: () => Party[] };
interface Case {
  name: string;
  /** Recipient listings in order: one account each, its devices (default: the party alone). */
  recipients: Listing[];
  excluded?: () => string[];
  /** 'ok' (both seal and split alike) or 'refused' (ours: RangeError; libsignal's split refuses). */
  want: 'ok' | 'refused';
}

const bob = () => w.bob;
const m0 = () => w.many[0] as Party;
const m1 = () => w.many[1] as Party;
const cases: Case[] = [
  { name: 'no recipient, none excluded', recipients: [], want: 'ok' },
  { name: 'only an excluded ServiceId', recipients: [], excluded: () => [stranger], want: 'ok' },
  {
    name: 'one device listed twice in one listing',
    recipients: [{ party: bob, devices: () => [w.bob, w.bob] }],
    want: 'ok',
  },
  { name: 'one account listed twice', recipients: [{ party: bob }, { party: bob }], want: 'ok' },
  {
    name: 'an account repeated around another',
    recipients: [{ party: m0 }, { party: bob }, { party: m0 }],
    want: 'ok',
  },
  {
    name: 'two devices of one account, one listing',
    recipients: [{ party: m0, devices: () => [m0(), w.firstSecondDevice] }, { party: m1 }],
    want: 'ok',
  },
  {
    name: 'two devices of one account, listed apart',
    recipients: [{ party: m0 }, { party: m1 }, { party: () => w.firstSecondDevice }],
    want: 'ok',
  },
  {
    name: 'a recipient, and the PNI of its UUID excluded',
    recipients: [{ party: bob }],
    excluded: () => [`PNI:${w.bob.p.address.name}`],
    want: 'ok',
  },
  {
    name: 'a recipient also excluded',
    recipients: [{ party: bob }],
    excluded: () => [w.bob.p.address.name],
    want: 'refused',
  },
  {
    name: 'a ServiceId excluded twice',
    recipients: [],
    excluded: () => [stranger, stranger],
    want: 'refused',
  },
];

const libServiceId = (s: string) => (s.startsWith('PNI:') ? L.Pni.fromUuid(s.slice(4)) : L.Aci.fromUuid(s));

describe('multi-recipient send: odd recipient lists, ours against libsignal’s', () => {
  for (const c of cases)
    it(c.name, async () => {
      const excluded = c.excluded?.() ?? [];
      const listings = c.recipients.map((l) => l.devices?.() ?? [l.party()]);
      const libSent = await L.sealedSenderMultiRecipientEncrypt({
        content: usmc,
        recipients: listings.flat().map((p) => p.addr),
        excludedRecipients: excluded.map(libServiceId),
        identityStore: w.alice.p.stores.identity,
        sessionStore: w.alice.p.stores.session,
      });
      // One account, one identity key (the world's second device has its own: the first one's is used).
      const keyOf = (name: string) =>
        (listings.flat().find((p) => p.p.address.name === name) as Party).ours.publicKey;
      const recipients: MultiRecipient[] = listings.map((devices) => ({
        serviceId: (devices[0] as Party).p.address.name,
        identityKey: keyOf((devices[0] as Party).p.address.name),
        devices: devices.map((d) => ({ deviceId: d.p.address.deviceId, registrationId: d.p.registrationId })),
      }));
      const content = UnidentifiedSenderMessageContent.deserialize(new Uint8Array(usmc.serialize()));
      const sealing = sealMultiRecipient(content, w.alice.ours, recipients, { excluded, provider });
      if (c.want === 'refused') {
        await expect(sealing).rejects.toThrow(RangeError);
        expect(libSplit(libSent)).toBe('error'); // libsignal encrypts what its own split refuses
        return;
      }
      const sent = await sealing;
      expect(sent.length).toBe(libSent.length);
      const ours = ourSplit(sent) as { recipients: unknown; excluded: unknown };
      const theirs = libSplit(libSent) as { recipients: unknown; excluded: unknown };
      expect(ours.recipients).toEqual(theirs.recipients);
      expect(ours.excluded).toEqual(theirs.excluded);
      expect(libSplit(sent)).toEqual(ourSplit(sent));
      // Every listed account's libsignal opens its part to the very USMC.
      const parsed = SealedSenderMultiRecipientMessage.parse(sent);
      for (const name of new Set(listings.flat().map((p) => p.p.address.name))) {
        const to = listings.flat().find((p) => p.p.address.name === name) as Party;
        const received = parsed.messageForRecipient(to.p.address.name);
        const opened = await L.sealedSenderDecryptToUsmc(ab(received), to.p.stores.identity);
        expect(hex(opened.serialize())).toBe(hex(usmc.serialize()));
      }
    });
});
