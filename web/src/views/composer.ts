/**
 * The conversation's composer: the message field (Enter sends, Shift+Enter adds a line; it grows
 * with its text), the attach button (media/attach.ts: picker, and drops and pastes on the
 * conversation), and Send, which is the voice-note microphone (media/recorder.ts) while the field
 * is empty. It also says "typing…" / "recording audio…" and when that stops.
 *
 * Replying shows the quoted message in a bar above the field; editing puts the message's text in
 * the field under an "Edit message" bar. × or Escape cancels either; Enter sends.
 */
import type { TypingState } from '../../../client/index.ts';
import { MAX_TEXT_LENGTH, TYPING_REPEAT_MS, type Quote } from '../../../protocol/index.ts';
import type { MessageItem } from '../chat-store.ts';
import type { Directory } from '../directory.ts';
import { h, setText } from '../dom.ts';
import { icon } from '../icons.ts';
import { acceptDropAndPaste, attachButton, type AttachOptions } from '../media/attach.ts';
import { VoiceRecorder } from '../media/recorder.ts';
import type { MediaDraft } from '../media/sdk.ts';
import { drawQuote, quoteBlock, type QuoteParts } from './quote.ts';

/** What the composer's text is for besides a new message: a reply to a message, or a message's new text. */
export type ComposerContext = { kind: 'reply'; item: MessageItem; quote: Quote } | { kind: 'edit'; item: MessageItem };

export interface ComposerOptions {
  /** The text kept from the last visit of this chat. */
  draft: string;
  directory: Directory;
  /**
   * Send a text (a reply when `context` is one); throws a MessengerError for invalid input (shown
   * under the composer). An edit resolves once stored (its refusal is shown).
   */
  send(text: string, context: ComposerContext | null): void | Promise<void>;
  sendMedia(draft: MediaDraft): void;
  typing(state: TypingState): void;
  describeError(error: unknown): string;
  /** Something was sent (the conversation scrolls to it). */
  onSent(): void;
}

/** Send 'stopped' after this long without typing. */
const TYPING_IDLE_MS = 5_000;
/** Composer grows up to this height, px. */
const COMPOSER_MAX_HEIGHT = 160;

export class Composer {
  readonly form: HTMLFormElement;
  readonly error: HTMLElement;
  readonly input: HTMLTextAreaElement;
  /** "Replying to" / "Edit message" above the field. */
  readonly bar: HTMLElement;
  private readonly barTitle: HTMLElement;
  private readonly barQuote: QuoteParts;
  private context: ComposerContext | null = null;
  /** The text in the field before an edit started (it comes back afterwards). */
  private draftBeforeEdit = '';
  private readonly options: ComposerOptions;
  private readonly sendButton: HTMLButtonElement;
  private readonly recorder: VoiceRecorder;
  private readonly attach: AttachOptions;
  private typingSentAt = 0;
  private typingIdle: number | undefined;

  constructor(options: ComposerOptions) {
    this.options = options;
    this.input = h('textarea', {
      class: 'composer-input',
      rows: 1,
      placeholder: 'Type a message',
      'aria-label': 'Message',
      maxlength: MAX_TEXT_LENGTH,
      dir: 'auto',
      'data-testid': 'composer-input',
    });
    this.input.value = options.draft;
    this.error = h('p', { class: 'composer-error', role: 'alert', hidden: true, 'data-testid': 'composer-error' });
    this.barTitle = h('span', { class: 'composer-bar-title', 'data-testid': 'composer-bar-title' });
    this.barQuote = quoteBlock('composer');
    this.bar = h(
      'div',
      { class: 'composer-bar', 'data-testid': 'composer-bar', hidden: true },
      h('div', { class: 'composer-bar-main' }, this.barTitle, this.barQuote.el),
      h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Cancel', title: 'Cancel (Esc)', 'data-testid': 'composer-bar-cancel', on: { click: () => this.cancelContext() } }, '✕'),
    );
    this.attach = { send: (draft) => this.sendMedia(draft), refuse: (text) => this.showError(text) };
    const attach = attachButton(this.attach, icon('attach'));
    this.recorder = new VoiceRecorder(
      {
        send: (draft) => this.sendMedia(draft),
        recording: (on) => options.typing(on ? 'recording' : 'stopped'),
        refuse: (text) => this.showError(text),
        onActive: (active) => {
          this.input.hidden = active;
          attach.button.hidden = active;
          this.updateSendButton();
        },
      },
      icon('mic'),
    );
    this.sendButton = h('button', { type: 'submit', class: 'send-button', 'aria-label': 'Send', title: 'Send (Enter)', 'data-testid': 'send-button' }, icon('send'));
    this.form = h(
      'form',
      { class: 'composer', 'aria-label': 'Write a message' },
      attach.button,
      attach.input,
      this.input,
      this.recorder.bar,
      this.sendButton,
      this.recorder.button,
    );
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.submit();
    });
    this.input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.submit();
      } else if (event.key === 'Escape' && this.context !== null) {
        // Cancels the reply or edit only (not closing the chat as Escape does elsewhere).
        event.preventDefault();
        event.stopPropagation();
        this.cancelContext();
      }
    });
    this.input.addEventListener('input', () => this.onInput());
    this.updateSendButton();
  }

  /** Files dropped on `zone` or pasted into the field are offered for sending while `enabled()`. Returns a stop function. */
  acceptFiles(zone: HTMLElement, enabled: () => boolean): () => void {
    return acceptDropAndPaste(zone, this.input, this.attach, enabled);
  }

  /** The unsent text (kept as the chat's draft; an edit in progress is not a draft). */
  get draft(): string {
    return this.context?.kind === 'edit' ? this.draftBeforeEdit : this.input.value;
  }

  /** The message being replied to or edited, if any. */
  get current(): ComposerContext | null {
    return this.context;
  }

  /** Reply to `item` (its quote in the bar) and put the cursor in the field. */
  replyTo(item: MessageItem, quote: Quote): void {
    if (this.context?.kind === 'edit') this.input.value = this.draftBeforeEdit;
    this.context = { kind: 'reply', item, quote };
    this.drawBar();
  }

  /** Edit `item`: its text (or caption) goes into the field. */
  edit(item: MessageItem, text: string): void {
    if (this.context?.kind !== 'edit') this.draftBeforeEdit = this.input.value;
    this.context = { kind: 'edit', item };
    this.input.value = text;
    this.drawBar();
    this.input.setSelectionRange(text.length, text.length);
  }

  /** Back to writing a new message (the text from before an edit returns). */
  cancelContext(): void {
    if (this.context === null) return;
    if (this.context.kind === 'edit') this.input.value = this.draftBeforeEdit;
    this.context = null;
    this.drawBar();
  }

  /** The message replied to or edited changed (deleted: the reply or edit ends). */
  refreshContext(item: MessageItem | undefined): void {
    if (this.context === null) return;
    if (item === undefined || item.body.kind === 'deleted') this.cancelContext();
    else this.context.item = item;
  }

  private drawBar(): void {
    const context = this.context;
    this.bar.hidden = context === null;
    this.bar.dataset.kind = context?.kind ?? '';
    if (context?.kind === 'reply') {
      setText(this.barTitle, 'Replying to');
      this.barQuote.el.hidden = false;
      drawQuote(this.barQuote, context.quote, this.options.directory);
    } else if (context?.kind === 'edit') {
      setText(this.barTitle, 'Edit message');
      this.barQuote.el.hidden = true;
    }
    this.error.hidden = true;
    this.autoGrow();
    this.updateSendButton();
    if (context !== null) this.input.focus();
  }

  dispose(): void {
    this.stopTyping();
    this.recorder.dispose();
  }

  /** Size the field to its text (once it is in the document). */
  autoGrow(): void {
    if (!this.input.isConnected) return;
    this.input.style.height = 'auto';
    this.input.style.height = `${Math.min(this.input.scrollHeight, COMPOSER_MAX_HEIGHT)}px`;
  }

  private submit(): void {
    const text = this.input.value;
    if (text.trim() === '') return;
    const context = this.context;
    let result: void | Promise<void>;
    try {
      result = this.options.send(text, context);
    } catch (error) {
      this.showError(this.options.describeError(error));
      return;
    }
    if (result instanceof Promise) {
      // An edit: the server has the final word (too old, not editable); its refusal is shown.
      result.catch((error: unknown) => this.showError(this.options.describeError(error)));
    }
    this.error.hidden = true;
    this.input.value = context?.kind === 'edit' ? this.draftBeforeEdit : '';
    this.context = null;
    this.drawBar();
    this.updateSendButton();
    this.stopTyping();
    this.autoGrow();
    // An edited message stays where it is; a new one is at the bottom.
    if (context?.kind !== 'edit') this.options.onSent();
  }

  private sendMedia(draft: MediaDraft): void {
    try {
      this.options.sendMedia(draft);
    } catch (error) {
      this.showError(this.options.describeError(error));
      return;
    }
    this.error.hidden = true;
    this.options.onSent();
  }

  /** Show a sentence under the field (an action that failed). */
  showError(text: string): void {
    this.error.hidden = false;
    setText(this.error, text);
  }

  /** Send while there is text (or while recording: the bar has its own Send), the microphone otherwise. */
  private updateSendButton(): void {
    const empty = this.input.value.trim() === '';
    this.sendButton.hidden = this.recorder.active || empty;
    this.recorder.button.hidden = this.recorder.active || !empty;
  }

  private onInput(): void {
    this.autoGrow();
    this.updateSendButton();
    // Changing a sent message is not writing a new one: nobody is told "typing…".
    if (this.input.value.trim() === '' || this.context?.kind === 'edit') {
      this.stopTyping();
      return;
    }
    const now = Date.now();
    if (now - this.typingSentAt >= TYPING_REPEAT_MS) {
      this.typingSentAt = now;
      this.options.typing('typing');
    }
    if (this.typingIdle !== undefined) window.clearTimeout(this.typingIdle);
    this.typingIdle = window.setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  private stopTyping(): void {
    if (this.typingIdle !== undefined) window.clearTimeout(this.typingIdle);
    this.typingIdle = undefined;
    if (this.typingSentAt === 0) return;
    this.typingSentAt = 0;
    this.options.typing('stopped');
  }
}
