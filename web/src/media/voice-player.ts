/**
 * A voice note's player: a play/pause button, a seek bar and the time (the duration until it
 * plays, then the position). The `<audio>` element itself has no controls; its `src` is set by
 * the bubble (a signed URL). One voice note plays at a time.
 */
import { h, setAttr, setText } from '../dom.ts';
import { formatDuration } from '../format.ts';

let playing: HTMLAudioElement | null = null;

export class VoicePlayer {
  readonly el: HTMLElement;
  readonly audio: HTMLAudioElement;
  private readonly button: HTMLButtonElement;
  private readonly seek: HTMLInputElement;
  private readonly time: HTMLElement;
  private durationMs: number | undefined;

  constructor(durationMs: number | undefined) {
    this.durationMs = durationMs;
    this.audio = h('audio', { preload: 'metadata', 'data-testid': 'media-audio' });
    this.button = h('button', { type: 'button', class: 'voice-play', 'aria-label': 'Play voice message', 'data-testid': 'voice-play' });
    this.seek = h('input', { type: 'range', class: 'voice-seek', min: 0, max: 1000, value: 0, step: 1, 'aria-label': 'Position in the voice message', 'data-testid': 'voice-seek' });
    this.time = h('span', { class: 'voice-time', 'data-testid': 'voice-time' });
    this.el = h('div', { class: 'voice' }, this.button, this.seek, this.time, this.audio);

    this.button.addEventListener('click', () => this.toggle());
    this.seek.addEventListener('input', () => {
      const total = this.totalSeconds();
      if (total !== null) this.audio.currentTime = (Number(this.seek.value) / 1000) * total;
    });
    const audio = this.audio;
    audio.addEventListener('play', () => {
      if (playing !== null && playing !== audio) playing.pause();
      playing = audio;
      this.draw();
    });
    audio.addEventListener('pause', () => this.draw());
    audio.addEventListener('ended', () => {
      audio.currentTime = 0;
      this.draw();
    });
    audio.addEventListener('timeupdate', () => this.draw());
    audio.addEventListener('loadedmetadata', () => {
      if (this.durationMs === undefined && Number.isFinite(audio.duration)) this.durationMs = Math.round(audio.duration * 1000);
      this.draw();
    });
    this.draw();
  }

  dispose(): void {
    this.audio.pause();
    if (playing === this.audio) playing = null;
  }

  private toggle(): void {
    if (this.audio.paused) {
      this.audio.play().catch(() => this.el.classList.add('media-unavailable'));
    } else this.audio.pause();
  }

  private totalSeconds(): number | null {
    if (Number.isFinite(this.audio.duration) && this.audio.duration > 0) return this.audio.duration;
    return this.durationMs === undefined ? null : this.durationMs / 1000;
  }

  private draw(): void {
    const paused = this.audio.paused;
    setAttr(this.button, 'aria-label', paused ? 'Play voice message' : 'Pause voice message');
    setAttr(this.button, 'data-state', paused ? 'paused' : 'playing');
    setText(this.button, paused ? '▶' : '❚❚');
    const total = this.totalSeconds();
    const position = this.audio.currentTime;
    this.seek.value = String(total === null || total === 0 ? 0 : Math.round((position / total) * 1000));
    // At rest: the length the sender recorded (a recording's own metadata often has none).
    const length = this.durationMs ?? (total === null ? 0 : total * 1000);
    const shown = paused && position === 0 ? length : position * 1000;
    setText(this.time, formatDuration(shown));
  }
}
