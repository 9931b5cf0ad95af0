// Property: whatever Alice links and unlinks between Bob's sends, each send ends up accepted for
// exactly Alice's current devices, every one of them reads it, and an unlinked device gets nothing.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ALICE, BOB, type Device, TestRelay, text } from './devices-relay.js';

type Op = { kind: 'link' } | { kind: 'unlink'; pick: number } | { kind: 'send' };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.constant<Op>({ kind: 'link' }),
  fc.nat({ max: 5 }).map<Op>((pick) => ({ kind: 'unlink', pick })),
  fc.constant<Op>({ kind: 'send' }),
);

describe('fan-out follows any sequence of device changes', () => {
  it('delivers to exactly the current devices, never to unlinked ones', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 7 }), async (ops) => {
        const relay = new TestRelay();
        const bob = await relay.addDevice(BOB);
        const primary = await relay.addDevice(ALICE);
        const identity = await primary.party.store.getIdentityKeyPair();
        const linked: Device[] = [primary];
        const unlinked: Device[] = [];
        let n = 0;
        for (const o of [...ops, { kind: 'send' } as Op]) {
          if (o.kind === 'link' && linked.length < 6) linked.push(await relay.addDevice(ALICE, identity));
          else if (o.kind === 'unlink' && linked.length > 1) {
            const [gone] = linked.splice(1 + (o.pick % (linked.length - 1)), 1) as [Device];
            relay.unlink(ALICE, gone.party.deviceId);
            unlinked.push(gone);
          } else if (o.kind === 'send') {
            const body = `message ${++n}`;
            const result = await bob.fanout.send(ALICE, text(body), relay.deliverFrom(bob.party.address));
            expect(result.accounts[0]?.status).toBe('sent');
            const current = linked.map((d) => d.party.deviceId).sort((a, b) => a - b);
            expect(result.accounts[0]?.devices.map((a) => a.deviceId)).toEqual(current);
            for (const d of linked) expect(await d.read()).toEqual([body]);
          }
        }
        for (const d of unlinked) expect(d.inbox).toEqual([]);
      }),
      { numRuns: 25 },
    );
  });
});
