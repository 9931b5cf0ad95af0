// Issue 11.7: every exported class of core (and core/testing), built for real around secrets we chose,
// prints none of them under util.inspect, console.log, String(), template literals, toString or JSON —
// nor do its fields or getters.
import * as core from '@e2ee-kit/core';
import {
  ChainWalkYielder,
  createAddress,
  generateKemKeyPair,
  IdentityKeyPair,
  InProcessLockManager,
  KemPublicKey,
  KemSecretKey,
  KeyedMutex,
  KeyPair,
  KeyValueIdentityKeyStore,
  nobleProvider,
  PrivateKey,
  ProtoReader,
  ProtoWriter,
  PublicKey,
  SecretBytes,
  WebLocksManager,
} from '@e2ee-kit/core';
import * as coreTesting from '@e2ee-kit/core/testing';
import { InMemoryIdentityKeyStore, MemoryBackend } from '@e2ee-kit/core/testing';
import { describe, expect, it } from 'vitest';
import { expectRedacted, exportedClasses } from '../../../tools/redaction.js';

/** Already clamped, so the stored form is these exact bytes. */
const PRIV = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff);
PRIV[0] = (PRIV[0] as number) & 248;
PRIV[31] = ((PRIV[31] as number) & 127) | 64;

async function build(): Promise<{ objects: Record<string, object>; secrets: Record<string, Uint8Array> }> {
  const priv = PrivateKey.deserialize(PRIV);
  const pub = await priv.publicKey(nobleProvider);
  const pair = new KeyPair(pub, priv);
  const identity = new IdentityKeyPair(pub, priv);
  const kem = generateKemKeyPair(nobleProvider);
  const kemSecret = kem.secretKey.serialize().subarray(1);
  const backend = new MemoryBackend();
  await backend.set('secret', PRIV);
  const store = new KeyValueIdentityKeyStore({ identityKeyPair: identity, registrationId: 7, backend });
  await store.saveIdentity(createAddress('bob', 1), pub);
  const memStore = await InMemoryIdentityKeyStore.create({
    identityKeyPair: identity,
    provider: nobleProvider,
  });
  const serialized = identity.serialize();
  const reader = new ProtoReader(serialized);
  const writer = new ProtoWriter().bytes(1, PRIV);
  const mutex = new KeyedMutex();
  // Lock managers hold no key material; built for real (the Web Locks one over a stand-in, as Node has
  // no navigator.locks) so a secret a later change stores in one would be found.
  const locks = new InProcessLockManager();
  const webLocks = new WebLocksManager({
    locks: { request: (name, _options, callback) => mutex.run(name, callback) },
    prefix: 'redaction:',
  });
  return {
    objects: {
      PrivateKey: priv,
      PublicKey: pub,
      KeyPair: pair,
      IdentityKeyPair: identity,
      KemPublicKey: kem.publicKey,
      KemSecretKey: kem.secretKey,
      KemKeyPair: kem,
      KeyValueIdentityKeyStore: store,
      InMemoryIdentityKeyStore: memStore,
      MemoryBackend: backend,
      ProtoReader: reader,
      ProtoWriter: writer,
      KeyedMutex: mutex,
      InProcessLockManager: locks,
      ChainWalkYielder: new ChainWalkYielder(),
      WebLocksManager: webLocks,
      SecretBytes: SecretBytes.copyOf(PRIV),
      'KemSecretKey.deserialize': KemSecretKey.deserialize(kem.secretKey.serialize()),
      'KemPublicKey.deserialize': KemPublicKey.deserialize(kem.publicKey.serialize()),
      'PublicKey.deserialize': PublicKey.deserialize(pub.serialize()),
    },
    secrets: { 'private key': PRIV, 'KEM secret key': kemSecret },
  };
}

describe('core: secrets never print', () => {
  it('every exported class is built below', async () => {
    const { objects } = await build();
    const built = new Set(Object.keys(objects));
    for (const name of [...exportedClasses(core), ...exportedClasses(coreTesting)])
      expect(built.has(name), `${name} has no instance in this test`).toBe(true);
  });

  it('no rendering of any instance, field or getter shows a secret', async () => {
    const { objects, secrets } = await build();
    let searched = 0;
    for (const [name, obj] of Object.entries(objects)) searched += expectRedacted(obj, name, secrets);
    expect(searched).toBeGreaterThan(200);
  });

  it('the internal key views print as [secret N bytes]; serialize() hands back plain bytes', async () => {
    const priv = PrivateKey.deserialize(PRIV);
    expect(String(priv.rawView)).toBe('[secret 32 bytes]');
    expect(JSON.stringify({ k: priv.rawView })).toBe('{"k":"[secret 32 bytes]"}');
    const out = priv.serialize();
    expect(Object.getPrototypeOf(out)).toBe(Uint8Array.prototype);
    expect(Buffer.from(out).equals(Buffer.from(PRIV))).toBe(true);
    const kem = generateKemKeyPair(nobleProvider);
    expect(String(kem.secretKey.rawView)).toBe('[secret 3168 bytes]');
    // The renderings searched really would show the bytes of an unredacted array.
    expect(expectRedactedFails(PRIV)).toBe(true);
  });

  it('redact() labels a class or one object and keeps members a class defines itself', () => {
    class Holder {
      readonly key = PRIV.slice();
    }
    core.redact(Holder, '[Holder]');
    expect(String(new Holder())).toBe('[Holder]');
    class Own {
      toString() {
        return 'own';
      }
    }
    core.redact(Own, '[Own]');
    expect(String(new Own())).toBe('own');
    const state = core.redact(
      { chainKey: PRIV.slice() },
      (s: { chainKey: Uint8Array }) => `[state ${s.chainKey.length}]`,
    );
    expect(JSON.stringify(state)).toBe('"[state 32]"');
    expect(Object.keys(state)).toEqual(['chainKey']);
  });
});

function expectRedactedFails(secret: Uint8Array): boolean {
  try {
    expectRedacted({ leak: secret.slice() }, 'plain object', { secret });
    return false;
  } catch {
    return true;
  }
}
