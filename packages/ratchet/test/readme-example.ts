import { createPreKeyBundle, SessionCipher } from '@e2ee-kit/ratchet';
import { InMemoryProtocolStore } from '@e2ee-kit/ratchet/testing';

const utf8 = (text: string) => new TextEncoder().encode(text);

// Bob publishes a bundle: identity key, signed pre-key, one-time pre-key, Kyber pre-key.
const bob = await InMemoryProtocolStore.create();
const bundle = await createPreKeyBundle(bob, { deviceId: 1 });

// Alice starts a PQXDH session from it and sends a first message.
const alice = await InMemoryProtocolStore.create();
const toBob = new SessionCipher(alice, { name: 'bob', deviceId: 1 });
await toBob.initiate(bundle);
const wire = await toBob.encrypt(utf8('hi Bob')); // { type: 'prekey', body: Uint8Array }

// Bob decrypts; the PreKey message creates his side of the session.
const toAlice = new SessionCipher(bob, { name: 'alice', deviceId: 1 });
const { plaintext } = await toAlice.decrypt(wire);
console.log(new TextDecoder().decode(plaintext)); // hi Bob

// From here on, both sides exchange 'whisper' messages.
const reply = await toAlice.encrypt(utf8('hi Alice'));
console.log(new TextDecoder().decode((await toBob.decrypt(reply)).plaintext)); // hi Alice
