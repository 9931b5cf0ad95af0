// The work a forged group message costs a receiver: a message with a valid chain id but a bad
// signature derives no chain key, however far ahead its iteration says it is (the signature is
// checked before any chain walk, as libsignal does); at most the next message's one step is
// derived while the signature is checked, and dropped. The stored record stays byte-identical.
// Counted in HMAC calls through the provider (the chain's only primitive), on every provider;
// a validly signed message 25,000 ahead (a hostile member, accepted as in libsignal) is the
// positive control that the count sees the walk.
import { type Address, type CryptoProvider, PrivateKey, toHex, utf8, xeddsaSign } from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import {
  E2eeError,
  GroupCipher,
  MAX_FORWARD_JUMPS,
  SenderKeyMessage,
  type SenderKeyRecord,
} from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';
import { describe, expect, it } from 'vitest';
import { allProviders } from '../../../tools/providers.js';
import { badPaddingCiphertext, openWithDerivedKey } from '../../../tools/sender-key-ciphertext.js';

const D = 'f0e1d2c3-0000-4000-8000-00000000c057';
const mallory: Address = Object.freeze({ name: 'mallory', deviceId: 1 });

/** `provider` with its HMAC calls (async and sync) counted. */
function counting(provider: CryptoProvider): { provider: CryptoProvider; hmacs: () => number } {
  let n = 0;
  const sync = provider.hmacSha256Sync;
  // Over the provider as prototype (providers are frozen; a class provider's methods keep `this`).
  const wrapped: CryptoProvider = Object.create(provider, {
    hmacSha256: {
      value: (key: Uint8Array, data: Uint8Array) => {
        n++;
        return provider.hmacSha256(key, data);
      },
    },
    hmacSha256Sync: {
      value:
        sync === undefined
          ? undefined
          : (key: Uint8Array, data: Uint8Array) => {
              n++;
              return sync.call(provider, key, data);
            },
    },
  });
  return { provider: wrapped, hmacs: () => n };
}

describe.each(allProviders)('provider $label', ({ provider }) => {
  it('a bad signature costs no chain walk and stores nothing, whatever the iteration', async () => {
    const senderStore = new InMemorySenderKeyStore();
    const sender = new GroupCipher(senderStore, { provider: nodeProvider });
    const skdm = await sender.createDistributionMessage(mallory, D);
    const state = ((await senderStore.loadSenderKey(mallory, D)) as SenderKeyRecord).states[0]!;
    const key = PrivateKey.deserialize(state.signingPrivate as Uint8Array);
    const signed = (iteration: number, ciphertext: Uint8Array) => {
      const unsigned = SenderKeyMessage.encodeUnsigned({
        distributionId: D,
        chainId: state.chainId,
        iteration,
        ciphertext,
      });
      return new Uint8Array([...unsigned, ...xeddsaSign(key, unsigned, nodeProvider)]);
    };
    const forge = (wire: Uint8Array) => {
      const out = wire.slice();
      out[out.length - 1] = (out[out.length - 1] as number) ^ 0x01;
      return out;
    };

    const count = counting(provider);
    const store = new InMemorySenderKeyStore();
    const receiver = new GroupCipher(store, { provider: count.provider });
    await receiver.processDistributionMessage(mallory, skdm);
    const m0 = await sender.encrypt(mallory, D, utf8('m0'));
    await receiver.decrypt(mallory, m0);
    const before = toHex(store.rawRecord(mallory, D) as Uint8Array);

    const forged: Array<[string, Uint8Array, number]> = [
      ['the next message', forge(await sender.encrypt(mallory, D, utf8('m1'))), 2],
      ['a duplicate', forge(m0), 0],
      ['2 ahead', forge(signed(3, new Uint8Array(16))), 0],
      [`${MAX_FORWARD_JUMPS} ahead`, forge(signed(1 + MAX_FORWARD_JUMPS, new Uint8Array(16))), 0],
      ['at 2^32 − 2', forge(signed(0xffff_fffe, new Uint8Array(16))), 0],
    ];
    for (const [name, wire, most] of forged) {
      const start = count.hmacs();
      const err = await receiver.decrypt(mallory, wire).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(E2eeError.is(err, 'INVALID_SIGNATURE'), name).toBe(true);
      // The next message's single step may run while the signature is checked; nothing further.
      expect(count.hmacs() - start, `${name}: HMAC calls`).toBeLessThanOrEqual(most);
      expect(toHex(store.rawRecord(mallory, D) as Uint8Array), name).toBe(before);
    }

    // Positive control: a validly signed message as far ahead walks the chain (and is refused on
    // its ciphertext afterwards, still storing nothing). Its body is bad padding for certain (16 zero
    // bytes would decrypt to valid padding once in ~256 runs); the derivation that makes it is
    // checked on a genuine message first.
    expect(
      new TextDecoder().decode(
        await openWithDerivedKey(
          state.chainKey,
          state.iteration,
          0,
          SenderKeyMessage.deserialize(m0).ciphertext(),
        ),
      ),
    ).toBe('m0');
    const body = await badPaddingCiphertext(state.chainKey, state.iteration, 1 + MAX_FORWARD_JUMPS);
    const start = count.hmacs();
    const err = await receiver.decrypt(mallory, signed(1 + MAX_FORWARD_JUMPS, body)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(E2eeError.is(err, 'BAD_PADDING')).toBe(true);
    expect(count.hmacs() - start).toBeGreaterThanOrEqual(MAX_FORWARD_JUMPS);
    expect(toHex(store.rawRecord(mallory, D) as Uint8Array)).toBe(before);
  }, 120_000);
});
