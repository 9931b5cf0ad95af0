// Odd identifiers and keys against libsignal-client 0.103.0, live: identifier lengths around every
// SHA-512 block boundary of the first hash input (68 + identifier bytes), on every provider, the
// opt-in WebAssembly SHA-512 and the default path; the ACI helper against libsignal's own parser;
// identity keys libsignal refuses are refused here too, with a typed error.
import { DecodeError, E2eeError, ErrorCode, platformProvider, toHex } from '@e2ee-kit/core';
import { lib103 } from '@e2ee-kit/interop/libsignal';
import { aciIdentifier, computeSafetyNumber } from '@e2ee-kit/safety-number';
import { withWasmSha512 } from '@e2ee-kit/safety-number/wasm';
import { describe, expect, it } from 'vitest';
import { allProviders } from '../../../tools/providers.js';

const ab = (u: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(u);
const providers = [
  { label: 'default path', provider: undefined },
  ...allProviders,
  { label: 'platform+wasm-sha512', provider: await withWasmSha512(platformProvider) },
];
const aKey = lib103.PrivateKey.deserialize(ab(new Uint8Array(32).fill(0x21))).getPublicKey();
const bKey = lib103.PrivateKey.deserialize(ab(new Uint8Array(32).fill(0x42))).getPublicKey();

// SHA-512 pads to 128-byte blocks, a block holding at most 111 message bytes before the length: the
// first input is one block up to identifier length 43, two from 44, three from 172, four from 300.
const LENGTHS = [
  0, 1, 2, 15, 16, 17, 42, 43, 44, 45, 59, 60, 61, 111, 112, 127, 128, 129, 171, 172, 173, 299, 300, 1001,
];

describe('identifiers of odd lengths give libsignal’s digits and payload', () => {
  it.each(providers)('$label', ({ provider }) => {
    for (const n of LENGTHS) {
      const id = Uint8Array.from({ length: n }, (_, i) => (i * 131 + n) & 0xff);
      const other = id.subarray(0, n >> 1);
      const lib = lib103.Fingerprint.new(7, 2, ab(id), aKey, ab(other), bKey);
      const ours = computeSafetyNumber({
        local: { identifier: id, identityKey: aKey.serialize() },
        remote: { identifier: other, identityKey: bKey.serialize() },
        iterations: 7,
        ...(provider === undefined ? {} : { provider }),
      });
      expect(ours.digits, `identifier of ${n} bytes`).toBe(lib.displayableFingerprint().toString());
      expect(toHex(ours.scannable.serialize()), `identifier of ${n} bytes`).toBe(
        toHex(lib.scannableFingerprint().toBuffer()),
      );
    }
  });
});

describe('identity keys and ACIs as libsignal reads them', () => {
  it('aciIdentifier gives the 16 bytes libsignal parses from the same ACI, any case', () => {
    for (const aci of ['60954b63-247d-4799-a4e5-0593cdfb54c8', 'FFFFFFFF-0000-4000-8000-00000000000A']) {
      const theirs = lib103.Aci.parseFromServiceIdString(aci.toLowerCase()).getRawUuidBytes();
      expect(toHex(aciIdentifier(aci))).toBe(toHex(theirs));
    }
  });

  it('a key with another type byte, or of another length, is refused by both, with a typed error here', () => {
    const good = aKey.serialize();
    const bad = [
      Uint8Array.of(0x00, ...good.subarray(1)),
      Uint8Array.of(0x06, ...good.subarray(1)),
      Uint8Array.of(0xff, ...good.subarray(1)),
      good.subarray(0, 32),
      new Uint8Array(0),
    ];
    for (const key of bad) {
      expect(() => lib103.PublicKey.deserialize(ab(key)), toHex(key)).toThrow();
      let err: unknown;
      try {
        computeSafetyNumber({
          local: { identifier: new Uint8Array(16), identityKey: key },
          remote: { identifier: new Uint8Array(16), identityKey: good },
          iterations: 2,
        });
      } catch (e) {
        err = e;
      }
      expect(err, toHex(key)).toBeInstanceOf(DecodeError);
      // The README's promise: DECODE for a wrong length, INVALID_KEY for a wrong type byte.
      const code = key.length === 33 ? ErrorCode.InvalidKey : ErrorCode.Decode;
      expect(E2eeError.is(err, code), toHex(key)).toBe(true);
    }
  });
});
