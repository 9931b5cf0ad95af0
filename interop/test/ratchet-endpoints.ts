// Endpoint adapters for the conversation driver: libsignal-client parties (any build) and ours.
import type { Address, CryptoProvider } from '@e2ee-kit/core';
import {
  createPreKeyBundle,
  DuplicateMessageError,
  PreKeyBundle,
  SessionCipher,
  type SessionCipherOptions,
} from '@e2ee-kit/ratchet';
import { InMemoryProtocolStore } from '@e2ee-kit/ratchet/testing';
import {
  type AddressLike,
  isLibsignalDuplicate,
  type LibHandle,
  LibsignalParty,
  type PartyOptions,
  type RawPreKeyBundle,
} from '../src/libsignal.js';
import type { Endpoint } from './ratchet-scenario.js';

const hex = (b: Uint8Array | null): string => (b === null ? '-' : Buffer.from(b).toString('hex'));

export interface LibEndpointOptions extends PartyOptions {
  /** Bundles this side hands out: PQXDH (default) or legacy X3DH without a Kyber prekey. */
  readonly kyber?: boolean;
}

/** A libsignal-client party as a conversation endpoint. */
export function libEndpoint(
  lib: LibHandle,
  options: LibEndpointOptions = {},
): Endpoint & { party: LibsignalParty } {
  const party = LibsignalParty.create(lib, options);
  const kyber = options.kyber ?? true;
  return {
    party,
    label: lib.label,
    address: party.address,
    createBundle: () => party.createBundle({ kyber }),
    processBundle: (peer, bundle) => party.processBundle(peer, bundle),
    encrypt: (peer, pt) => party.encrypt(peer, pt),
    decrypt: (peer, m) => party.decrypt(peer, m),
    isDuplicate: (err) => isLibsignalDuplicate(lib, err),
    snapshot: async (peer) =>
      `${hex(party.sessionBytes(peer))}/${hex(party.stores.identity.identityBytes(peer))}/${party.stores.preKey.ids().join(',')}`,
  };
}

// ---------------------------------------------------------------------------------------------
// Ours

export interface OurEndpointOptions {
  readonly provider: CryptoProvider;
  readonly providerLabel: string;
  readonly name?: string;
  readonly deviceId?: number;
  /** Legacy mode: bundles without Kyber, X3DH initiation for such bundles, X3DH PreKey messages accepted. */
  readonly x3dh?: boolean;
  /** Pass our own address to SessionCipher (needed for libsignal's `addresses` field). Default true. */
  readonly localAddress?: boolean;
}

/** Our `SessionCipher` + `InMemoryProtocolStore` (keeps bytes) as a conversation endpoint. */
export async function ourEndpoint(
  options: OurEndpointOptions,
): Promise<Endpoint & { store: InMemoryProtocolStore; cipher(peer: AddressLike): SessionCipher }> {
  const { provider } = options;
  const store = await InMemoryProtocolStore.create({ provider });
  const address: Address = { name: options.name ?? crypto.randomUUID(), deviceId: options.deviceId ?? 1 };
  const x3dh = options.x3dh === true;
  const ciphers = new Map<string, SessionCipher>();
  const cipher = (peer: AddressLike): SessionCipher => {
    const key = `${peer.name}.${peer.deviceId}`;
    let c = ciphers.get(key);
    if (!c) {
      const o: SessionCipherOptions = { provider, acceptX3dh: x3dh };
      if (options.localAddress !== false) o.localAddress = address;
      c = new SessionCipher(store, { name: peer.name, deviceId: peer.deviceId }, o);
      ciphers.set(key, c);
    }
    return c;
  };
  return {
    store,
    cipher,
    label: `ours(${options.providerLabel})`,
    address,
    async createBundle() {
      const bundle = await createPreKeyBundle(store, {
        deviceId: address.deviceId,
        provider,
        kyberPreKey: x3dh ? false : 'one-time',
      });
      return rawFromOurBundle(bundle);
    },
    async processBundle(peer, raw) {
      const bundle = ourBundleFromRaw(raw);
      await cipher(peer).initiate(bundle, { protocol: raw.kyberPreKey ? 'pqxdh' : 'x3dh' });
    },
    encrypt: (peer, pt) => cipher(peer).encrypt(pt),
    decrypt: async (peer, m) => (await cipher(peer).decrypt(m)).plaintext,
    isDuplicate: (err) => err instanceof DuplicateMessageError,
    snapshot: async () =>
      [...store.snapshot()]
        .sort(([x], [y]) => (x < y ? -1 : 1))
        .map(([k, v]) => `${k}=${hex(v)}`)
        .join('\n'),
  };
}

/** Our bundle → raw parts (what a server would hand to libsignal). */
export function rawFromOurBundle(bundle: PreKeyBundle): RawPreKeyBundle {
  const p = bundle.toParts();
  return {
    registrationId: p.registrationId,
    deviceId: p.deviceId,
    identityKey: p.identityKey,
    preKey: p.preKeyId !== null && p.preKey ? { id: p.preKeyId, publicKey: p.preKey } : undefined,
    signedPreKey: { id: p.signedPreKeyId, publicKey: p.signedPreKey, signature: p.signedPreKeySignature },
    kyberPreKey:
      p.kyberPreKeyId !== null && p.kyberPreKey && p.kyberPreKeySignature
        ? { id: p.kyberPreKeyId, publicKey: p.kyberPreKey, signature: p.kyberPreKeySignature }
        : undefined,
  };
}

/** Raw parts (e.g. from a libsignal party) → our PreKeyBundle. */
export function ourBundleFromRaw(raw: RawPreKeyBundle): PreKeyBundle {
  return PreKeyBundle.from({
    registrationId: raw.registrationId,
    deviceId: raw.deviceId,
    preKeyId: raw.preKey?.id,
    preKey: raw.preKey?.publicKey,
    signedPreKeyId: raw.signedPreKey.id,
    signedPreKey: raw.signedPreKey.publicKey,
    signedPreKeySignature: raw.signedPreKey.signature,
    identityKey: raw.identityKey,
    kyberPreKeyId: raw.kyberPreKey?.id,
    kyberPreKey: raw.kyberPreKey?.publicKey,
    kyberPreKeySignature: raw.kyberPreKey?.signature,
  });
}
