import { KeyedMutex } from '@e2ee-kit/core';
import { describe, expect, it } from 'vitest';

const tick = () => new Promise<void>((r) => setTimeout(r, 0));

describe('KeyedMutex', () => {
  it('runs calls for one key one at a time, in call order', async () => {
    const m = new KeyedMutex();
    const log: string[] = [];
    let running = 0;
    let maxRunning = 0;
    const job = (id: number, waits: number) =>
      m.run('k', async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        log.push(`start ${id}`);
        for (let i = 0; i < waits; i++) await tick();
        log.push(`end ${id}`);
        running--;
        return id;
      });
    const results = await Promise.all([job(1, 3), job(2, 0), job(3, 2), job(4, 1)]);
    expect(results).toEqual([1, 2, 3, 4]);
    expect(maxRunning).toBe(1);
    expect(log).toEqual(['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3', 'start 4', 'end 4']);
  });

  it('different keys run concurrently', async () => {
    const m = new KeyedMutex();
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const a = m.run('a', () => gate.then(() => 'a'));
    const b = await m.run('b', () => 'b'); // does not wait for 'a'
    expect(b).toBe('b');
    await tick();
    expect(m.activeKeys).toBe(1); // only 'a' is still busy
    release();
    expect(await a).toBe('a');
  });

  it('a failing call rejects its own promise and does not block the queue', async () => {
    const m = new KeyedMutex();
    const order: number[] = [];
    const first = m.run('k', async () => {
      order.push(1);
      throw new Error('boom');
    });
    const second = m.run('k', () => {
      order.push(2);
      return 2;
    });
    const syncThrow = m.run('k', () => {
      throw new TypeError('sync');
    });
    const third = m.run('k', () => 3);
    await expect(first).rejects.toThrow('boom');
    await expect(second).resolves.toBe(2);
    await expect(syncThrow).rejects.toThrow(TypeError);
    await expect(third).resolves.toBe(3);
    expect(order).toEqual([1, 2]);
  });

  it('a call queued while another runs starts only after it settles, even if queued from inside', async () => {
    const m = new KeyedMutex();
    const log: string[] = [];
    let inner: Promise<void> | undefined;
    await m.run('k', async () => {
      log.push('outer start');
      inner = m.run('k', () => {
        log.push('inner');
      });
      await tick();
      log.push('outer end');
    });
    await inner;
    expect(log).toEqual(['outer start', 'outer end', 'inner']);
  });

  it('releases idle keys (memory follows busy keys)', async () => {
    const m = new KeyedMutex();
    await Promise.all(Array.from({ length: 100 }, (_, i) => m.run(`key${i % 10}`, () => i)));
    await tick();
    expect(m.activeKeys).toBe(0);
  });

  it('holders that throw, on many keys: every waiter runs once, in order, and every key is released', async () => {
    const m = new KeyedMutex();
    const ran: string[] = [];
    const calls = Array.from({ length: 300 }, (_, i) => {
      const key = `key${i % 30}`;
      if (i % 3 === 1)
        return m.run(key, () => {
          ran.push(`${key}:${i}`);
          throw new TypeError('thrown synchronously');
        });
      return m.run(key, async () => {
        ran.push(`${key}:${i}`);
        await tick();
        if (i % 3 === 0) throw new Error(`fail ${i}`);
        return i;
      });
    });
    const settled = await Promise.allSettled(calls);
    expect(settled.filter((r) => r.status === 'rejected')).toHaveLength(200);
    expect(ran).toHaveLength(300);
    for (let k = 0; k < 30; k++) {
      const order = ran.filter((r) => r.startsWith(`key${k}:`)).map((r) => Number(r.split(':')[1]));
      expect(order).toEqual([...order].sort((a, b) => a - b));
    }
    await tick();
    expect(m.activeKeys).toBe(0);
  });

  it('refuses bad arguments with TypeError', () => {
    const m = new KeyedMutex();
    expect(() => m.run(1 as never, () => 1)).toThrow(TypeError);
    expect(() => m.run('k', 'x' as never)).toThrow(TypeError);
  });
});
