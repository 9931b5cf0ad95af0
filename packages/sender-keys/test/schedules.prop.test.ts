// fast-check: any delivery schedule (reorder, duplicate, drop), with rotations between bursts: every
// delivered message decrypts exactly once, repeats are duplicates, nothing else fails.
import { type Address, nobleProvider, utf8 } from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import { GroupCipher } from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore, SimulatedNetwork } from '@e2ee-kit/sender-keys/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const D = '7a7a7a7a-0000-4000-8000-00000000cafe';
const alice: Address = { name: 'alice', deviceId: 1 };
const members: Address[] = [
  { name: 'bob', deviceId: 1 },
  { name: 'carol', deviceId: 1 },
  { name: 'carol', deviceId: 2 },
];
const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe('delivery schedules', () => {
  it('every delivered message decrypts exactly once (bursts, rotations, per-receiver schedules)', async () => {
    await fc.assert(
      fc.asyncProperty(
        // bursts of 1..12 messages; after each burst the sender may rotate
        fc.array(fc.tuple(fc.integer({ min: 1, max: 12 }), fc.boolean()), { minLength: 1, maxLength: 4 }),
        // per receiver: a schedule of message indices (repeats = duplicates, absent = dropped)
        fc.array(fc.array(fc.nat(47), { maxLength: 70 }), { minLength: 3, maxLength: 3 }),
        async (bursts, schedules) => {
          const sender = new GroupCipher(new InMemorySenderKeyStore(), { provider: nodeProvider });
          const receivers = members.map(
            () => new GroupCipher(new InMemorySenderKeyStore(), { provider: nodeProvider }),
          );
          const wires: Uint8Array[] = [];
          for (const [count, rotate] of bursts) {
            const plan = await sender.prepareSend(alice, D, members);
            // distribution messages travel pairwise (reliable, in order), before the burst
            for (const [i, m] of members.entries()) {
              if (plan.needsDistribution.some((n) => n.name === m.name && n.deviceId === m.deviceId)) {
                await (receivers[i] as GroupCipher).processDistributionMessage(
                  alice,
                  plan.distributionMessage,
                );
              }
            }
            await sender.markDelivered(alice, D, plan.chainId, plan.needsDistribution);
            for (let k = 0; k < count; k++)
              wires.push(await sender.encrypt(alice, D, utf8(`m${wires.length}`)));
            if (rotate) await sender.rotate(alice, D);
          }
          for (const [r, schedule] of schedules.entries()) {
            const seen = new Set<number>();
            for (const raw of schedule) {
              const i = raw % wires.length;
              const outcome = await (receivers[r] as GroupCipher).tryDecrypt(alice, wires[i] as Uint8Array);
              if (seen.has(i)) {
                if (outcome.status !== 'duplicate') return false;
              } else {
                if (outcome.status !== 'decrypted' || text(outcome.plaintext) !== `m${i}`) return false;
                seen.add(i);
              }
            }
          }
          return true;
        },
      ),
      { numRuns: 60 },
    );
  });

  it('through the simulated relay (seeded drop / duplicate / reorder), on the noble provider', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1, maxLength: 8 }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        async (seed, drop, duplicate) => {
          const net = new SimulatedNetwork(seed, { drop, duplicate });
          const names = ['alice', 'bob', 'carol'];
          for (const n of names) net.join(n);
          const ciphers = new Map(
            names.map((n) => [n, new GroupCipher(new InMemorySenderKeyStore(), { provider: nobleProvider })]),
          );
          const alice1 = { name: 'alice', deviceId: 1 };
          const skdm = await ciphers.get('alice')!.createDistributionMessage(alice1, D);
          for (const n of ['bob', 'carol']) await ciphers.get(n)!.processDistributionMessage(alice1, skdm);
          for (let i = 0; i < 8; i++)
            net.send('alice', await ciphers.get('alice')!.encrypt(alice1, D, utf8(`n${i}`)));
          const firsts = new Map<string, Set<number>>();
          for (const d of net.deliver()) {
            const got = firsts.get(d.to) ?? new Set<number>();
            firsts.set(d.to, got);
            const outcome = await ciphers.get(d.to)!.tryDecrypt(alice1, d.message);
            if (got.has(d.sendIndex)) {
              if (outcome.status !== 'duplicate') return false;
            } else {
              if (outcome.status !== 'decrypted' || text(outcome.plaintext) !== `n${d.sendIndex}`)
                return false;
              got.add(d.sendIndex);
            }
          }
          return true;
        },
      ),
      { numRuns: 15 },
    );
  });

  it('the simulated relay is deterministic per seed and never delivers to the sender', () => {
    const run = (seed: string) => {
      const net = new SimulatedNetwork<number>(seed, { drop: 0.2, duplicate: 0.3 });
      for (const n of ['a', 'b', 'c']) net.join(n);
      for (let i = 0; i < 20; i++) net.send('a', i);
      return net.deliver().map((d) => `${d.to}:${d.message}`);
    };
    expect(run('s1')).toEqual(run('s1'));
    expect(run('s1')).not.toEqual(run('s2'));
    expect(run('s1').some((d) => d.startsWith('a:'))).toBe(false);
    expect(() => new SimulatedNetwork('x', { drop: 2 })).toThrow(RangeError);
  });
});
