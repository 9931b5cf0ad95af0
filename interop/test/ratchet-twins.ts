// Twin receivers for decision tests: one libsignal-client party and one of our SessionCipher devices
// holding the very same identity, registration id and pre-keys (copied from libsignal's stores), so
// one sender's message bytes go to both unchanged and each side's decision can be compared on
// identical input. Each side's stored state is read as bytes, to show a refusal changed nothing.
import {
  type Address,
  type CryptoProvider,
  IdentityKeyPair,
  KemPublicKey,
  KemSecretKey,
  KeyPair,
  PrivateKey,
  PublicKey,
} from '@e2ee-kit/core';
import {
  KyberPreKeyRecord,
  PreKeyRecord,
  SessionCipher,
  type SessionCipherOptions,
  SignedPreKeyRecord,
} from '@e2ee-kit/ratchet';
import { InMemoryProtocolStore } from '@e2ee-kit/ratchet/testing';
import {
  type AddressLike,
  type LibHandle,
  LibsignalParty,
  libsignalErrorName,
  type RawPreKeyBundle,
  type RawWireMessage,
} from '../src/libsignal.js';

const hex = (b: Uint8Array | null): string => (b === null ? '-' : Buffer.from(b).toString('hex'));

export interface Twins {
  readonly lib: LibsignalParty;
  readonly ours: InMemoryProtocolStore;
  readonly address: Address;
  /** The bundle both hand out (libsignal's keys, which ours holds too). */
  readonly bundle: RawPreKeyBundle;
  /** Our SessionCipher for messages from `peer` (one per peer, reused). */
  cipher(peer: AddressLike): SessionCipher;
  libSnapshot(peer: AddressLike): string;
  ourSnapshot(): string;
}

/**
 * Matching trust policies for a changed identity key on receipt. 'changed-trusted' (default): ours
 * 'tofu' (Signal's behaviour: reported, then trusted), libsignal's store trusting every key.
 * 'changed-refused': ours 'blockOnChange', libsignal's store trusting the first key only.
 */
export type TwinTrust = 'changed-trusted' | 'changed-refused';

/** A libsignal party and our device with the same keys, at `name`.`deviceId`. */
export async function createTwins(
  lib: LibHandle,
  provider: CryptoProvider,
  options: { name: string; deviceId: number; trust?: TwinTrust },
): Promise<Twins> {
  const refuse = options.trust === 'changed-refused';
  const party = LibsignalParty.create(lib, {
    name: options.name,
    deviceId: options.deviceId,
    trust: refuse ? 'tofu' : 'all',
  });
  const bundle = await party.createBundle();
  const identity = new IdentityKeyPair(
    PublicKey.deserialize(party.identityKey),
    PrivateKey.deserialize(party.identityPrivateKey),
  );
  const ours = await InMemoryProtocolStore.create({
    provider,
    identityKeyPair: identity,
    registrationId: party.registrationId,
    policy: refuse ? 'blockOnChange' : 'tofu',
  });
  const s = party.stores;
  const spk = await s.signedPreKey.getSignedPreKey(bundle.signedPreKey.id);
  await ours.saveSignedPreKey(
    spk.id(),
    new SignedPreKeyRecord(
      spk.id(),
      spk.timestamp(),
      new KeyPair(
        PublicKey.deserialize(spk.publicKey().serialize()),
        PrivateKey.deserialize(spk.privateKey().serialize()),
      ),
      spk.signature(),
    ),
  );
  const pk = await s.preKey.getPreKey(bundle.preKey!.id);
  await ours.savePreKey(
    pk.id(),
    new PreKeyRecord(
      pk.id(),
      new KeyPair(
        PublicKey.deserialize(pk.publicKey().serialize()),
        PrivateKey.deserialize(pk.privateKey().serialize()),
      ),
    ),
  );
  const kpk = await s.kyberPreKey.getKyberPreKey(bundle.kyberPreKey!.id);
  await ours.saveKyberPreKey(
    kpk.id(),
    new KyberPreKeyRecord(
      kpk.id(),
      kpk.timestamp(),
      {
        publicKey: KemPublicKey.deserialize(kpk.publicKey().serialize()),
        secretKey: KemSecretKey.deserialize(kpk.secretKey().serialize()),
      },
      kpk.signature(),
    ),
  );
  const address: Address = { name: options.name, deviceId: options.deviceId };
  const ciphers = new Map<string, SessionCipher>();
  return {
    lib: party,
    ours,
    address,
    bundle,
    cipher(peer) {
      const key = `${peer.name}.${peer.deviceId}`;
      let c = ciphers.get(key);
      if (!c) {
        const o: SessionCipherOptions = { provider, localAddress: address };
        c = new SessionCipher(ours, { name: peer.name, deviceId: peer.deviceId }, o);
        ciphers.set(key, c);
      }
      return c;
    },
    libSnapshot: (peer) =>
      `${hex(party.sessionBytes(peer))}/${hex(party.stores.identity.identityBytes(peer))}/${party.stores.preKey.ids().join(',')}`,
    ourSnapshot: () =>
      [...ours.snapshot()]
        .sort(([x], [y]) => (x < y ? -1 : 1))
        .map(([k, v]) => `${k}=${hex(v)}`)
        .join('\n'),
  };
}

/** A decision: 'accepted', or the error's kind (libsignal's ErrorCode name / our code and class). */
export type Decision = string;

/** libsignal's decision on `m` from `peer`: 'accepted' or `rejected:<ErrorCode name>: <message>`. */
export async function libDecision(twins: Twins, peer: AddressLike, m: RawWireMessage): Promise<Decision> {
  try {
    await twins.lib.decrypt(peer, m);
    return 'accepted';
  } catch (err) {
    return `rejected:${libsignalErrorName(twins.lib.lib, err) ?? 'untyped'}: ${(err as Error).message}`;
  }
}

/** Our decision on `m` from `peer`: 'accepted' or `rejected:<code> (<class name>)[ <- <cause's code>]`. */
export async function ourDecision(twins: Twins, peer: AddressLike, m: RawWireMessage): Promise<Decision> {
  try {
    await twins.cipher(peer).decrypt(m);
    return 'accepted';
  } catch (err) {
    const e = err as { code?: unknown; name?: unknown; cause?: { code?: unknown } };
    const cause = e.cause?.code === undefined ? '' : ` <- ${String(e.cause.code)}`;
    return `rejected:${String(e.code)} (${String(e.name)})${cause}`;
  }
}

/**
 * `body` with its one occurrence of the 33-byte key `key` overwritten by `replacement` (33 bytes):
 * the same length and the same bytes everywhere else, so nothing but that key differs (a nested
 * message's length prefixes stay right). A MAC over the key no longer verifies, of course.
 */
export function replaceKey(body: Uint8Array, key: Uint8Array, replacement: Uint8Array): Uint8Array {
  if (key.length !== 33 || replacement.length !== 33) throw new RangeError('keys are 33 bytes');
  const b = Buffer.from(body);
  const at = b.indexOf(Buffer.from(key));
  if (at < 0 || b.indexOf(Buffer.from(key), at + 1) >= 0) throw new Error('key not found exactly once');
  const out = new Uint8Array(body);
  out.set(replacement, at);
  return out;
}
