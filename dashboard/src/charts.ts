// Inline SVG charts. Each is an image with a title and a description for assistive
// technologies, and each view also shows the same figures as a table; colours keep at least
// 3:1 against the white background (WCAG 1.4.11) and white labels on them at least 4.5:1.
import { svg } from './dom';
import { num } from './i18n';

/** Tier 0–3 fills. */
export const TIER_COLOURS = ['#4b5563', '#b45309', '#1d4ed8', '#047857'];
/** CRCN domain 1–5 fills. */
export const DOMAIN_COLOURS = ['#b45309', '#047857', '#1d4ed8', '#b91c1c', '#6d28d9'];

let ids = 0;

function frame(width: number, height: number, title: string, desc: string): SVGElement {
  const id = `c${++ids}`;
  const root = svg('svg', {
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-labelledby': `${id}t ${id}d`,
    class: 'chart',
  });
  root.append(svg('title', { id: `${id}t` }, title), svg('desc', { id: `${id}d` }, desc));
  return root;
}

export interface AxisCounts {
  label: string;
  tiers: number[]; // count per tier 0..3
}

/** One horizontal bar per axis, split by tier. */
export function tiersPerAxis(rows: AxisCounts[], title: string, desc: string, tierLabel: (n: number) => string): SVGElement {
  // Each axis's title above its bar: the grid's titles are long, and a side column would cut them.
  const barWidth = 660;
  const rowHeight = 56;
  const top = 34;
  const height = top + rows.length * rowHeight;
  const root = frame(barWidth, height, title, desc);
  TIER_COLOURS.forEach((colour, tier) => {
    const x = tier * 110;
    root.append(
      svg('rect', { x, y: 6, width: 14, height: 14, fill: colour, rx: 2 }),
      svg('text', { x: x + 20, y: 18, class: 'legend' }, tierLabel(tier)),
    );
  });
  rows.forEach((row, i) => {
    const y = top + i * rowHeight;
    const total = row.tiers.reduce((a, b) => a + b, 0);
    root.append(svg('text', { x: 0, y: y + 14, class: 'axis-label' }, row.label));
    let x = 0;
    row.tiers.forEach((count, tier) => {
      if (count === 0 || total === 0) return;
      const w = (count / total) * barWidth;
      root.append(svg('rect', { x, y: y + 20, width: w, height: 26, fill: TIER_COLOURS[tier] }, svg('title', {}, `${row.label} — ${tierLabel(tier)} : ${num(count)}`)));
      if (w >= 18) root.append(svg('text', { x: x + w / 2, y: y + 38, 'text-anchor': 'middle', class: 'bar-label' }, num(count)));
      x += w;
    });
  });
  return root;
}

export interface Wedge {
  code: string;
  domain: number; // 1..5
  level: number;
  target?: number;
}

/** Pix's "rosace": 16 wedges, one per competence, whose radius is the level (0–8). */
export function radial(wedges: Wedge[], title: string, desc: string): SVGElement {
  const size = 420;
  const c = size / 2;
  const r = 160;
  const root = frame(size, size, title, desc);
  for (let ring = 1; ring <= 8; ring++) {
    root.append(svg('circle', { cx: c, cy: c, r: (ring / 8) * r, fill: 'none', stroke: '#d1d5db', 'stroke-width': ring % 2 === 0 ? 1 : 0.5 }));
  }
  const step = (2 * Math.PI) / wedges.length;
  const point = (angle: number, radius: number) => [c + radius * Math.sin(angle), c - radius * Math.cos(angle)];
  const arc = (from: number, to: number, radius: number) => {
    const [x0, y0] = point(from, radius);
    const [x1, y1] = point(to, radius);
    return `M ${c} ${c} L ${x0.toFixed(2)} ${y0.toFixed(2)} A ${radius} ${radius} 0 0 1 ${x1.toFixed(2)} ${y1.toFixed(2)} Z`;
  };
  wedges.forEach((w, i) => {
    const from = i * step + 0.02;
    const to = (i + 1) * step - 0.02;
    const colour = DOMAIN_COLOURS[w.domain - 1] ?? '#4b5563';
    if (w.level > 0) {
      root.append(svg('path', { d: arc(from, to, (Math.min(w.level, 8) / 8) * r), fill: colour }, svg('title', {}, `${w.code} : ${num(w.level)}`)));
    }
    if (w.target !== undefined && w.target > 0) {
      const [x0, y0] = point(from, (w.target / 8) * r);
      const [x1, y1] = point(to, (w.target / 8) * r);
      const radius = (w.target / 8) * r;
      root.append(
        svg('path', {
          d: `M ${x0.toFixed(2)} ${y0.toFixed(2)} A ${radius} ${radius} 0 0 1 ${x1.toFixed(2)} ${y1.toFixed(2)}`,
          fill: 'none',
          stroke: '#111827',
          'stroke-width': 2.5,
          'stroke-dasharray': '4 3',
        }),
      );
    }
    const [lx, ly] = point(i * step + step / 2, r + 22);
    root.append(svg('text', { x: lx.toFixed(1), y: (ly + 5).toFixed(1), 'text-anchor': 'middle', class: 'wedge-label', fill: colour }, w.code));
  });
  return root;
}

/** A step line of one value over successive points. */
export function steps(values: number[], title: string, desc: string): SVGElement {
  const width = 640;
  const height = 180;
  const pad = 32;
  const root = frame(width, height, title, desc);
  const max = Math.max(1, ...values);
  const x = (i: number) => pad + (i / Math.max(1, values.length - 1)) * (width - 2 * pad);
  const y = (v: number) => height - pad - (v / max) * (height - 2 * pad);
  root.append(
    svg('line', { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad, stroke: '#6b7280' }),
    svg('line', { x1: pad, y1: pad, x2: pad, y2: height - pad, stroke: '#6b7280' }),
    svg('text', { x: pad - 6, y: y(max) + 4, 'text-anchor': 'end', class: 'legend' }, num(max)),
    svg('text', { x: pad - 6, y: height - pad + 4, 'text-anchor': 'end', class: 'legend' }, '0'),
  );
  let d = '';
  values.forEach((v, i) => {
    d += i === 0 ? `M ${x(i).toFixed(1)} ${y(v).toFixed(1)}` : ` H ${x(i).toFixed(1)} V ${y(v).toFixed(1)}`;
  });
  if (values.length > 0) root.append(svg('path', { d, fill: 'none', stroke: '#1d4ed8', 'stroke-width': 2.5 }));
  return root;
}
