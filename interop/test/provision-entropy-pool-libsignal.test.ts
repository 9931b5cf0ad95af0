// A ProvisionMessage's accountEntropyPool is the string every backup key of the account derives from
// (libsignal's AccountEntropyPool: 64 characters of [0-9a-z]). A pool libsignal calls invalid would
// be stored by the new device and then refused, or derive other keys, wherever it is used; so we
// take exactly what libsignal-client 0.103.0's `AccountEntropyPool.isValid` takes, on creation
// (`ProvisionMessage.from`: RangeError) and on decode (a peer's bytes: DecodeError), and say nothing
// of the string in the refusal.
import { DecodeError, IdentityKeyPair, nobleProvider, ProtoWriter } from '@e2ee-kit/core';
import { ProvisionMessage } from '@e2ee-kit/ratchet';
// Not re-exported by the package's index: its own module, from the same 0.103.0 build.
import { AccountEntropyPool } from '@signalapp/libsignal-client/dist/AccountKeys.js';
import { beforeAll, describe, expect, it } from 'vitest';

const ACI = '9d0652a3-dcc3-4d11-975f-74d61598733f';
let identity: IdentityKeyPair;
beforeAll(async () => {
  identity = await IdentityKeyPair.generate(nobleProvider);
});

const generated = AccountEntropyPool.generate();
const cases: Array<[string, string]> = [
  ['one libsignal generated', generated],
  ['all digits', '0123456789'.repeat(6).slice(0, 60) + '0123'],
  ['all letters', 'abcdefghijklmnopqrstuvwxyz'.repeat(3).slice(0, 64)],
  ['upper case', generated.toUpperCase()],
  ['one upper-case letter', `A${generated.slice(1)}`],
  ['a dash', `${generated.slice(0, 63)}-`],
  ['a space', ` ${generated.slice(1)}`],
  ['an underscore', `_${generated.slice(1)}`],
  ['a NUL', `\u0000${generated.slice(1)}`],
  ['a non-ASCII letter (two UTF-8 bytes, one dropped)', `é${generated.slice(2)}`],
  ['a full-width digit', `\uff10${generated.slice(3)}`],
  ['63 characters', generated.slice(1)],
  ['65 characters', `${generated}a`],
];

function ours(text: string): 'valid' | 'refused' {
  try {
    ProvisionMessage.from({ aciIdentityKeyPair: identity, aci: ACI, accountEntropyPool: text });
    return 'valid';
  } catch (err) {
    expect(err).toBeInstanceOf(RangeError);
    expect(String((err as Error).message)).not.toContain(text);
    return 'refused';
  }
}

function oursDecoded(text: string): 'valid' | 'refused' {
  const bytes = new ProtoWriter()
    .bytes(1, identity.publicKey.serialize())
    .bytes(2, identity.privateKey.serialize())
    .string(8, ACI)
    .string(15, text)
    .finish();
  try {
    expect(ProvisionMessage.deserialize(bytes).accountEntropyPool).toBe(text);
    return 'valid';
  } catch (err) {
    expect(err).toBeInstanceOf(DecodeError);
    expect(String((err as Error).message)).not.toContain(text);
    return 'refused';
  }
}

describe('accountEntropyPool: what libsignal-client 0.103.0 calls valid, and nothing else', () => {
  for (const [name, text] of cases) {
    it(name, () => {
      const libsignal = AccountEntropyPool.isValid(text) ? 'valid' : 'refused';
      expect([ours(text), oursDecoded(text)]).toEqual([libsignal, libsignal]);
    });
  }
  it('the table has both answers', () => {
    const answers = new Set(cases.map(([, t]) => AccountEntropyPool.isValid(t)));
    expect(answers).toEqual(new Set([true, false]));
  });
});
