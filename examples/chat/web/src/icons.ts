/** Small inline SVG icons (no emoji: many systems, headless browsers among them, lack an emoji font). */
import { type SvgChild, svg } from './svg.js';

const ICONS: Record<'lock' | 'clock' | 'photo', { size: string; shapes: SvgChild[] }> = {
  photo: {
    size: '1.2em',
    shapes: [
      [
        'rect',
        {
          x: '1.5',
          y: '3',
          width: '13',
          height: '10',
          rx: '1.5',
          fill: 'none',
          stroke: 'currentColor',
          'stroke-width': '1.4',
        },
      ],
      ['circle', { cx: '5.5', cy: '6.5', r: '1.3', fill: 'currentColor' }],
      ['path', { d: 'M2.5 12l4-4 3 3 2-2 3 3', fill: 'none', stroke: 'currentColor', 'stroke-width': '1.4' }],
    ],
  },
  lock: {
    size: '1em',
    shapes: [
      ['rect', { x: '3', y: '7', width: '10', height: '8', rx: '1.5', fill: 'currentColor' }],
      ['path', { d: 'M5 7V5a3 3 0 0 1 6 0v2', fill: 'none', stroke: 'currentColor', 'stroke-width': '1.6' }],
    ],
  },
  clock: {
    size: '1em',
    shapes: [
      ['circle', { cx: '8', cy: '8', r: '6.2', fill: 'none', stroke: 'currentColor', 'stroke-width': '1.5' }],
      ['path', { d: 'M8 4.5V8l2.5 1.5', fill: 'none', stroke: 'currentColor', 'stroke-width': '1.5' }],
    ],
  },
};

export function icon(name: keyof typeof ICONS): HTMLElement {
  const el = document.createElement('span');
  el.className = 'icon';
  const { size, shapes } = ICONS[name];
  el.append(svg({ viewBox: '0 0 16 16', width: size, height: size, 'aria-hidden': 'true' }, ...shapes));
  return el;
}
