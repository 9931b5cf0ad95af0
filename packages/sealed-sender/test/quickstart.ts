// The README quick start, byte for byte (readme.test.ts checks the two agree, then runs this file).
import {
  IdentityKeyPair,
  openSealedMessage,
  platformProvider,
  SealedSenderMultiRecipientMessage,
  type SenderCertificate,
  sealMultiRecipient,
  sealV1,
  UnidentifiedSenderMessageContent,
} from '@e2ee-kit/sealed-sender';
import { createTestIssuer } from '@e2ee-kit/sealed-sender/testing';

// The server: a trust root kept offline, a server key it certified. Apps ship `server.trustRoot`.
const server = await createTestIssuer();

const alice = { serviceId: '9d0652a3-dcc3-4d11-975f-74d61598733f', deviceId: 1 };
const bob = { serviceId: 'e0c8b26d-177d-4f17-ad96-e716c3a5b6dc', deviceId: 1 };
const carol = { serviceId: '5a1e6f0c-8f5e-4b8e-9d3a-2b7c6d5e4f30', deviceId: 2 };
const aliceIdentity = await IdentityKeyPair.generate(platformProvider);
const bobIdentity = await IdentityKeyPair.generate(platformProvider);
const carolIdentity = await IdentityKeyPair.generate(platformProvider);

// Alice logs in and gets a short-lived certificate naming her (the server signs it).
const certificate: SenderCertificate = server.issue({
  senderUuid: alice.serviceId,
  deviceId: alice.deviceId,
  identityKey: aliceIdentity.publicKey,
  expires: Date.now() + 24 * 3600 * 1000,
});

// Alice seals her 1:1 message for Bob: `wire` is what her SessionCipher returned ({ type, body }).
const wire = { type: 'whisper' as const, body: new TextEncoder().encode('a ratchet message') };
const content = UnidentifiedSenderMessageContent.create({
  type: wire.type,
  senderCertificate: certificate,
  content: wire.body,
});
const sealed = await sealV1(content, aliceIdentity, bobIdentity.publicKey);
// The server delivers `sealed` to Bob without an authenticated sender: the bytes do not name Alice.

// Bob opens it: decrypts, validates the certificate (trust root, expiry), refuses his own messages.
const opened = await openSealedMessage(sealed, bobIdentity, {
  trustRoots: server.trustRoot,
  now: Date.now(), // use the server's timestamp of the envelope
  local: bob,
});
console.log(opened.sender.serviceId === alice.serviceId, opened.content.type); // true whisper
// Next: SessionCipher for { name: opened.sender.serviceId, deviceId: opened.sender.deviceId }
// decrypts opened.content.content().

// A group message to Bob and Carol, encrypted once (`body` would be a GroupCipher message).
const group = UnidentifiedSenderMessageContent.create({
  type: 'senderkey',
  senderCertificate: certificate,
  content: new TextEncoder().encode('a sender-key message'),
  groupId: new Uint8Array(32),
});
const sent = await sealMultiRecipient(group, aliceIdentity, [
  {
    serviceId: bob.serviceId,
    identityKey: bobIdentity.publicKey,
    devices: [{ deviceId: 1, registrationId: 101 }],
  },
  {
    serviceId: carol.serviceId,
    identityKey: carolIdentity.publicKey,
    devices: [{ deviceId: 2, registrationId: 202 }],
  },
]);

// The server splits it: one message per recipient account, the same for each of its devices.
const split = SealedSenderMultiRecipientMessage.parse(sent);
console.log([...split.recipients().keys()]); // [ bob, carol ]
const forCarol = split.messageForRecipient(carol.serviceId);
const carolOpened = await openSealedMessage(forCarol, carolIdentity, {
  trustRoots: server.trustRoot,
  now: Date.now(),
  local: carol,
});
console.log(new TextDecoder().decode(carolOpened.content.content())); // a sender-key message

// ---
export { carolOpened, opened, split };
