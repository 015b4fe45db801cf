/**
 * Inline SVG icons, built with DOM calls (no markup strings). All are decorative
 * (`aria-hidden`): the control or element around them carries the accessible name.
 */

const SVG_NS = 'http://www.w3.org/2000/svg';

interface IconSpec {
  viewBox: string;
  /** Filled paths. */
  fill?: string[];
  /** Stroked paths (round caps). */
  stroke?: string[];
  circles?: Array<[number, number, number]>;
}

const ICONS = {
  send: { viewBox: '0 0 24 24', fill: ['M3.4 20.4 21 12 3.4 3.6 3.4 10.1 15 12 3.4 13.9z'] },
  back: { viewBox: '0 0 24 24', stroke: ['M19 12H5', 'M11 18l-6-6 6-6'] },
  newChat: { viewBox: '0 0 24 24', stroke: ['M12 5v14', 'M5 12h14'] },
  group: {
    viewBox: '0 0 24 24',
    stroke: ['M2.5 19c.6-3.2 3-5 6-5s5.4 1.8 6 5', 'M15.5 14.2c2.6.2 4.5 1.9 5 4.8'],
    circles: [
      [8.5, 8.5, 3.2],
      [16, 8, 2.6],
    ],
  },
  settings: {
    viewBox: '0 0 24 24',
    stroke: ['M4 6h9', 'M17 6h3', 'M4 12h3', 'M11 12h9', 'M4 18h11', 'M19 18h1'],
    circles: [
      [15, 6, 2],
      [9, 12, 2],
      [17, 18, 2],
    ],
  },
  logout: { viewBox: '0 0 24 24', stroke: ['M9 4H6a2 2 0 0 0-2 2v12a2 2 0 0 0 2 2h3', 'M16 17l5-5-5-5', 'M21 12H9'] },
  info: { viewBox: '0 0 24 24', stroke: ['M12 11v6', 'M12 7.5v.01'], circles: [[12, 12, 9]] },
  search: { viewBox: '0 0 24 24', stroke: ['M20 20l-4.8-4.8'], circles: [[10.5, 10.5, 6.5]] },
  close: { viewBox: '0 0 24 24', stroke: ['M6 6l12 12', 'M18 6L6 18'] },
  down: { viewBox: '0 0 24 24', stroke: ['M6 9l6 6 6-6'] },
  star: { viewBox: '0 0 24 24', stroke: ['M12 3.5l2.6 5.3 5.9.9-4.3 4.1 1 5.8-5.2-2.7-5.2 2.7 1-5.8-4.3-4.1 5.9-.9z'] },
  attach: { viewBox: '0 0 24 24', stroke: ['M20 11.5l-7.8 7.8a5 5 0 0 1-7.1-7.1l8.5-8.5a3.4 3.4 0 0 1 4.8 4.8l-8.5 8.5a1.7 1.7 0 0 1-2.4-2.4l7.8-7.8'] },
  mic: { viewBox: '0 0 24 24', stroke: ['M12 3a3 3 0 0 0-3 3v6a3 3 0 0 0 6 0V6a3 3 0 0 0-3-3z', 'M5.5 11a6.5 6.5 0 0 0 13 0', 'M12 17.5V21'] },
  // Ticks and status, drawn for a 16 x 11 box like WhatsApp's.
  tick: { viewBox: '0 0 16 11', stroke: ['M1.5 5.8 4.8 9 10.8 1.8'] },
  doubleTick: { viewBox: '0 0 16 11', stroke: ['M1.5 5.8 4.8 9 10.8 1.8', 'M7.6 8.6l.5.4 6-7.2'] },
  clock: { viewBox: '0 0 16 16', stroke: ['M8 4.6V8l2.3 1.4'], circles: [[8, 8, 5.8]] },
  alert: { viewBox: '0 0 16 16', stroke: ['M8 4.5v4.2', 'M8 11.3v.01'], circles: [[8, 8, 6.5]] },
} satisfies Record<string, IconSpec>;

export type IconName = keyof typeof ICONS;

/** An `<svg>` icon sized by CSS (`.icon`, 1em by default). */
export function icon(name: IconName, className = ''): SVGSVGElement {
  const spec: IconSpec = ICONS[name];
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', spec.viewBox);
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', `icon icon-${name} ${className}`.trim());
  for (const d of spec.fill ?? []) {
    const path = document.createElementNS(SVG_NS, 'path');
    path.setAttribute('d', d);
    path.setAttribute('fill', 'currentColor');
    svg.appendChild(path);
  }
  for (const d of spec.stroke ?? []) {
    const path = document.createElementNS(SVG_NS, 'path');
    path.setAttribute('d', d);
    setStroke(path);
    svg.appendChild(path);
  }
  for (const [cx, cy, r] of spec.circles ?? []) {
    const circle = document.createElementNS(SVG_NS, 'circle');
    circle.setAttribute('cx', String(cx));
    circle.setAttribute('cy', String(cy));
    circle.setAttribute('r', String(r));
    setStroke(circle);
    svg.appendChild(circle);
  }
  return svg;
}

function setStroke(el: SVGElement): void {
  el.setAttribute('fill', 'none');
  el.setAttribute('stroke', 'currentColor');
  el.setAttribute('stroke-width', '1.7');
  el.setAttribute('stroke-linecap', 'round');
  el.setAttribute('stroke-linejoin', 'round');
}
