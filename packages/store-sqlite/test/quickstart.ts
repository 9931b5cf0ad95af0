import * as ratchet from '@e2ee-kit/ratchet';
import { createAddress, createPreKeyBundle, SessionCipher } from '@e2ee-kit/ratchet';
import * as senderKeys from '@e2ee-kit/sender-keys';
import { SqliteStore } from '@e2ee-kit/store-sqlite';
import Database from 'better-sqlite3';

// Your file, e.g. new Database('chat.sqlite'); the app owns the connection and closes it.
const bob = await SqliteStore.open(new Database(':memory:'), { ratchet, senderKeys });
const alice = await SqliteStore.open(new Database(':memory:'), { ratchet, senderKeys });

// Alice starts a session from Bob's published bundle and sends.
const toBob = new SessionCipher(alice.protocol, createAddress('bob', 1));
await toBob.initiate(await createPreKeyBundle(bob.protocol, { deviceId: 1 }));
const wire = await toBob.encrypt(new TextEncoder().encode('hello Bob'));

// Bob decrypts and keeps the message in the same commit as the new session state:
// a crash leaves both or neither.
await new SessionCipher(bob.protocol, createAddress('alice', 1)).decrypt(wire, {
  deliver: ({ plaintext }, tx) => tx.app.put('message:alice.1:1', plaintext),
});
console.log(new TextDecoder().decode(await bob.app.get('message:alice.1:1')));
