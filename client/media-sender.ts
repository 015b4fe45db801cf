/**
 * Sending media through the outbox: `MessengerClient.sendMedia` / `sendGroupMedia`.
 *
 * A media send has two stages. First the bytes are uploaded (`MediaApi.upload`): retried after
 * every retryable failure (network down, timeouts, 5xx, rate limits) with a backoff, and at once
 * when the connection comes back, until it succeeds or fails for good. Then the message naming
 * the upload goes into the normal outbox with the client id chosen up front, and from there on
 * it is any other send (resent after reconnects, confirmed by `sent` / `group_sent`).
 *
 * So a UI can draw the bubble (with the `clientId`) and a progress bar at once, and "attach while
 * offline" works: the upload waits for the network, the message for the connection.
 *
 * Pending uploads live in memory only: their bytes cannot go to localStorage (a page reload or a
 * process exit loses them, and the app has to offer the file again). Messages after a media
 * message that is still uploading may overtake it: only the outbox keeps order.
 */
import { ClientIdSchema, GroupIdSchema, MessageBodySchema, UserIdSchema, isMediaBody } from '../protocol/index.ts';
import type { GroupSentFrame, MediaBody, MessageBody, SentFrame } from '../protocol/index.ts';
import { Backoff } from './backoff.ts';
import type { BackoffOptions } from './backoff.ts';
import type { SendOptions } from './client-types.ts';
import type { ConnectionState, StateChange } from './connection-types.ts';
import type { MediaApi } from './media-api.ts';
import { checkMediaUpload, mediaDataSize } from './media-upload.ts';
import type { MediaData } from './media-upload.ts';
import type { UploadedMedia, UploadProgress } from './media-uploader.ts';
import { generateClientId } from './outbox.ts';
import type { PendingSend, SendAck } from './outbox.ts';
import { MessengerError } from './transport.ts';

/** The kinds of media a message can carry (avatars are for profiles and groups). */
export type MediaMessageKind = MediaBody['kind'];

/** What to send: the bytes and the message's fields. */
export interface MediaSendInput {
  kind: MediaMessageKind;
  data: MediaData;
  mime: string;
  caption?: string;
  /** A small JPEG or WebP preview, strict base64, at most MAX_THUMBNAIL_BASE64 characters. */
  thumbnail?: string;
  /** Image, video and sticker only (ignored for other kinds). */
  width?: number;
  height?: number;
  /** Video and voice only (ignored for other kinds). */
  durationMs?: number;
  /** Document only (ignored for other kinds). */
  fileName?: string;
  /** Upload progress of this send (the client also emits 'upload_progress'). */
  onProgress?: (progress: UploadProgress) => void;
}

/** What `sendMedia` / `sendGroupMedia` return at once. */
export interface PendingMediaSend<A extends SendAck = SendAck> extends PendingSend<A> {
  /** Resolves when the upload is done; rejects when it failed for good or was cancelled (then `sent` rejects too). */
  uploaded: Promise<UploadedMedia>;
  /** Stop the upload (both promises reject with an 'AbortError'). A no-op once the message is in the outbox. */
  cancel(): void;
}

/** Where a media send goes: exactly one of `to` and `group`. */
export type MediaTarget = { to: string; group?: undefined } | { group: string; to?: undefined };

/** A media send still uploading, as `pendingUploads()` lists it. */
export type PendingUpload = MediaTarget & {
  clientId: string;
  kind: MediaMessageKind;
  /** As the server will store it (lowercase, no parameters). */
  mime: string;
  caption?: string;
  fileName?: string;
  /** Bytes confirmed by the server so far, of `total`. */
  sent: number;
  total: number;
  /** 'waiting': the last attempt failed with a retryable error; it is retried after a pause or on reconnect. */
  state: 'uploading' | 'waiting';
  /** Failed attempts so far. */
  failures: number;
  lastError?: MessengerError;
  createdAt: number;
};

/** Payload of the 'upload_progress' event. */
export type UploadProgressEvent = MediaTarget & { clientId: string; sent: number; total: number };

/** Payload of the 'upload_failed' event: a media send's upload failed for good (or was cancelled); no message is sent. */
export type UploadFailed = MediaTarget & { clientId: string; error: unknown };

/** What the sender needs of `MessengerClient`. */
export interface MediaSendHost {
  readonly state: ConnectionState;
  on(event: 'state', listener: (change: StateChange) => void): () => void;
  emit(event: 'upload_progress', payload: UploadProgressEvent): boolean;
  emit(event: 'upload_failed', payload: UploadFailed): boolean;
  send(to: string, body: MessageBody, options?: SendOptions): PendingSend<SentFrame>;
  sendGroup(groupId: string, body: MessageBody, options?: SendOptions): PendingSend<GroupSentFrame>;
}

/** Options for {@link MediaSender}. */
export interface MediaSenderOptions {
  host: MediaSendHost;
  media: MediaApi;
  generateId?: (() => string) | undefined;
  /** Pauses between upload attempts. Default base 1 s, cap 30 s (full jitter). */
  retry?: BackoffOptions | undefined;
}

/** A placeholder media id, to validate a body before the upload gives the real one. */
const PLACEHOLDER_ID = '0'.repeat(26);
/** The message fields beyond media, caption and thumbnail that each kind has. */
const KIND_FIELDS: Record<MediaMessageKind, ReadonlyArray<'width' | 'height' | 'durationMs' | 'fileName'>> = {
  image: ['width', 'height'],
  video: ['width', 'height', 'durationMs'],
  voice: ['durationMs'],
  document: ['fileName'],
  sticker: ['width', 'height'],
};

interface Running {
  info: PendingUpload;
  input: MediaSendInput;
  controller: AbortController;
}

function settled<T>(promise: Promise<T>): Promise<T> {
  // Callers often fire and forget (they listen to events instead); don't crash Node on rejection.
  promise.catch(() => undefined);
  return promise;
}

/** The message body for `input` naming `media` (throws `validation_failed` for invalid fields). */
export function mediaMessageBody(input: MediaSendInput, media: { id: string; mime: string; size: number }): MediaBody {
  const body: Record<string, unknown> = { kind: input.kind, media };
  if (input.caption !== undefined) body.caption = input.caption;
  if (input.thumbnail !== undefined) body.thumbnail = input.thumbnail;
  for (const field of KIND_FIELDS[input.kind] ?? []) if (input[field] !== undefined) body[field] = input[field];
  const parsed = MessageBodySchema.safeParse(body);
  if (!parsed.success || !isMediaBody(parsed.data)) {
    const issue = parsed.error?.issues[0];
    throw new MessengerError('validation_failed', `Invalid ${input.kind} message: ${issue === undefined ? 'not a media kind' : `${issue.path.join('.')} ${issue.message}`}`);
  }
  return parsed.data;
}

/**
 * Runs media sends for a client: upload with retries, then into the outbox.
 *
 * @example
 * const { clientId, uploaded, sent } = client.sendMedia(peerId, { kind: 'image', data: file, mime: file.type, caption: 'look' });
 * client.on('upload_progress', (p) => p.clientId === clientId && bar(p.sent / p.total));
 */
export class MediaSender {
  private readonly host: MediaSendHost;
  private readonly media: MediaApi;
  private readonly generateId: () => string;
  private readonly retry: BackoffOptions;
  private readonly running = new Map<string, Running>();

  constructor(options: MediaSenderOptions) {
    this.host = options.host;
    this.media = options.media;
    this.generateId = options.generateId ?? generateClientId;
    this.retry = options.retry ?? { baseMs: 1_000, capMs: 30_000 };
  }

  /** Start a media send (invalid input throws at once, as `send` does). */
  send(target: { to: string }, input: MediaSendInput, options?: SendOptions): PendingMediaSend<SentFrame>;
  send(target: { group: string }, input: MediaSendInput, options?: SendOptions): PendingMediaSend<GroupSentFrame>;
  send(target: MediaTarget, input: MediaSendInput, options: SendOptions = {}): PendingMediaSend {
    const where: MediaTarget = target.group !== undefined ? { group: target.group } : { to: target.to };
    if (where.group !== undefined && !GroupIdSchema.safeParse(where.group).success) {
      throw new MessengerError('validation_failed', `Group ${JSON.stringify(where.group)} is not a group id`);
    }
    if (where.to !== undefined && !UserIdSchema.safeParse(where.to).success) {
      throw new MessengerError('validation_failed', `Recipient ${JSON.stringify(where.to)} is not a user id`);
    }
    const size = mediaDataSize(input.data);
    const mime = checkMediaUpload(input.kind, input.mime, size);
    // Every field is checked now, so the message cannot be refused as invalid after the upload.
    mediaMessageBody(input, { id: PLACEHOLDER_ID, mime, size });
    const clientId = options.clientId ?? this.generateId();
    if (!ClientIdSchema.safeParse(clientId).success) {
      throw new MessengerError('validation_failed', `Client id ${JSON.stringify(clientId)} must be 1-64 characters of [A-Za-z0-9_-]`);
    }
    if (this.running.has(clientId)) throw new MessengerError('id_conflict', `Client id ${JSON.stringify(clientId)} is already uploading`);

    const info: PendingUpload = {
      ...where,
      clientId,
      kind: input.kind,
      mime,
      ...(input.caption === undefined ? {} : { caption: input.caption }),
      ...(input.kind === 'document' && input.fileName !== undefined ? { fileName: input.fileName } : {}),
      sent: 0,
      total: size,
      state: 'uploading',
      failures: 0,
      createdAt: Date.now(),
    };
    const run: Running = { info, input, controller: new AbortController() };
    this.running.set(clientId, run);
    const uploaded = settled(this.upload(run));
    const sent = settled(
      uploaded.then((media) => {
        const body = mediaMessageBody(input, { id: media.mediaId, mime: media.mime, size: media.size });
        const queued = where.group !== undefined ? this.host.sendGroup(where.group, body, { clientId }) : this.host.send(where.to, body, { clientId });
        return queued.sent as Promise<SendAck>;
      }),
    );
    const cancel = (): void => run.controller.abort(new DOMException('Upload cancelled', 'AbortError'));
    return { clientId, uploaded, sent, cancel };
  }

  /** Media sends still uploading, oldest first (copies). */
  pending(): PendingUpload[] {
    return [...this.running.values()].map((run) => ({ ...run.info }));
  }

  private async upload(run: Running): Promise<UploadedMedia> {
    const { info, input, controller } = run;
    const signal = controller.signal;
    const backoff = new Backoff(this.retry);
    try {
      for (;;) {
        try {
          info.state = 'uploading';
          return await this.media.upload(input.data, {
            kind: input.kind,
            mime: input.mime,
            signal,
            onProgress: (progress) => this.progress(run, progress),
          });
        } catch (error) {
          if (signal.aborted) throw signal.reason;
          if (!(error instanceof MessengerError) || !error.retryable) throw error;
          info.state = 'waiting';
          info.failures += 1;
          info.lastError = error;
          await this.pause(Math.max(backoff.next(), error.retryAfterMs ?? 0), signal);
        }
      }
    } catch (error) {
      this.running.delete(info.clientId);
      this.host.emit('upload_failed', { ...this.target(info), clientId: info.clientId, error });
      throw error;
    } finally {
      this.running.delete(info.clientId);
    }
  }

  private progress(run: Running, progress: UploadProgress): void {
    run.info.sent = progress.sent;
    run.info.total = progress.total;
    this.host.emit('upload_progress', { ...this.target(run.info), clientId: run.info.clientId, sent: progress.sent, total: progress.total });
    try {
      run.input.onProgress?.(progress);
    } catch {
      // An app callback must not break the upload.
    }
  }

  private target(info: PendingUpload): MediaTarget {
    return info.group !== undefined ? { group: info.group } : { to: info.to };
  }

  /**
   * Wait `ms` before the next attempt, or less: the connection opening again means the network
   * is back, so the upload retries at once. Rejects when the send is cancelled.
   */
  private pause(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const wasOpen = this.host.state === 'open';
      const finish = (): void => {
        clearTimeout(timer);
        off();
        signal.removeEventListener('abort', onAbort);
      };
      const onAbort = (): void => {
        finish();
        reject(signal.reason);
      };
      const timer = setTimeout(() => {
        finish();
        resolve();
      }, ms);
      const off = this.host.on('state', (change) => {
        if (wasOpen || change.state !== 'open') return;
        finish();
        resolve();
      });
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
