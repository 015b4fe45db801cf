/**
 * The media part of a message bubble: a photo (the blurred inline thumbnail at once, the full
 * picture from a signed URL over it when loaded; click opens the viewer), a video player (poster:
 * the thumbnail), a voice note (play/pause, a seek bar and the duration), or a document card (name,
 * size, Download). The caption is the bubble's ordinary text under it. While the sender's own
 * upload runs, a progress bar with the percentage sits on it; a failed upload offers Retry.
 */
import type { MediaBody } from '../../../protocol/index.ts';
import { h, setAttr, setText } from '../dom.ts';
import { formatBytes, formatDuration } from '../format.ts';
import { thumbnailUrl } from './thumbnail.ts';
import type { UploadState, UploadTracker } from './uploads.ts';
import type { SignedUrls } from './urls.ts';
import { openViewer } from './viewer.ts';
import { VoicePlayer } from './voice-player.ts';

/** What media bubbles need from the app. */
export interface MediaContext {
  urls: SignedUrls;
  uploads: UploadTracker;
}

/** Largest box of a photo or video in a bubble, px (its aspect ratio kept). */
const MEDIA_MAX_WIDTH = 330;
const MEDIA_MAX_HEIGHT = 360;

export class MediaBlock {
  readonly el: HTMLElement;
  private readonly context: MediaContext;
  private body: MediaBody;
  private readonly clientId: string | null;
  private readonly progress: HTMLElement;
  private readonly progressBar: HTMLProgressElement;
  private readonly progressText: HTMLElement;
  private readonly retry: HTMLButtonElement;
  private readonly cancel: HTMLButtonElement;
  /** The element that shows the media (img, video, audio), once it has a real media id. */
  private target: HTMLImageElement | HTMLMediaElement | null = null;
  private attached = false;
  private readonly stops: Array<() => void> = [];
  private readonly voice: VoicePlayer | null = null;

  /** `clientId`: one's own message (its upload shows progress). */
  constructor(body: MediaBody, clientId: string | null, context: MediaContext) {
    this.body = body;
    this.clientId = clientId;
    this.context = context;
    this.progressBar = h('progress', { class: 'media-progress-bar', max: 100, value: 0, 'aria-label': 'Upload progress', 'data-testid': 'upload-progress' });
    this.progressText = h('span', { class: 'media-progress-text', 'data-testid': 'upload-percent' });
    this.retry = h('button', { type: 'button', class: 'media-retry', 'data-testid': 'upload-retry', hidden: true }, 'Retry');
    this.retry.addEventListener('click', () => this.upload()?.retry?.());
    this.cancel = h('button', { type: 'button', class: 'media-cancel', 'aria-label': 'Cancel upload', title: 'Cancel upload', 'data-testid': 'upload-cancel', hidden: true }, '✕');
    this.cancel.addEventListener('click', () => this.upload()?.cancel?.());
    this.progress = h('div', { class: 'media-progress', hidden: true }, this.progressBar, this.progressText, this.cancel, this.retry);

    const kind = body.kind;
    this.el = h('div', { class: `media media-${kind}`, 'data-testid': `media-${kind}`, 'data-media': body.media.id });
    if (kind === 'image' || kind === 'sticker') this.buildImage(body);
    else if (kind === 'video') this.buildVideo(body);
    else if (kind === 'voice') {
      this.voice = new VoicePlayer(body.durationMs);
      this.target = this.voice.audio;
      this.el.append(this.voice.el);
    } else this.buildDocument(body);
    this.el.append(this.progress);
    this.update(body);
  }

  /** Redraw with the item's current body (the media id arrives once uploaded) and upload state. */
  update(body: MediaBody): void {
    this.body = body;
    this.el.dataset.media = body.media.id;
    const upload = this.upload();
    this.drawProgress(upload);
    const preview = upload?.previewUrl ?? null;
    if (this.target instanceof HTMLImageElement && preview !== null && this.target.getAttribute('src') === null) {
      this.target.src = preview;
      return;
    }
    if (!this.attached && this.target !== null && body.media.id !== '' && (preview === null || !(this.target instanceof HTMLImageElement))) {
      this.attached = true;
      const target = this.target;
      this.stops.push(this.context.urls.attach(target, body.media.id, () => this.el.classList.add('media-unavailable')));
    }
  }

  dispose(): void {
    for (const stop of this.stops) stop();
    this.voice?.dispose();
  }

  private upload(): UploadState | undefined {
    return this.clientId === null ? undefined : this.context.uploads.get(this.clientId);
  }

  private drawProgress(upload: UploadState | undefined): void {
    const active = upload !== undefined && upload.state !== 'done';
    this.progress.hidden = !active;
    this.el.classList.toggle('media-uploading', active);
    if (!active) return;
    const percent = Math.round(upload.fraction * 100);
    this.progressBar.value = percent;
    const failed = upload.state === 'failed';
    this.progressBar.hidden = failed;
    setText(this.progressText, failed ? (upload.error ?? 'Upload failed.') : `${percent}%`);
    this.retry.hidden = !failed || upload.retry === null;
    this.cancel.hidden = failed || upload.cancel === null;
    setAttr(this.progress, 'data-state', upload.state);
  }

  private buildImage(body: MediaBody & { width?: number; height?: number }): void {
    const frame = h('button', { type: 'button', class: 'media-frame', 'aria-label': body.kind === 'sticker' ? 'Sticker' : 'Open photo', 'data-testid': 'media-open' });
    sizeFrame(frame, body.width, body.height);
    if (body.thumbnail !== undefined) {
      frame.append(h('img', { class: 'media-thumb', src: thumbnailUrl(body.thumbnail), alt: '', 'aria-hidden': 'true', 'data-testid': 'media-thumb' }));
    }
    const full = h('img', { class: 'media-full', alt: body.caption ?? 'Photo', 'data-testid': 'media-full', decoding: 'async' });
    full.addEventListener('load', () => {
      frame.classList.add('loaded');
      full.dataset.loaded = 'true';
    });
    frame.append(full);
    frame.addEventListener('click', () => {
      if (full.dataset.loaded === 'true') openViewer(full.currentSrc || full.src, full.alt);
    });
    this.target = full;
    this.el.append(frame);
  }

  private buildVideo(body: MediaBody & { width?: number; height?: number; durationMs?: number }): void {
    const video = h('video', {
      class: 'media-player',
      controls: true,
      preload: 'metadata',
      playsinline: true,
      'aria-label': body.caption ?? 'Video',
      'data-testid': 'media-player',
      ...(body.thumbnail !== undefined ? { poster: thumbnailUrl(body.thumbnail) } : {}),
    });
    const frame = h('div', { class: 'media-frame' }, video);
    sizeFrame(frame, body.width, body.height);
    if (body.durationMs !== undefined) frame.append(h('span', { class: 'media-duration', 'aria-hidden': 'true' }, formatDuration(body.durationMs)));
    this.target = video;
    this.el.append(frame);
  }

  private buildDocument(body: MediaBody & { fileName?: string }): void {
    const name = body.fileName ?? 'Document';
    const extension = /\.([A-Za-z0-9]{1,8})$/.exec(name)?.[1]?.toUpperCase() ?? '';
    const download = h('button', { type: 'button', class: 'media-download', 'aria-label': `Download ${name}`, title: 'Download', 'data-testid': 'media-download' }, '⤓');
    download.addEventListener('click', () => void this.download(name, download));
    this.el.append(
      h(
        'div',
        { class: 'media-doc' },
        h('span', { class: 'media-doc-icon', 'aria-hidden': 'true' }, extension === '' ? '📄' : extension.slice(0, 4)),
        h(
          'span',
          { class: 'media-doc-main' },
          h('bdi', { class: 'media-doc-name', 'data-testid': 'media-doc-name' }, name),
          h('span', { class: 'media-doc-size', 'data-testid': 'media-doc-size' }, [formatBytes(body.media.size), extension].filter((x) => x !== '').join(' · ')),
        ),
        download,
      ),
    );
  }

  /** Save a document: the signed URL's answer is an attachment, so a link to it downloads it. */
  private async download(name: string, button: HTMLButtonElement): Promise<void> {
    if (this.body.media.id === '') return;
    button.disabled = true;
    try {
      const url = await this.context.urls.get(this.body.media.id, true);
      const link = h('a', { href: url, download: name, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
    } catch {
      this.el.classList.add('media-unavailable');
    } finally {
      button.disabled = false;
    }
  }
}

/** Reserve the photo's or video's box before it loads (no jump when it arrives). */
function sizeFrame(frame: HTMLElement, width: number | undefined, height: number | undefined): void {
  if (width === undefined || height === undefined) return;
  frame.style.aspectRatio = `${width} / ${height}`;
  frame.style.width = `${Math.round(Math.min(MEDIA_MAX_WIDTH, width, (MEDIA_MAX_HEIGHT * width) / height))}px`;
}
