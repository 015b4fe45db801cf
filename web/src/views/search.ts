/**
 * "Search messages" (the sidebar's magnifier, or a chat header's "Search in this chat"): a panel
 * in the chat list's place (on a phone the whole screen) that searches the user's own history on
 * the server (`GET /v1/search`, the SDK's `search`) as they type (debounced), all chats or one
 * chat. Hits are listed newest first with the chat, the sender, the time (the reader's clock) and
 * the snippet with the matched words marked; "Load more" reads the next page. Choosing a hit
 * opens its chat at that message (app.ts, ConversationView.showHit).
 *
 * User text (names, snippets) only ever becomes Text nodes: the highlights are [start, end)
 * offsets into the snippet, cut into text and `<mark>` elements here, never parsed as HTML.
 *
 * Keyboard: the field has focus when the panel opens; ↓ moves to the first hit, ↑/↓ between
 * hits (↑ from the first goes back to the field), Enter opens one; Escape clears the field, and
 * on an empty field closes the panel. The number of hits is announced (`role="status"`).
 */
import { MessengerError, type SearchRequest } from '../../../client/index.ts';
import { SEARCH_MAX_TERMS, SEARCH_QUERY_MAX, type SearchHit, type SearchPage } from '../../../protocol/index.ts';
import { keyOfRef, parseChatKey } from '../chat-store.ts';
import type { Directory } from '../directory.ts';
import { busy, h, setIsolated, setText, type Child } from '../dom.ts';
import { formatDateTime, formatListTime, formatWait } from '../format.ts';
import { icon } from '../icons.ts';

/** Wait after the last keystroke before searching, ms. */
export const SEARCH_DEBOUNCE_MS = 300;
/** Hits per page. */
const PAGE = 20;

export interface SearchOptions {
  directory: Directory;
  /** One page of hits (the SDK's `search`). */
  search(query: SearchRequest, signal: AbortSignal): Promise<SearchPage>;
  /** Open the hit's chat at the hit. */
  open(hit: SearchHit): void;
  /** Back (the panel goes away). */
  onClose(): void;
  describeError(error: unknown): string;
}

/** What a search looks at now: its words, and the chat it is limited to (a chat key) or null. */
interface Query {
  q: string;
  chat: string | null;
}

export class SearchView {
  readonly el: HTMLElement;
  readonly input: HTMLInputElement;
  private readonly options: SearchOptions;
  private readonly back: HTMLButtonElement;
  private readonly clear: HTMLButtonElement;
  private readonly scopeBar: HTMLElement;
  private readonly scopeName: HTMLElement;
  private readonly status: HTMLElement;
  private readonly list: HTMLElement;
  /** What scrolls: the status, the hits and "Load more". */
  private readonly body: HTMLElement;
  private readonly more: HTMLButtonElement;
  private readonly heading: HTMLElement;
  /** The chat the search is limited to (a chat key), or null for every chat. */
  private scope: string | null = null;
  private timer: number | undefined;
  /** The request running now (a newer query or the panel closing aborts it). */
  private running: AbortController | null = null;
  /** The query the shown hits answer, and the cursor of its next page (null: no more). */
  private shownQuery: Query | null = null;
  private next: number | null = null;
  private hits: SearchHit[] = [];
  private readonly offs: Array<() => void> = [];

  constructor(options: SearchOptions) {
    this.options = options;
    this.back = h(
      'button',
      { type: 'button', class: 'icon-button', 'aria-label': 'Close search', title: 'Close search', 'data-testid': 'search-back', on: { click: () => options.onClose() } },
      icon('back'),
    );
    this.heading = h('h2', { id: 'search-title' }, 'Search messages');
    this.input = h('input', {
      type: 'search',
      class: 'search-input',
      id: 'search-input',
      maxlength: SEARCH_QUERY_MAX,
      autocomplete: 'off',
      spellcheck: 'false',
      enterkeyhint: 'search',
      dir: 'auto',
      placeholder: 'Search messages',
      'aria-label': 'Search messages',
      'aria-describedby': 'search-status',
      'data-testid': 'search-input',
    });
    this.clear = h(
      'button',
      { type: 'button', class: 'icon-button search-clear', 'aria-label': 'Clear search', title: 'Clear search', 'data-testid': 'search-clear', hidden: true, on: { click: () => this.reset(true) } },
      icon('close'),
    );
    this.scopeName = h('span', { class: 'search-scope-name', 'data-testid': 'search-scope-name' });
    this.scopeBar = h(
      'div',
      { class: 'search-scope', 'data-testid': 'search-scope', hidden: true },
      h('span', {}, 'In ', this.scopeName),
      h('button', { type: 'button', class: 'link', 'data-testid': 'search-all-chats', on: { click: () => this.setScope(null) } }, 'Search all chats'),
    );
    this.status = h('p', { class: 'search-status', id: 'search-status', role: 'status', 'aria-live': 'polite', 'data-testid': 'search-status' });
    this.list = h('ul', { class: 'search-results', 'aria-label': 'Search results', 'data-testid': 'search-results' });
    this.more = h('button', { type: 'button', class: 'secondary search-more', hidden: true, 'data-testid': 'search-more', on: { click: () => void this.loadMore() } }, 'Load more');
    this.body = h('div', { class: 'search-body' }, this.status, this.list, h('div', { class: 'search-more-wrap' }, this.more));
    this.el = h(
      'section',
      { class: 'search-panel', 'data-testid': 'search-panel', 'aria-labelledby': 'search-title' },
      h('header', { class: 'sidebar-header search-header' }, this.back, this.heading),
      h('div', { class: 'search-field' }, icon('search', 'search-field-icon'), this.input, this.clear),
      this.scopeBar,
      this.body,
    );

    this.input.addEventListener('input', () => this.typed());
    this.input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') {
        event.preventDefault();
        this.runNow();
      } else if (event.key === 'ArrowDown') {
        const first = this.list.querySelector<HTMLElement>('.search-hit');
        if (first !== null) {
          event.preventDefault();
          first.focus();
        }
      }
    });
    this.list.addEventListener('keydown', (event) => this.moveFocus(event));
    // Escape: first the field's text, then the panel (and never also the open chat behind it).
    this.el.addEventListener('keydown', (event) => {
      if (event.key !== 'Escape' || event.defaultPrevented) return;
      event.preventDefault();
      if (this.input.value !== '') {
        this.reset(true);
        return;
      }
      options.onClose();
    });
    const redraw = (): void => this.redrawNames();
    options.directory.on('changed', redraw);
    this.offs.push(() => options.directory.off('changed', redraw));
    this.showIdle();
  }

  /** Limit the search to one chat (a chat key), or search every chat (null); searches again. */
  setScope(key: string | null): void {
    if (key === this.scope) return;
    this.scope = key;
    this.scopeBar.hidden = key === null;
    setText(this.heading, key === null ? 'Search messages' : 'Search in chat');
    this.input.placeholder = key === null ? 'Search messages' : 'Search in this chat';
    this.redrawNames();
    if (this.input.value.trim() !== '') this.runNow();
    else this.showIdle();
    this.input.focus();
  }

  focus(): void {
    this.input.focus();
    this.input.select();
  }

  dispose(): void {
    window.clearTimeout(this.timer);
    this.running?.abort();
    this.running = null;
    for (const off of this.offs) off();
  }

  // ------------------------------------------------------------ searching

  private typed(): void {
    this.clear.hidden = this.input.value === '';
    window.clearTimeout(this.timer);
    if (this.input.value.trim() === '') {
      this.reset(false);
      return;
    }
    this.timer = window.setTimeout(() => void this.run(), SEARCH_DEBOUNCE_MS);
  }

  private runNow(): void {
    window.clearTimeout(this.timer);
    void this.run();
  }

  /** Empty the field (with `field`) and the results. */
  private reset(field: boolean): void {
    window.clearTimeout(this.timer);
    this.running?.abort();
    this.running = null;
    if (field) {
      this.input.value = '';
      this.clear.hidden = true;
      this.input.focus();
    }
    this.shownQuery = null;
    this.hits = [];
    this.list.replaceChildren();
    this.more.hidden = true;
    this.showIdle();
  }

  private showIdle(): void {
    this.el.dataset.state = 'idle';
    this.status.hidden = false;
    setText(this.status, this.scope === null ? 'Find messages in all your chats.' : 'Find messages in this chat.');
  }

  /** The first page for what the field says now. */
  private async run(): Promise<void> {
    const q = this.input.value.trim();
    if (q === '') return;
    const problem = queryProblem(q);
    if (problem !== null) {
      this.running?.abort();
      this.running = null;
      this.shownQuery = null;
      this.hits = [];
      this.list.replaceChildren();
      this.more.hidden = true;
      this.say('invalid', problem);
      return;
    }
    const query: Query = { q, chat: this.scope };
    await this.fetchPage(query, undefined);
  }

  private async loadMore(): Promise<void> {
    if (this.shownQuery === null || this.next === null) return;
    await this.fetchPage(this.shownQuery, this.next);
  }

  /** One page of `query` (the first when `before` is undefined; it replaces what is shown). */
  private async fetchPage(query: Query, before: number | undefined): Promise<void> {
    this.running?.abort();
    const running = new AbortController();
    this.running = running;
    const first = before === undefined;
    this.list.setAttribute('aria-busy', 'true');
    if (first) this.el.dataset.state = 'searching';
    else busy(this.more, true, 'Loading…');
    try {
      const page = await this.options.search(requestOf(query, before), running.signal);
      if (running.signal.aborted) return;
      if (first) {
        this.hits = [];
        this.list.replaceChildren();
        this.body.scrollTop = 0;
      }
      this.shownQuery = query;
      this.hits.push(...page.hits);
      this.list.append(...page.hits.map((hit) => this.hitRow(hit)));
      this.next = page.nextBefore;
      this.more.hidden = page.nextBefore === null;
      this.sayCount();
    } catch (error) {
      if (running.signal.aborted) return;
      this.say('error', this.describe(error, query));
    } finally {
      if (this.running === running) {
        this.running = null;
        this.list.removeAttribute('aria-busy');
        busy(this.more, false, 'Load more');
      }
    }
  }

  private sayCount(): void {
    const count = this.hits.length;
    const more = this.next !== null;
    if (count === 0) {
      this.say('empty', this.scope === null ? 'No messages found.' : 'No messages found in this chat.');
      return;
    }
    const noun = count === 1 ? 'message' : 'messages';
    this.say('results', more ? `${count} ${noun} found so far. Load more for older ones.` : `${count} ${noun} found.`);
  }

  private say(state: string, text: string): void {
    this.el.dataset.state = state;
    this.status.hidden = false;
    setText(this.status, text);
  }

  /** An error as a sentence; a rate limit says how long to wait, and the search runs again then. */
  private describe(error: unknown, query: Query): string {
    if (error instanceof MessengerError && error.code === 'rate_limited') {
      const wait = error.retryAfterMs ?? 10_000;
      window.clearTimeout(this.timer);
      this.timer = window.setTimeout(() => {
        // Still the same words and chat: try again by itself.
        if (this.input.value.trim() === query.q && this.scope === query.chat) void this.run();
      }, wait);
      return `Too many searches, try again in ${formatWait(wait)}.`;
    }
    if (error instanceof MessengerError && error.code === 'validation_failed') return 'Search for whole words: letters or digits.';
    return this.options.describeError(error);
  }

  // ------------------------------------------------------------ drawing

  private hitRow(hit: SearchHit): HTMLElement {
    const chat = h('span', { class: 'search-hit-chat', 'data-testid': 'search-hit-chat' });
    const from = h('span', { class: 'search-hit-from', 'data-testid': 'search-hit-from' });
    const time = h(
      'time',
      { class: 'search-hit-time', 'data-testid': 'search-hit-time', datetime: new Date(hit.at).toISOString(), title: formatDateTime(hit.at) },
      formatListTime(hit.at),
    );
    const button = h(
      'button',
      {
        type: 'button',
        class: 'search-hit',
        'data-testid': 'search-hit',
        'data-id': hit.messageId,
        'data-chat': keyOfRef(hit.chat),
        on: { click: () => this.options.open(hit) },
      },
      h('span', { class: 'search-hit-head' }, chat, time),
      h(
        'span',
        { class: 'search-hit-line' },
        from,
        KIND_MARK[hit.kind] === undefined ? null : h('span', { class: 'search-hit-kind', 'aria-hidden': 'true' }, KIND_MARK[hit.kind]),
        h('span', { class: 'search-hit-snippet', 'data-testid': 'search-snippet', dir: 'auto' }, ...highlighted(hit.snippet, hit.highlights)),
      ),
    );
    this.drawNames(button, hit);
    return h('li', {}, button);
  }

  /** Chat and sender names (they may become known later: drawn again on the directory's change). */
  private drawNames(button: HTMLElement, hit: SearchHit): void {
    const { directory } = this.options;
    const chat = button.querySelector('.search-hit-chat');
    const from = button.querySelector('.search-hit-from');
    if (chat !== null) setIsolated(chat, hit.chat.kind === 'direct' ? directory.userName(hit.chat.peer) : directory.groupTitle(hit.chat.group));
    if (from !== null) from.replaceChildren(h('bdi', {}, directory.userName(hit.from, { you: 'You' })), ': ');
  }

  private redrawNames(): void {
    if (this.scope !== null) {
      const parsed = parseChatKey(this.scope);
      if (parsed !== null) setIsolated(this.scopeName, parsed.kind === 'direct' ? this.options.directory.userName(parsed.id) : this.options.directory.groupTitle(parsed.id));
    }
    const buttons = this.list.querySelectorAll<HTMLElement>('.search-hit');
    buttons.forEach((button, index) => {
      const hit = this.hits[index];
      if (hit !== undefined) this.drawNames(button, hit);
    });
  }

  /** ↑/↓ between hits (↑ from the first back to the field), Home/End. */
  private moveFocus(event: KeyboardEvent): void {
    if (!['ArrowDown', 'ArrowUp', 'Home', 'End'].includes(event.key)) return;
    const buttons = [...this.list.querySelectorAll<HTMLElement>('.search-hit')];
    const index = buttons.indexOf(event.target as HTMLElement);
    if (index < 0) return;
    event.preventDefault();
    if (event.key === 'ArrowUp' && index === 0) {
      this.input.focus();
      return;
    }
    const next = event.key === 'Home' ? 0 : event.key === 'End' ? buttons.length - 1 : index + (event.key === 'ArrowDown' ? 1 : -1);
    (buttons[Math.max(0, Math.min(buttons.length - 1, next))] ?? this.more).focus();
  }
}

/** What marks a hit's kind before its snippet (a caption or a file name). */
const KIND_MARK: Partial<Record<SearchHit['kind'], string>> = {
  image: '📷 ',
  video: '🎥 ',
  voice: '🎤 ',
  document: '📄 ',
  sticker: '💟 ',
  location: '📍 ',
  contact: '👤 ',
};

/** Why `q` cannot be searched for as it is (null: it can). */
function queryProblem(q: string): string | null {
  if (!/[\p{L}\p{N}]/u.test(q)) return 'Type letters or digits to search for.';
  if (q.split(/\s+/u).length > SEARCH_MAX_TERMS) return `Search for at most ${SEARCH_MAX_TERMS} words.`;
  return null;
}

function requestOf(query: Query, before: number | undefined): SearchRequest {
  const parsed = query.chat === null ? null : parseChatKey(query.chat);
  return {
    q: query.q,
    limit: PAGE,
    ...(parsed === null ? {} : parsed.kind === 'direct' ? { peer: parsed.id } : { group: parsed.id }),
    ...(before === undefined ? {} : { before }),
  };
}

/**
 * A snippet as text and `<mark>` elements: `highlights` are [start, end) offsets in UTF-16 code
 * units, in order. Offsets out of range or overlapping an earlier one are clamped or skipped, so
 * a bad pair can never drop or repeat text.
 *
 * @example
 * highlighted('see you at the meeting', [[15, 22]]) // ['see you at the ', <mark>meeting</mark>]
 */
export function highlighted(snippet: string, highlights: ReadonlyArray<readonly [number, number]>): Child[] {
  const parts: Child[] = [];
  let at = 0;
  for (const [from, to] of highlights) {
    const start = Math.max(at, Math.min(from, snippet.length));
    const end = Math.min(Math.max(to, start), snippet.length);
    if (end <= start) continue;
    if (start > at) parts.push(snippet.slice(at, start));
    parts.push(h('mark', { class: 'search-mark' }, snippet.slice(start, end)));
    at = end;
  }
  if (at < snippet.length) parts.push(snippet.slice(at));
  return parts;
}
