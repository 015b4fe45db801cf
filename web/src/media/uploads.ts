/**
 * Uploads in progress, by the client id of the message they belong to: how far each got, whether
 * it failed (and how to try again), and a local `blob:` preview of the picked file so the sender's
 * bubble shows the picture at once. The conversation's bubbles read it and redraw on 'changed'.
 */
import { Emitter } from '../../../client/index.ts';

export interface UploadState {
  /** 0 … 1. */
  fraction: number;
  state: 'uploading' | 'failed' | 'done';
  /** A `blob:` URL of the file being sent (images only), revoked when the tracker forgets it. */
  previewUrl: string | null;
  /** Why it failed, for the bubble. */
  error: string | null;
  /** Start the upload again (when the SDK offers it). */
  retry: (() => void) | null;
  /** Stop the upload while it runs (its message is then not sent). */
  cancel: (() => void) | null;
}

export class UploadTracker extends Emitter<{ changed: { clientId: string } }> {
  private readonly uploads = new Map<string, UploadState>();

  get(clientId: string): UploadState | undefined {
    return this.uploads.get(clientId);
  }

  /** A new upload for message `clientId`. */
  start(clientId: string, previewUrl: string | null, cancel: (() => void) | null = null): void {
    this.uploads.set(clientId, { fraction: 0, state: 'uploading', previewUrl, error: null, retry: null, cancel });
    this.emit('changed', { clientId });
  }

  progress(clientId: string, fraction: number): void {
    const entry = this.uploads.get(clientId);
    if (entry === undefined) return;
    const next = Math.max(0, Math.min(1, fraction));
    // Redraw on visible steps only (whole percents).
    if (Math.round(next * 100) === Math.round(entry.fraction * 100) && entry.state === 'uploading') return;
    entry.fraction = next;
    entry.state = 'uploading';
    entry.error = null;
    this.emit('changed', { clientId });
  }

  done(clientId: string): void {
    const entry = this.uploads.get(clientId);
    if (entry === undefined) return;
    entry.fraction = 1;
    entry.state = 'done';
    entry.error = null;
    this.emit('changed', { clientId });
  }

  failed(clientId: string, error: string, retry: (() => void) | null): void {
    const entry = this.uploads.get(clientId);
    if (entry === undefined) return;
    entry.state = 'failed';
    entry.error = error;
    entry.retry = retry;
    this.emit('changed', { clientId });
  }

  /** Forget one upload (its message is gone) and revoke its preview. */
  forget(clientId: string): void {
    const entry = this.uploads.get(clientId);
    if (entry === undefined) return;
    if (entry.previewUrl !== null) URL.revokeObjectURL(entry.previewUrl);
    this.uploads.delete(clientId);
    this.emit('changed', { clientId });
  }

  /** Forget every upload and revoke the previews (logout). */
  clear(): void {
    for (const entry of this.uploads.values()) if (entry.previewUrl !== null) URL.revokeObjectURL(entry.previewUrl);
    this.uploads.clear();
  }
}
