/**
 * Voice notes: the microphone button (shown instead of Send while the message field is empty)
 * starts recording with MediaRecorder; a bar with the running time replaces the field, with
 * Cancel (discard) and Send (stop and send). Escape cancels. The recording's type is what the
 * recorder produced (audio/ogg or audio/webm, parameters dropped); its duration is measured.
 */
import { TYPING_REPEAT_MS } from '../../../protocol/index.ts';
import { h, setText } from '../dom.ts';
import { formatDuration } from '../format.ts';
import { chooseKind, mimeEssence } from './kinds.ts';
import type { MediaDraft } from './sdk.ts';

export interface RecorderOptions {
  send(draft: MediaDraft): void;
  /** Tell the chat "recording audio…" (or that it stopped). */
  recording(on: boolean): void;
  refuse(text: string): void;
  /** The bar is shown or hidden (the composer hides its field meanwhile). */
  onActive(active: boolean): void;
}

/** Types tried in order; the first the browser records is used. */
const RECORDER_TYPES = ['audio/ogg;codecs=opus', 'audio/webm;codecs=opus', 'audio/webm', 'audio/mp4'];
/** The running time is redrawn this often, ms. */
const TICK_MS = 250;

export class VoiceRecorder {
  readonly button: HTMLButtonElement;
  readonly bar: HTMLElement;
  private readonly time: HTMLElement;
  private readonly options: RecorderOptions;
  private recorder: MediaRecorder | null = null;
  private stream: MediaStream | null = null;
  private chunks: Blob[] = [];
  private startedAt = 0;
  private timer: number | undefined;
  private sendOnStop = false;

  constructor(options: RecorderOptions, micIcon: Node) {
    this.options = options;
    this.button = h('button', { type: 'button', class: 'send-button mic-button', 'aria-label': 'Record a voice message', title: 'Record a voice message', 'data-testid': 'record-button' }, micIcon);
    this.time = h('span', { class: 'recorder-time', role: 'timer', 'aria-live': 'off', 'data-testid': 'recorder-time' }, '0:00');
    const cancel = h('button', { type: 'button', class: 'secondary recorder-cancel', 'data-testid': 'recorder-cancel' }, 'Cancel');
    const send = h('button', { type: 'button', class: 'primary recorder-send', 'data-testid': 'recorder-send' }, 'Send');
    this.bar = h(
      'div',
      { class: 'recorder', role: 'group', 'aria-label': 'Recording a voice message', 'data-testid': 'recorder', hidden: true },
      h('span', { class: 'recorder-dot', 'aria-hidden': 'true' }),
      h('span', { class: 'recorder-label' }, 'Recording'),
      this.time,
      cancel,
      send,
    );
    this.button.addEventListener('click', () => void this.start());
    cancel.addEventListener('click', () => this.stop(false));
    send.addEventListener('click', () => this.stop(true));
    this.bar.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        event.preventDefault();
        event.stopPropagation();
        this.stop(false);
      }
    });
  }

  get active(): boolean {
    return this.recorder !== null;
  }

  /** Ask for the microphone and start recording. */
  async start(): Promise<void> {
    if (this.recorder !== null) return;
    if (typeof MediaRecorder === 'undefined' || navigator.mediaDevices?.getUserMedia === undefined) {
      this.options.refuse('This browser cannot record voice messages.');
      return;
    }
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch {
      this.options.refuse('Messenger may not use the microphone. Allow it in the browser’s site settings to record voice messages.');
      return;
    }
    const type = RECORDER_TYPES.find((candidate) => MediaRecorder.isTypeSupported(candidate));
    const recorder = new MediaRecorder(stream, type === undefined ? {} : { mimeType: type });
    this.stream = stream;
    this.recorder = recorder;
    this.chunks = [];
    this.sendOnStop = false;
    recorder.addEventListener('dataavailable', (event) => {
      if (event.data.size > 0) this.chunks.push(event.data);
    });
    recorder.addEventListener('stop', () => this.finish(recorder));
    recorder.start();
    this.startedAt = performance.now();
    let toldAt = performance.now();
    this.timer = window.setInterval(() => {
      const now = performance.now();
      setText(this.time, formatDuration(now - this.startedAt));
      // "recording audio…" lasts a few seconds where it is shown: say it again while recording.
      if (now - toldAt >= TYPING_REPEAT_MS) {
        toldAt = now;
        this.options.recording(true);
      }
    }, TICK_MS);
    setText(this.time, '0:00');
    this.bar.hidden = false;
    this.options.onActive(true);
    this.options.recording(true);
    this.bar.querySelector<HTMLButtonElement>('.recorder-send')?.focus();
  }

  /** Stop recording; with `send` the recording is sent, otherwise discarded. */
  stop(send: boolean): void {
    const recorder = this.recorder;
    if (recorder === null) return;
    this.sendOnStop = send;
    if (recorder.state !== 'inactive') recorder.stop();
    else this.finish(recorder);
  }

  dispose(): void {
    this.stop(false);
  }

  private finish(recorder: MediaRecorder): void {
    if (this.recorder !== recorder) return;
    const durationMs = Math.round(performance.now() - this.startedAt);
    window.clearInterval(this.timer);
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = null;
    this.recorder = null;
    this.bar.hidden = true;
    this.options.onActive(false);
    this.options.recording(false);
    this.button.focus();
    if (!this.sendOnStop) return;
    const mime = mimeEssence(recorder.mimeType || this.chunks[0]?.type || 'audio/webm');
    const file = new Blob(this.chunks, { type: mime });
    this.chunks = [];
    const choice = chooseKind(file, true);
    if (!choice.ok || choice.kind !== 'voice') {
      this.options.refuse(choice.ok ? 'This recording cannot be sent as a voice message.' : choice.reason);
      return;
    }
    this.options.send({ kind: 'voice', file, mime: choice.mime, durationMs });
  }
}
