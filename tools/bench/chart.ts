// The summary as a hand-written SVG: for every case with a libsignal-client row, one bar per other
// implementation showing libsignal-client's time ÷ its time on a log axis (right of 1× = faster).
import type { BenchRow } from './emit.js';
import { groupCases, labelOf, ratioOf } from './summary.js';

const WIDTH = 980;
const LABEL_W = 430;
const PLOT_X = LABEL_W + 10;
const PLOT_W = WIDTH - PLOT_X - 90;
const BAR_H = 11;
const GAP = 3;
const HEAD_H = 18;
const MIN_LOG = -2; // 0.01×
const MAX_LOG = 2; // 100×
const TICKS = [0.01, 0.03, 0.1, 0.33, 1, 3, 10, 30, 100];

const COLORS: ReadonlyArray<[(label: string) => boolean, string]> = [
  [(l) => l === 'e2ee-kit (noble)', '#8e44ad'],
  [(l) => l === 'e2ee-kit (platform)', '#2e86de'],
  [(l) => l === 'e2ee-kit (node)', '#27ae60'],
  [(l) => l.startsWith('e2ee-kit'), '#74b9ff'],
  [(l) => l.startsWith('libsignal (pure JS'), '#e67e22'],
  [() => true, '#95a5a6'],
];
const colorOf = (label: string) => COLORS.find(([match]) => match(label))![1];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
const xOf = (ratio: number) => {
  const l = Math.min(MAX_LOG, Math.max(MIN_LOG, Math.log10(ratio)));
  return PLOT_X + ((l - MIN_LOG) / (MAX_LOG - MIN_LOG)) * PLOT_W;
};

export function chartSvg(rows: readonly BenchRow[], subtitle: string): string {
  const body: string[] = [];
  let y = 74;
  for (const g of groupCases(rows)) {
    if (!g.baseline) continue;
    const bars = g.rows.flatMap((r) => {
      const ratio = ratioOf(r, g.baseline);
      return ratio === undefined ? [] : [{ label: labelOf(r), ratio }];
    });
    if (bars.length === 0) continue;
    body.push(`<text x="4" y="${y + 12}" class="case">${esc(clip(`${g.package} · ${g.case}`, 140))}</text>`);
    y += HEAD_H;
    for (const b of bars) {
      const x0 = xOf(1);
      const x1 = xOf(b.ratio);
      const [from, to] = x1 >= x0 ? [x0, x1] : [x1, x0];
      body.push(
        `<text x="${LABEL_W}" y="${y + BAR_H - 2}" class="impl">${esc(clip(b.label, 48))}</text>`,
        `<rect x="${from.toFixed(1)}" y="${y}" width="${Math.max(1, to - from).toFixed(1)}" height="${BAR_H}" fill="${colorOf(b.label)}"/>`,
        `<text x="${(Math.max(x0, x1) + 4).toFixed(1)}" y="${y + BAR_H - 2}" class="val">${b.ratio.toFixed(2)}×</text>`,
      );
      y += BAR_H + GAP;
    }
    y += 4;
  }
  const height = y + 10;
  const grid = TICKS.map((t) => {
    const x = xOf(t).toFixed(1);
    return (
      `<line x1="${x}" y1="66" x2="${x}" y2="${height - 6}" class="${t === 1 ? 'one' : 'grid'}"/>` +
      `<text x="${x}" y="62" class="tick">${t}×</text>`
    );
  });
  const legend = [
    ['e2ee-kit (noble)', 'e2ee-kit noble'],
    ['e2ee-kit (platform)', 'platform'],
    ['e2ee-kit (node)', 'node'],
    ['e2ee-kit (x)', 'other provider'],
    ['libsignal (pure JS', 'pure-JS libsignal'],
    ['?', 'other'],
  ].map(
    ([key, text], i) =>
      `<rect x="${4 + i * 112}" y="38" width="10" height="10" fill="${colorOf(key!)}"/>` +
      `<text x="${4 + i * 112 + 13}" y="47" class="leg">${esc(text!)}</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, sans-serif" role="img" aria-labelledby="title"><title id="title">e2ee-kit benchmarks: libsignal-client time ÷ ours, per case and implementation</title>
<style>
.case { font-size: 12px; font-weight: 600; fill: #222; }
.impl { font-size: 10px; fill: #444; text-anchor: end; }
.leg { font-size: 10px; fill: #444; }
.val { font-size: 10px; fill: #222; }
.tick { font-size: 10px; fill: #666; text-anchor: middle; }
.grid { stroke: #ddd; stroke-width: 1; }
.one { stroke: #c0392b; stroke-width: 1.5; }
.title { font-size: 14px; font-weight: 700; fill: #111; }
.sub { font-size: 10px; fill: #555; }
</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="4" y="18" class="title">libsignal-client time ÷ ours (log scale; right of the red line = faster than libsignal-client)</text>
<text x="4" y="32" class="sub">${esc(subtitle)}</text>
${legend.join('\n')}
${grid.join('\n')}
${body.join('\n')}
</svg>
`;
}
