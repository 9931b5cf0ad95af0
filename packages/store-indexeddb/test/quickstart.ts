import * as ratchet from '@e2ee-kit/ratchet';
import { createAddress, createPreKeyBundle, SessionCipher } from '@e2ee-kit/ratchet';
import * as senderKeys from '@e2ee-kit/sender-keys';
import { IndexedDbStore, InProcessLockManager, WebLocksManager } from '@e2ee-kit/store-indexeddb';

// One database per account; every tab and worker of the origin opens the same one.
const store = await IndexedDbStore.open('chat-bob', { ratchet, senderKeys });
// Tabs and workers exclude each other per address (Web Locks); elsewhere one context is all there is.
const locks = WebLocksManager.isSupported()
  ? new WebLocksManager({ prefix: 'chat-bob:' })
  : new InProcessLockManager();

const bundle = await createPreKeyBundle(store.protocol, { deviceId: 1 });
// …publish `bundle`; later a PreKey message arrives from alice.1 (here made by a second store):
const alice = await IndexedDbStore.open('chat-alice', { ratchet, senderKeys });
const toBob = new SessionCipher(alice.protocol, createAddress('bob', 1));
await toBob.initiate(bundle);
const wire = await toBob.encrypt(new TextEncoder().encode('hello from a tab'));

const fromAlice = new SessionCipher(store.protocol, createAddress('alice', 1), { lockManager: locks });
await fromAlice.decrypt(wire, {
  // committed with the session, or not at all
  deliver: ({ plaintext }, tx) => tx.app.put('message:alice.1:1', plaintext),
});
console.log(new TextDecoder().decode(await store.app.get('message:alice.1:1')));
store.db.close();
alice.db.close();
