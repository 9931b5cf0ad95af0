import { expect, it } from 'vitest';
import { runStory } from '../scripts/story.js';

// The demo's story, asserted step by step (the demo itself prints the same run).
it('runs the demo story: 1:1, out-of-order, group, removal, safety numbers, re-install, restore', async () => {
  const lines: string[] = [];
  const facts = await runStory({
    reporter: {
      step: (t) => lines.push(t),
      server: (l) => lines.push(`relay: ${l}`),
      client: (who, l) => lines.push(`${who}: ${l}`),
    },
  });
  expect(facts.bobReadInOrder).toEqual(['three: bring the map', 'two: at noon', 'one: the usual place']);
  expect(facts.outOfOrderDelivery).toEqual([3, 2, 1]);
  expect(facts.groupCiphertextIdentical).toBe(true);
  expect(facts.carolRead).toEqual(['Table for three at noon!', 'I will book it.']);
  expect(facts.rotationAfterRemoval).toBe('member-removed');
  expect(facts.carolAfterRemoval).toMatch(/^cannot read it: missing sender key/);
  expect(facts.safetyNumberAlice).toMatch(/^\d{60}$/);
  expect(facts.safetyNumberAlice).toBe(facts.safetyNumberBob);
  expect(facts.firstVerification).toBe('match');
  expect(facts.afterReinstall).toBe('mismatch');
  expect(facts.sendBlockedUntilReverified).toBe(true);
  expect(facts.reverification).toBe('match');
  expect(facts.wrongPasswordRefused).toBe(true);
  expect(facts.restoredReadQueued).toBe('Are you still there?');
  expect(facts.bobReadFromRestored).toBe('Still here, on a new phone.');
  expect(facts.safetyNumberUnchangedAfterRestore).toBe(true);
  expect(facts.plaintextHitsInDatabase).toBe(0);
  expect(lines).toContain('alice: (your safety number with bob changed)');
});
