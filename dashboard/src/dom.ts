// A tiny element builder: every text goes in as a text node, never as HTML, so nothing the API
// returns (names, symptoms, evidence) can inject markup.

type Child = Node | string | number | null | undefined | false | Child[];
type Attrs = Record<string, string | number | boolean | null | undefined | ((e: Event) => void)>;

const SVG_NS = 'http://www.w3.org/2000/svg';

function fill(el: Element, attrs: Attrs, children: Child[]): void {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(name.replace(/^on/, ''), value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
}

function append(el: Element, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** An HTML element. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  fill(el, attrs, children);
  return el;
}

/** An SVG element. */
export function svg(tag: string, attrs: Attrs = {}, ...children: Child[]): SVGElement {
  const el = document.createElementNS(SVG_NS, tag) as SVGElement;
  fill(el, attrs, children);
  return el;
}

/** Replaces the content of `el`. */
export function put(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** A section with a heading (its `aria-labelledby`). */
let ids = 0;
export function section(title: string, ...children: Child[]): HTMLElement {
  const id = `s${++ids}`;
  return h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id }, title), ...children);
}

/** A table with a caption, header cells with `scope`, and rows. */
export function table(caption: string, head: string[], rows: Child[][], opts: { numeric?: number[]; hideCaption?: boolean } = {}): HTMLTableElement {
  const numeric = new Set(opts.numeric ?? []);
  return h(
    'table',
    {},
    h('caption', { class: opts.hideCaption ? 'sr-only' : null }, caption),
    h('thead', {}, h('tr', {}, head.map((c, i) => h('th', { scope: 'col', class: numeric.has(i) ? 'num' : null }, c)))),
    h(
      'tbody',
      {},
      rows.map((r) => h('tr', {}, r.map((c, i) => (i === 0 && typeof c === 'string' ? h('th', { scope: 'row' }, c) : h('td', { class: numeric.has(i) ? 'num' : null }, c))))),
    ),
  );
}

/** A message in a region, for loading, empty and error states. */
export function note(text: string, kind: 'info' | 'error' = 'info'): HTMLElement {
  return h('p', { class: `note ${kind}`, role: kind === 'error' ? 'alert' : null }, text);
}

/** Announces `text` to screen readers through the page's polite live region. */
export function announce(text: string): void {
  const region = document.getElementById('announcer');
  if (region) region.textContent = text;
}
