// Distribution id strings in the forms libsignal-client takes. Its `uuid.parse` is the Rust `uuid`
// crate's parser: hyphenated, `{hyphenated}`, `urn:uuid:hyphenated` or 32 hex digits, hex digits in
// either case, nothing else (no whitespace, no upper-case `URN:`, no braces around the simple form).
// The table is what libsignal-client 0.103.0 answers (checked live in
// interop/test/sender-keys-distribution-id.test.ts). Every accepted spelling names the same group:
// one record, one chain, one lock.
import { utf8 } from '@e2ee-kit/core';
import { GroupCipher, normalizeDistributionId, SenderKeyMessage } from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';
import { describe, expect, it } from 'vitest';

const canonical = '0123abcd-4567-89ab-cdef-0123456789ab';
const upper = canonical.toUpperCase();
const simple = canonical.replace(/-/g, '');
const alice = { name: 'alice', deviceId: 1 };

const accepted: readonly string[] = [
  canonical,
  upper,
  '0123ABCD-4567-89ab-CDEF-0123456789aB',
  `{${canonical}}`,
  `{${upper}}`,
  simple,
  simple.toUpperCase(),
  `urn:uuid:${canonical}`,
  `urn:uuid:${upper}`,
];

const refused: readonly string[] = [
  '',
  `URN:UUID:${canonical}`,
  `urn:UUID:${canonical}`,
  `urn:uuid:${simple}`,
  `urn:uuid:{${canonical}}`,
  `{urn:uuid:${canonical}}`,
  `{${simple}}`,
  `{${canonical}`,
  `${canonical}}`,
  ` ${canonical}`,
  `${canonical} `,
  `${canonical}\n`,
  `${canonical}\u0000`,
  '0123abcd4567-89ab-cdef-0123456789ab',
  '0123abcd-4567-89ab-cdef0123456789ab',
  `${canonical}-`,
  '0123abcd-4567-89ab-cdef-0123456789a',
  '0123abcd-4567-89ab-cdef-0123456789ag',
  '0123abcd_4567_89ab_cdef_0123456789ab',
  '+123abcd-4567-89ab-cdef-0123456789ab',
  '\uff10123abcd-4567-89ab-cdef-0123456789ab', // a full-width zero
  `${simple}0`,
  'group-1',
];

describe('normalizeDistributionId: libsignal’s forms, canonical out', () => {
  it.each(accepted)('accepts %j as the canonical lower-case hyphenated id', (form) => {
    expect(normalizeDistributionId(form)).toBe(canonical);
  });

  it.each(refused)('refuses %j with a RangeError', (form) => {
    expect(() => normalizeDistributionId(form)).toThrow(RangeError);
  });

  it('every accepted spelling is the same group: one record, one chain, one message counter', async () => {
    const store = new InMemorySenderKeyStore();
    const sender = new GroupCipher(store);
    const receiver = new GroupCipher(new InMemorySenderKeyStore());
    const skdm = await sender.createDistributionMessage(alice, `{${upper}}`);
    expect(skdm.distributionId).toBe(canonical);
    await receiver.processDistributionMessage(alice, skdm.serialize());
    for (const [i, form] of accepted.entries()) {
      const wire = await sender.encrypt(alice, form, utf8(`m${i}`));
      const skm = SenderKeyMessage.deserialize(wire);
      expect(skm.distributionId).toBe(canonical);
      expect(skm.iteration).toBe(i);
      const got = await receiver.decrypt(alice, wire);
      expect(new TextDecoder().decode(got.plaintext)).toBe(`m${i}`);
    }
    expect(store.rawRecord(alice, canonical)).toBeDefined();
    const plan = await sender.prepareSend(alice, `urn:uuid:${canonical}`, [{ name: 'bob', deviceId: 1 }]);
    expect(plan.distributionId).toBe(canonical);
    expect(plan.rotation).toBeUndefined();
    expect(await sender.markDelivered(alice, simple, plan.chainId, plan.needsDistribution)).toBe(true);
    expect(await sender.keyHolders(alice, upper)).toEqual([{ name: 'bob', deviceId: 1 }]);
  });
});
