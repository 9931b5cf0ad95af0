// SimulatedNetwork (./testing) and a conversation over a lossy, reordering, duplicating network.
import { DuplicateMessageError, platformProvider } from '@e2ee-kit/core';
import type { EncryptedMessage } from '@e2ee-kit/ratchet';
import { SimulatedNetwork } from '@e2ee-kit/ratchet/testing';
import { describe, expect, it } from 'vitest';
import { establishedPair, fromUtf8, utf8 } from './helpers.js';

describe('SimulatedNetwork', () => {
  it('drops and duplicates at about the given rates, deterministically per seed', () => {
    const run = (seed: string) => {
      const net = new SimulatedNetwork<number>({ seed, dropRate: 0.2, duplicateRate: 0.2, reorderWindow: 3 });
      for (let i = 0; i < 400; i++) net.send('a', 'b', i);
      const pending = net.pending('b');
      return { out: net.deliver('b'), stats: { ...net.stats }, pending, after: net.pending() };
    };
    const { out, stats, pending, after } = run('s1');
    expect(run('s1').out.map((e) => e.message)).toEqual(out.map((e) => e.message));
    expect(run('s2').out.map((e) => e.message)).not.toEqual(out.map((e) => e.message));
    expect(stats.sent).toBe(400);
    expect(stats.dropped).toBeGreaterThan(40);
    expect(stats.duplicated).toBeGreaterThan(30);
    expect(pending).toBe(400 - stats.dropped + stats.duplicated);
    expect(out.length).toBe(pending);
    expect(after).toBe(0);
    expect(out.filter((e) => e.duplicate).length).toBe(stats.duplicated);
  });

  it('moves no message more than reorderWindow places', () => {
    const net = new SimulatedNetwork<number>({ seed: 'w', reorderWindow: 3 });
    for (let i = 0; i < 500; i++) net.send('a', 'b', i);
    const order = net.deliver('b').map((e) => e.message);
    expect(order.slice().sort((x, y) => x - y)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    let inversions = 0;
    for (let i = 0; i < order.length; i++) {
      for (let j = i + 1; j < order.length; j++) {
        const d = (order[i] as number) - (order[j] as number);
        if (d > 0) {
          inversions++;
          expect(d).toBeLessThanOrEqual(3);
        }
      }
    }
    expect(inversions).toBeGreaterThan(50);
  });

  it('rejects bad options', () => {
    expect(() => new SimulatedNetwork({ dropRate: 2 })).toThrow(RangeError);
    expect(() => new SimulatedNetwork({ reorderWindow: -1 })).toThrow(RangeError);
  });

  it('a conversation over it: every delivered message decrypts exactly once, duplicates are refused', async () => {
    const p = await establishedPair(platformProvider);
    const net = new SimulatedNetwork<{ m: EncryptedMessage; text: string }>({
      seed: 'chat',
      dropRate: 0.1,
      duplicateRate: 0.15,
      reorderWindow: 2,
    });
    const seen = new Set<string>();
    let duplicates = 0;
    for (let round = 0; round < 12; round++) {
      const [from, to, cipher, name] =
        round % 3 === 2 ? [p.b, p.a, 'bob', 'alice'] : [p.a, p.b, 'alice', 'bob'];
      for (let i = 0; i < 4; i++) {
        const text = `${cipher}-${round}-${i}`;
        net.send(cipher, name, { m: await from.encrypt(utf8(text)), text });
      }
      for (const e of net.deliver(name)) {
        try {
          const out = await to.decrypt(e.message.m);
          expect(fromUtf8(out.plaintext)).toBe(e.message.text);
          expect(seen.has(e.message.text)).toBe(false);
          seen.add(e.message.text);
        } catch (err) {
          expect(err).toBeInstanceOf(DuplicateMessageError);
          expect(seen.has(e.message.text)).toBe(true);
          duplicates++;
        }
      }
    }
    expect(seen.size).toBe(net.stats.sent - net.stats.dropped);
    expect(duplicates).toBe(net.stats.duplicated);
  });
});
