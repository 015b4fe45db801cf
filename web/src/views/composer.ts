/**
 * The conversation's composer: the message field (Enter sends, Shift+Enter adds a line; it grows
 * with its text), the attach button (media/attach.ts: picker, and drops and pastes on the
 * conversation), and Send, which is the voice-note microphone (media/recorder.ts) while the field
 * is empty. It also says "typing…" / "recording audio…" and when that stops.
 */
import type { TypingState } from '../../../client/index.ts';
import { MAX_TEXT_LENGTH, TYPING_REPEAT_MS } from '../../../protocol/index.ts';
import { h, setText } from '../dom.ts';
import { icon } from '../icons.ts';
import { acceptDropAndPaste, attachButton, type AttachOptions } from '../media/attach.ts';
import { VoiceRecorder } from '../media/recorder.ts';
import type { MediaDraft } from '../media/sdk.ts';

export interface ComposerOptions {
  /** The text kept from the last visit of this chat. */
  draft: string;
  /** Send a text; throws a MessengerError for invalid input (shown under the composer). */
  send(text: string): void;
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
    this.error = h('p', { class: 'composer-error', role: 'alert', hidden: true });
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
      }
    });
    this.input.addEventListener('input', () => this.onInput());
    this.updateSendButton();
  }

  /** Files dropped on `zone` or pasted into the field are offered for sending while `enabled()`. Returns a stop function. */
  acceptFiles(zone: HTMLElement, enabled: () => boolean): () => void {
    return acceptDropAndPaste(zone, this.input, this.attach, enabled);
  }

  /** The unsent text (kept as the chat's draft). */
  get draft(): string {
    return this.input.value;
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
    try {
      this.options.send(text);
    } catch (error) {
      this.showError(this.options.describeError(error));
      return;
    }
    this.error.hidden = true;
    this.input.value = '';
    this.updateSendButton();
    this.stopTyping();
    this.autoGrow();
    this.options.onSent();
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

  private showError(text: string): void {
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
    if (this.input.value.trim() === '') {
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
