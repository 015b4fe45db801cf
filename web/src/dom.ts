/**
 * Small DOM helpers. User content only ever becomes Text nodes (`h` children, `setText`): nothing
 * in the web client parses strings as HTML. Nor does anything set a `style` attribute (the
 * Content-Security-Policy allows no inline styles): styles come from styles.css, or from CSSOM
 * properties (`el.style.color = …`), which the policy allows.
 *
 * Text people chose (names, titles, messages) is shown isolated (`<bdi>`, or `dir="auto"` with
 * `unicode-bidi: isolate`), so a right-to-left run cannot reorder the app's own text around it.
 */
import type { Phrase } from './describe.ts';

type AttrValue = string | number | boolean | null | undefined;
type Handlers = { [K in keyof HTMLElementEventMap]?: (event: HTMLElementEventMap[K]) => void };

/** Attributes (set with setAttribute; `true` gives an empty attribute, false/null/undefined none) and listeners. */
export interface Props {
  on?: Handlers;
  [attribute: string]: AttrValue | Handlers;
}

export type Child = Node | string | number | null | undefined | false;

/**
 * Create an element.
 *
 * @example
 * h('button', { type: 'button', 'aria-label': 'Send', on: { click: send } }, icon('send'))
 */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name === 'on') continue;
    setAttr(el, name, value as AttrValue);
  }
  if (props.on !== undefined) {
    for (const [type, listener] of Object.entries(props.on)) {
      el.addEventListener(type, listener as EventListener);
    }
  }
  append(el, ...children);
  return el;
}

/** Append children (strings become Text nodes). */
export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
}

/** Set or remove one attribute. */
export function setAttr(el: Element, name: string, value: AttrValue): void {
  if (value === false || value === null || value === undefined) el.removeAttribute(name);
  else el.setAttribute(name, value === true ? '' : String(value));
}

/** Replace an element's content with plain text, only touching the DOM when it changes. */
export function setText(el: Node, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

/**
 * Text people chose, isolated from its surroundings: a `<bdi>` (direction from its own first
 * strong character, `unicode-bidi: isolate`).
 *
 * @example
 * h('p', {}, bidi(name), ' left the group')
 */
export function bidi(text: string, props: Props = {}): HTMLElement {
  return h('bdi', props, text);
}

const shownPhrases = new WeakMap<Element, string>();

/**
 * Replace an element's content with a phrase: the app's words as text, user-supplied parts each
 * in a `<bdi>`. Only touches the DOM when the phrase changed (`textContent` reads as one sentence).
 */
export function setPhrase(el: Element, phrase: Phrase): void {
  const key = JSON.stringify(phrase);
  if (shownPhrases.get(el) === key) return;
  shownPhrases.set(el, key);
  el.replaceChildren(...phrase.map((part) => (typeof part === 'string' ? document.createTextNode(part) : bidi(part.isolate))));
}

/** Replace an element's content with one isolated text (a name or a title). */
export function setIsolated(el: Element, text: string): void {
  setPhrase(el, [{ isolate: text }]);
}

/** Replace all children. */
export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, ...children);
}

/**
 * Keep `container`'s children in the order of `items`, one element per key: existing elements
 * are updated and moved only when out of place (focus and scroll survive), new ones created,
 * stale ones removed.
 */
export function reconcile<T>(
  container: Element,
  items: readonly T[],
  cache: Map<string, HTMLElement>,
  keyOf: (item: T) => string,
  create: (item: T) => HTMLElement,
  update: (el: HTMLElement, item: T, index: number) => void,
): void {
  const seen = new Set<string>();
  let cursor: ChildNode | null = container.firstChild;
  items.forEach((item, index) => {
    const key = keyOf(item);
    seen.add(key);
    let el = cache.get(key);
    if (el === undefined) {
      el = create(item);
      cache.set(key, el);
    }
    update(el, item, index);
    if (el === cursor) cursor = cursor.nextSibling;
    else container.insertBefore(el, cursor);
  });
  for (const [key, el] of cache) {
    if (!seen.has(key)) {
      el.remove();
      cache.delete(key);
    }
  }
}

/** Run `fn` once in the next animation frame, however often this is called before then. */
export function frameScheduler(fn: () => void): () => void {
  let scheduled = false;
  return () => {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      fn();
    });
  };
}

/** Options for {@link openDialog}. */
export interface DialogOptions {
  /** A string, or a node such as `bidi(groupTitle)` for a title someone chose. */
  title: Child;
  /** For tests and styling. */
  testId: string;
  content: Child[];
  onClose?: () => void;
}

/**
 * A modal `<dialog>`: focus is trapped inside, Escape closes it, and focus returns to where it
 * was. Returns the dialog; call `dialog.close()` to close it (it removes itself).
 */
export function openDialog(options: DialogOptions): HTMLDialogElement {
  const titleId = `dialog-title-${Math.random().toString(36).slice(2, 8)}`;
  const previous = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  const dialog = h(
    'dialog',
    { class: 'dialog', 'aria-labelledby': titleId, 'data-testid': options.testId },
    h(
      'header',
      { class: 'dialog-header' },
      h('h2', { id: titleId }, options.title),
      h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Close', title: 'Close', on: { click: () => dialog.close() } }, '✕'),
    ),
    h('div', { class: 'dialog-body' }, ...options.content),
  );
  dialog.addEventListener('close', () => {
    dialog.remove();
    options.onClose?.();
    if (previous?.isConnected) previous.focus();
  });
  document.body.appendChild(dialog);
  dialog.showModal();
  const first = dialog.querySelector<HTMLElement>('[autofocus], input, textarea');
  first?.focus();
  return dialog;
}

/** A labelled form field: `<label>` text above the control, with an optional hint. */
export function field(label: string, control: HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement, hint?: string): HTMLElement {
  const id = control.id === '' ? `field-${Math.random().toString(36).slice(2, 8)}` : control.id;
  control.id = id;
  const hintEl = hint === undefined ? null : h('p', { class: 'hint', id: `${id}-hint` }, hint);
  if (hintEl !== null) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hintEl);
}

/** An error line for a form (`role="alert"`, empty and hidden until set). */
export function errorLine(testId: string): { el: HTMLElement; show(text: string): void; clear(): void } {
  const el = h('p', { class: 'form-error', role: 'alert', 'data-testid': testId, hidden: true });
  return {
    el,
    show(text) {
      setText(el, text);
      el.hidden = false;
    },
    clear() {
      setText(el, '');
      el.hidden = true;
    },
  };
}

/** Show a button as working (disabled, with another label) or ready again. */
export function busy(button: HTMLButtonElement, on: boolean, label: string): void {
  button.disabled = on;
  button.textContent = label;
}

/** A titled block of a panel (settings): `<section>` labelled by its `<h3>`. */
export function section(title: string, testId: string, ...children: Child[]): HTMLElement {
  const id = `${testId}-title`;
  return h('section', { class: 'settings-section', 'aria-labelledby': id, 'data-testid': testId }, h('h3', { id }, title), ...children);
}

/** A short "Saved" / "Saving…" line that screen readers announce. */
export function statusLine(testId: string): { el: HTMLElement; show(text: string): void } {
  const el = h('p', { class: 'settings-status', role: 'status', 'data-testid': testId });
  return { el, show: (text) => setText(el, text) };
}
