// Shared by the scale benches: a forced GC (for before/after memory), CPU + wall timing of a phase,
// the sizes to run (small in the smoke run) and the providers they run on.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type CryptoProvider, platformProvider } from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';

setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

/** JS heap + ArrayBuffer backing stores after a full GC: what a store's records really hold. */
export function liveBytes(): number {
  collect();
  collect();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

export interface Timed {
  readonly wallMs: number;
  readonly cpuMs: number;
}

/** Wall and process CPU time of one phase. */
export async function timed(phase: () => Promise<void>): Promise<Timed> {
  const c = process.cpuUsage();
  const t = performance.now();
  await phase();
  const wallMs = performance.now() - t;
  const u = process.cpuUsage(c);
  return { wallMs, cpuMs: (u.user + u.system) / 1000 };
}

/** `BENCH_SMOKE=1`: the same code on a hundredth of the work. */
export function sizes(full: readonly number[]): number[] {
  return process.env['BENCH_SMOKE'] === '1' ? full.map((n) => Math.max(2, n / 100)) : [...full];
}

/** The default provider and the fastest; noble alone would take minutes at 10,000 sessions. */
export const scaleProviders: ReadonlyArray<[string, CryptoProvider]> = [
  ['platform', platformProvider],
  ['node', nodeProvider],
];

export const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
