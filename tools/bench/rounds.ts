// The shared loop of the benches that time every (operation, implementation) pair in interleaved
// rounds: each round is one tinybench run over every task, so ours and libsignal's are measured at
// the same moments on a noisy machine; the table shows the median of the round medians and our
// ratio to libsignal-client in the same run.
import { cpus, totalmem } from 'node:os';
import { Bench } from 'tinybench';
import { emitGrid } from './emit.js';

type AddTask = (name: string, fn: () => unknown, opts?: { beforeEach?: () => Promise<void> | void }) => void;

/** Runs `rounds` rounds; `addTasks` adds one task per `${op}|${label}` name. Returns the per-task p50s. */
export async function runRounds(
  rounds: number,
  timeMs: number,
  addTasks: (add: AddTask) => Promise<void> | void,
): Promise<Map<string, number[]>> {
  const samples = new Map<string, number[]>();
  for (let round = 0; round < rounds; round++) {
    // tinybench also runs at least 64 iterations (16 warm-up) per task: with the 4 MiB parse that made
    // the smoke run 144 s. A smoke run (BENCH_SMOKE) only shows that every task runs: once each.
    const once = process.env['BENCH_SMOKE'] === '1' ? { iterations: 1, warmupIterations: 0 } : {};
    const bench = new Bench({ time: timeMs, warmupTime: Math.min(300, timeMs), throws: true, ...once });
    await addTasks((name, fn, opts) => bench.add(name, fn, opts));
    await bench.run();
    for (const t of bench.tasks) {
      const r = t.result;
      if (r.state !== 'completed') throw new Error(`${t.name}: ${r.state}`);
      const list = samples.get(t.name) ?? [];
      list.push(r.latency.p50);
      samples.set(t.name, list);
    }
  }
  return samples;
}

const median = (xs: readonly number[]) =>
  xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const shown = (ms: number) => (ms >= 10 ? `${ms.toFixed(1)} ms` : `${(ms * 1000).toFixed(0)} µs`);

/**
 * Prints the markdown table (one row per op, one column per label, ratios to `lib`) and emits the
 * rows for the root summary (`BENCH_JSON`).
 */
export function printRoundsTable(opts: {
  readonly pkg: string;
  readonly lib: string;
  readonly ops: readonly string[];
  readonly labels: readonly string[];
  readonly samples: ReadonlyMap<string, readonly number[]>;
  readonly rounds: number;
  readonly timeMs: number;
}): void {
  const { pkg, lib, ops, labels, samples, rounds, timeMs } = opts;
  const med = (op: string, label: string) => {
    const xs = samples.get(`${op}|${label}`);
    if (xs === undefined) throw new Error(`no samples for ${op}|${label}`);
    return median(xs);
  };
  console.log(
    `\n@e2ee-kit/${pkg} vs ${lib} — ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ` +
      `${cpus()[0]?.model ?? 'unknown CPU'} × ${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; ` +
      `median of ${rounds} round medians, ${timeMs} ms per task per round\n`,
  );
  console.log(`| operation | ${labels.join(' | ')} |`);
  console.log(`|---|${labels.map(() => '---:').join('|')}|`);
  for (const op of ops) {
    const libMs = med(op, lib);
    const cells = labels.map((label) => {
      const m = med(op, label);
      return label === lib ? shown(m) : `${shown(m)} (${(m / libMs).toFixed(2)}×)`;
    });
    console.log(`| ${op} | ${cells.join(' | ')} |`);
  }
  console.log('\n(×) = our median ÷ libsignal-client median in this run; below 1 is faster than libsignal.');
  emitGrid(pkg, ops, labels, med, rounds);
}
