// Distribution id strings, live against @signalapp/libsignal-client 0.103.0: every spelling libsignal
// takes (its `uuid.parse`, the Rust `uuid` crate) we take, naming the same group (the same UUID
// bytes on the wire, the same canonical id handed to the store), and every spelling it refuses we
// refuse. A fixed table of odd forms, then generated ones (case, wrappers, dashes, stray characters).
import { type Address, utf8 } from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import { GroupCipher, SenderKeyDistributionMessage, SenderKeyMessage } from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LibSenderKeyBytesStore } from '../src/lib-sender-key-store.js';
import { lib103 } from '../src/libsignal.js';

const alice: Address = Object.freeze({ name: 'a11ce000-0000-4000-8000-0000000a11ce', deviceId: 1 });
const libAlice = lib103.ProtocolAddress.new(alice.name, alice.deviceId);

type Answer = { ok: false } | { ok: true; skdmId: string; storedAs: string[]; wireId: string };

async function libsignalTakes(form: string): Promise<Answer> {
  const store = new LibSenderKeyBytesStore();
  let skdm: ReturnType<typeof lib103.SenderKeyDistributionMessage.deserialize>;
  try {
    skdm = await lib103.SenderKeyDistributionMessage.create(libAlice, form, store);
  } catch {
    return { ok: false };
  }
  const wire = (await lib103.groupEncrypt(libAlice, form, store, new Uint8Array(utf8('x')))).serialize();
  return {
    ok: true,
    skdmId: SenderKeyDistributionMessage.deserialize(skdm.serialize()).distributionId,
    storedAs: [...store.map.keys()].map((k) => k.split('\u0000')[1] as string),
    wireId: lib103.SenderKeyMessage.deserialize(wire).distributionId(),
  };
}

async function weTake(form: string): Promise<Answer> {
  const store = new InMemorySenderKeyStore();
  const seen: string[] = [];
  const original = store.storeSenderKey.bind(store);
  store.storeSenderKey = (sender, id, record) => {
    if (!seen.includes(id)) seen.push(id);
    return original(sender, id, record);
  };
  const cipher = new GroupCipher(store, { provider: nodeProvider });
  let skdm: SenderKeyDistributionMessage;
  try {
    skdm = await cipher.createDistributionMessage(alice, form);
  } catch (err) {
    expect(err).toBeInstanceOf(RangeError);
    return { ok: false };
  }
  const wire = await cipher.encrypt(alice, form, utf8('x'));
  return {
    ok: true,
    skdmId: skdm.distributionId,
    storedAs: seen,
    wireId: SenderKeyMessage.deserialize(wire).distributionId,
  };
}

const base = '0123abcd-4567-89ab-cdef-0123456789ab';
const simple = base.replace(/-/g, '');
const table = [
  base,
  base.toUpperCase(),
  '0123ABCD-4567-89ab-CDEF-0123456789aB',
  `{${base}}`,
  `{${base.toUpperCase()}}`,
  simple,
  simple.toUpperCase(),
  `urn:uuid:${base}`,
  `urn:uuid:${base.toUpperCase()}`,
  `URN:UUID:${base}`,
  `Urn:uuid:${base}`,
  `urn:UUID:${base}`,
  `urn:uuid:${simple}`,
  `urn:uuid:{${base}}`,
  `{urn:uuid:${base}}`,
  `{${simple}}`,
  `{${base}`,
  `${base}}`,
  ` ${base}`,
  `${base} `,
  `${base}\n`,
  `${base}\u0000`,
  '0123abcd4567-89ab-cdef-0123456789ab',
  '0123abcd-4567-89ab-cdef0123456789ab',
  `${base}-`,
  base.slice(0, -1),
  `${simple}0`,
  '0123abcd-4567-89ab-cdef-0123456789ag',
  '0123abcd_4567_89ab_cdef_0123456789ab',
  '+123abcd-4567-89ab-cdef-0123456789ab',
  '\uff10123abcd-4567-89ab-cdef-0123456789ab',
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  '',
  'group-1',
];

describe('distribution id spellings: what libsignal takes, we take (live)', () => {
  it.each(table)('%j', async (form) => {
    const [lib, ours] = await Promise.all([libsignalTakes(form), weTake(form)]);
    expect(ours).toEqual(lib);
  });

  it('generated spellings: case, wrappers, dashes dropped or moved, stray characters', async () => {
    const spelling = fc
      .record({
        hex: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b).toString('hex')),
        upper: fc.array(fc.boolean(), { minLength: 32, maxLength: 32 }),
        dashes: fc.oneof(
          { weight: 4, arbitrary: fc.constant('all') },
          { weight: 2, arbitrary: fc.constant('none') },
          { weight: 1, arbitrary: fc.constantFrom('drop-one', 'move-one') },
        ),
        which: fc.nat(3),
        wrap: fc.constantFrom('', '{}', 'urn:uuid:', 'URN:UUID:', '{', '}', 'urn:uuid:{}'),
        stray: fc.option(fc.constantFrom(' ', '-', '0', 'g', '\t', '}', '{'), { nil: undefined, freq: 2 }),
        strayAt: fc.nat(46),
      })
      .map((s) => {
        const hex = [...s.hex].map((c, i) => (s.upper[i] ? c.toUpperCase() : c)).join('');
        const cuts = [8, 12, 16, 20];
        if (s.dashes === 'drop-one') cuts.splice(s.which, 1);
        if (s.dashes === 'move-one') cuts[s.which] = (cuts[s.which] as number) + 1;
        let body = hex;
        if (s.dashes !== 'none')
          for (const c of [...cuts].reverse()) body = `${body.slice(0, c)}-${body.slice(c)}`;
        let form =
          s.wrap === '{}' || s.wrap === 'urn:uuid:{}'
            ? `${s.wrap.slice(0, -1)}${body}}`
            : s.wrap === '}'
              ? `${body}}`
              : `${s.wrap}${body}`;
        if (s.stray !== undefined) {
          const at = s.strayAt % (form.length + 1);
          form = `${form.slice(0, at)}${s.stray}${form.slice(at)}`;
        }
        return form;
      });
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(spelling, async (form) => {
        const [lib, ours] = await Promise.all([libsignalTakes(form), weTake(form)]);
        expect(ours, form).toEqual(lib);
        if (lib.ok) accepted++;
      }),
      { numRuns: 300 },
    );
    // The generator reaches both answers (a property that only ever sees refusals proves little).
    expect(accepted).toBeGreaterThan(20);
  });
});
