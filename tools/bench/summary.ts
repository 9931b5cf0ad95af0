// The benchmark rows of every package as Markdown: one table of operations (ours on each provider,
// libsignal-client, the pure-JS libsignal, other rivals) and one of scale rows. Ratios are
// libsignal-client's time ÷ ours (higher is better), on CPU time where both rows have it.
import { type BenchRow, LIBSIGNAL_CLIENT, LIBSIGNAL_JS } from './emit.js';

export const MAIN_PROVIDERS = ['noble', 'platform', 'node'] as const;

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '–';
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  if (ms >= 1) return `${ms.toFixed(2)} ms`;
  return `${(ms * 1000).toFixed(ms >= 0.01 ? 0 : 1)} µs`;
}

/** The time a row is compared on: CPU when measured, else wall clock. */
export const timeOf = (r: BenchRow): number => r.cpuMs ?? r.medianMs;

/** libsignal-client's time ÷ this row's, on the same clock; undefined without a baseline. */
export function ratioOf(r: BenchRow, base: BenchRow | undefined): number | undefined {
  if (!base || base === r) return undefined;
  const cpu = r.cpuMs !== undefined && base.cpuMs !== undefined;
  return cpu ? base.cpuMs! / r.cpuMs! : base.medianMs / r.medianMs;
}

export const fmtRatio = (x: number | undefined) => (x === undefined ? '' : ` (${x.toFixed(2)}×)`);

export interface CaseGroup {
  readonly package: string;
  readonly case: string;
  readonly rows: readonly BenchRow[];
  readonly baseline: BenchRow | undefined;
}

/** Rows grouped by (package, case), in the order the benches ran them. */
export function groupCases(rows: readonly BenchRow[]): CaseGroup[] {
  const groups = new Map<string, BenchRow[]>();
  for (const r of rows) {
    const k = `${r.package}\u0000${r.case}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  return [...groups.values()].map((g) => ({
    package: g[0]!.package,
    case: g[0]!.case,
    rows: g,
    baseline: g.find((r) => r.impl === LIBSIGNAL_CLIENT),
  }));
}

/** A label for a row outside the fixed columns: a provider variant or another rival. */
export const labelOf = (r: BenchRow) => (r.impl === 'e2ee-kit' ? `e2ee-kit (${r.provider})` : r.impl);

const cell = (r: BenchRow | undefined, base: BenchRow | undefined) =>
  r ? `${fmtMs(timeOf(r))}${fmtRatio(ratioOf(r, base))}` : '';

function isMain(r: BenchRow): boolean {
  if (r.impl === LIBSIGNAL_CLIENT || r.impl === LIBSIGNAL_JS) return true;
  return r.impl === 'e2ee-kit' && (MAIN_PROVIDERS as readonly string[]).includes(r.provider ?? '');
}

export function operationsTable(rows: readonly BenchRow[]): string {
  const out = [
    '| package | case | e2ee-kit noble | e2ee-kit platform | e2ee-kit node | libsignal-client | pure-JS `libsignal` | other |',
    '|---|---|---:|---:|---:|---:|---:|---|',
  ];
  for (const g of groupCases(rows.filter((r) => r.package !== 'scale'))) {
    const ours = (p: string) => g.rows.find((r) => r.impl === 'e2ee-kit' && r.provider === p);
    const other = g.rows
      .filter((r) => !isMain(r))
      .map((r) => `${labelOf(r)}: ${cell(r, g.baseline)}`)
      .join('<br>');
    out.push(
      `| ${g.package} | ${g.case} | ${MAIN_PROVIDERS.map((p) => cell(ours(p), g.baseline)).join(' | ')} | ` +
        `${cell(g.baseline, undefined)} | ${cell(
          g.rows.find((r) => r.impl === LIBSIGNAL_JS),
          g.baseline,
        )} | ${other} |`,
    );
  }
  return out.join('\n');
}

export function scaleTable(rows: readonly BenchRow[]): string {
  const out = [
    '| case | implementation | wall | CPU | vs libsignal-client | measured |',
    '|---|---|---:|---:|---:|---|',
  ];
  for (const g of groupCases(rows.filter((r) => r.package === 'scale'))) {
    for (const r of g.rows) {
      const metrics = Object.entries(r.metrics ?? {})
        .filter(([, v]) => v !== '')
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      const ratio = ratioOf(r, g.baseline);
      out.push(
        `| ${g.case} | ${labelOf(r)} | ${fmtMs(r.medianMs)} | ${r.cpuMs === undefined ? '' : fmtMs(r.cpuMs)} | ` +
          `${ratio === undefined ? '' : `${ratio.toFixed(2)}×`} | ${metrics} |`,
      );
    }
  }
  return out.join('\n');
}
