// The one hook every benchmark calls at its end: when `BENCH_JSON=<file>` is set (the root runner,
// tools/bench/run.ts, sets it), the bench's results are appended to that file as JSON lines, one row
// per (case, implementation). Without it nothing happens, so a bench run alone prints only its table.
import { appendFileSync } from 'node:fs';

export const LIBSIGNAL_CLIENT = 'libsignal-client 0.103.0';
export const LIBSIGNAL_JS = 'libsignal (pure JS, npm v6)';

/** One measured (case, implementation) pair. */
export interface BenchRow {
  /** The package the bench belongs to (`ratchet`, `core`, …) or `scale` for the scale rows. */
  readonly package: string;
  readonly case: string;
  /** `e2ee-kit`, {@link LIBSIGNAL_CLIENT}, {@link LIBSIGNAL_JS} or another rival's name. */
  readonly impl: string;
  /** Our crypto provider (noble, platform, node, or a variant); absent for rivals. */
  readonly provider?: string;
  /** Median wall-clock time of one iteration. */
  readonly medianMs: number;
  /** Median process CPU time of one iteration, where the bench measures it. */
  readonly cpuMs?: number;
  /** Iterations (or rounds) behind the median. */
  readonly samples: number;
  /** Scale rows: the amount of work (e.g. 10000 sessions) and what else was measured. */
  readonly work?: number;
  readonly metrics?: Readonly<Record<string, string>>;
}

export type PackageRow = Omit<BenchRow, 'package'>;

/**
 * A bench's implementation label as a row's impl + provider: `e2ee-kit (node)` and a bare provider
 * name (`node`, `platform (all Web Crypto)`) are ours on that provider, `e2ee-kit` is ours on the
 * default, a label starting with `libsignal` is that rival.
 */
export function implOf(label: string): Pick<BenchRow, 'impl' | 'provider'> {
  const m = /^e2ee-kit \((.+)\)$/.exec(label);
  if (m) return { impl: 'e2ee-kit', provider: m[1]! };
  if (label === 'e2ee-kit') return { impl: 'e2ee-kit', provider: 'platform' };
  return label.startsWith('libsignal') ? { impl: label } : { impl: 'e2ee-kit', provider: label };
}

/** Appends the rows to `$BENCH_JSON` (no-op when unset). Call once, after the bench has printed. */
export function emitRows(pkg: string, rows: readonly PackageRow[]): void {
  const file = process.env['BENCH_JSON'];
  if (!file || rows.length === 0) return;
  appendFileSync(file, `${rows.map((r) => JSON.stringify({ package: pkg, ...r })).join('\n')}\n`);
}

/** For benches that time every case for every label: one row per (case, label) with its median. */
export function emitGrid(
  pkg: string,
  cases: readonly string[],
  labels: readonly string[],
  medianMs: (c: string, label: string) => number,
  samples: number,
): void {
  emitRows(
    pkg,
    cases.flatMap((c) => labels.map((l) => ({ case: c, ...implOf(l), medianMs: medianMs(c, l), samples }))),
  );
}
