/**
 * Inline SVG built with DOM APIs (createElementNS), never from markup: the page runs under Trusted
 * Types (`require-trusted-types-for 'script'`, no policy allowed), so no string may reach innerHTML or
 * any other HTML sink — an injection bug then has no parser to reach.
 */
const SVG_NS = 'http://www.w3.org/2000/svg';

export type SvgChild = readonly [tag: string, attrs: Readonly<Record<string, string>>];

/** `<svg>` with `attrs` and the given shapes, each a tag and its attributes. */
export function svg(attrs: Readonly<Record<string, string>>, ...shapes: readonly SvgChild[]): SVGSVGElement {
  const root = document.createElementNS(SVG_NS, 'svg');
  for (const [k, v] of Object.entries(attrs)) root.setAttribute(k, v);
  for (const [tag, a] of shapes) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(a)) el.setAttribute(k, v);
    root.append(el);
  }
  return root;
}

/**
 * A QR code's modules (`modules[y][x]` true for dark, no quiet zone) as an SVG: white ground, one
 * path of dark squares, `quietZone` modules of margin; viewBox in modules, so it scales with CSS.
 */
export function qrSvg(modules: ReadonlyArray<ReadonlyArray<boolean>>, quietZone = 4): SVGSVGElement {
  const side = modules.length + 2 * quietZone;
  let d = '';
  modules.forEach((row, y) => {
    row.forEach((dark, x) => {
      if (dark) d += `M${x + quietZone} ${y + quietZone}h1v1h-1z`;
    });
  });
  return svg(
    { viewBox: `0 0 ${side} ${side}`, 'shape-rendering': 'crispEdges', role: 'img', 'aria-label': 'QR code' },
    ['rect', { width: '100%', height: '100%', fill: '#fff' }],
    ['path', { d, fill: '#000' }],
  );
}
