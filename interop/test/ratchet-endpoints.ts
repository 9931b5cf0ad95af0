// Endpoint adapters for the conversation driver: libsignal-client parties (any build) and ours.
import { isLibsignalDuplicate, type LibHandle, LibsignalParty, type PartyOptions } from '../src/libsignal.js';
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
