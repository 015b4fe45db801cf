/**
 * The one place the web client calls the SDK's media API (client.media.*, client.sendMedia /
 * sendGroupMedia). Everything else in web/src talks to {@link MediaAdapter}, so a change in the
 * SDK's shape is a change here only.
 */
import { mediaMessageBody, type MediaSendInput, type MessengerClient, type UploadProgress } from '../../../client/index.ts';
import type { MediaBody, MediaKind, MediaUrl } from '../../../protocol/index.ts';
import type { AttachKind } from './kinds.ts';

/**
 * A media message before its upload: the file and what the body says about it (the SDK's send
 * input, with the picked file; `mime` is the type's essence, without parameters).
 */
export type MediaDraft = Omit<MediaSendInput, 'kind' | 'data' | 'onProgress'> & { kind: AttachKind; file: Blob };

/** A media message on its way: upload first, then the message. */
export interface MediaSending {
  clientId: string;
  /**
   * Resolves with the message's body (naming the stored media) when the bytes are stored (or
   * were already: deduplicated) and the message is in the outbox; rejects when the upload failed.
   */
  uploaded: Promise<MediaBody>;
  /** Start a failed upload again, when the SDK can. */
  retry: (() => void) | null;
  /** Stop the upload (then `uploaded` rejects with an AbortError, see {@link isCancelled}). */
  cancel: () => void;
}

export interface MediaAdapter {
  /** A signed URL for `<img>` / `<video>` / `<audio>`. */
  url(mediaId: string, fresh?: boolean): Promise<MediaUrl>;
  /** Upload a file of `kind` (avatars: profile photo, group picture); resolves with its media id. */
  upload(file: Blob, kind: MediaKind, mime: string, onProgress?: (fraction: number) => void): Promise<string>;
  /** Upload and send a media message to a chat; `onProgress` gets 0 … 1 while uploading. */
  send(chat: { kind: 'direct' | 'group'; id: string }, draft: MediaDraft, onProgress: (fraction: number) => void): MediaSending;
}

/** The body a draft becomes once its upload has the id `mediaId` (also used for the pending bubble). */
export function draftBody(draft: MediaDraft, mediaId: string): MediaBody {
  const media = { id: mediaId, mime: draft.mime, size: draft.file.size };
  const common = {
    media,
    ...(draft.caption !== undefined && draft.caption !== '' ? { caption: draft.caption } : {}),
    ...(draft.thumbnail !== undefined ? { thumbnail: draft.thumbnail } : {}),
  };
  switch (draft.kind) {
    case 'image':
      return { kind: 'image', ...common, ...dims(draft) };
    case 'video':
      return { kind: 'video', ...common, ...dims(draft), ...duration(draft) };
    case 'voice':
      return { kind: 'voice', ...common, ...duration(draft) };
    case 'document':
      return { kind: 'document', ...common, ...(draft.fileName !== undefined ? { fileName: draft.fileName } : {}) };
  }
}

function dims(draft: MediaDraft): { width?: number; height?: number } {
  return draft.width !== undefined && draft.height !== undefined ? { width: draft.width, height: draft.height } : {};
}

function duration(draft: MediaDraft): { durationMs?: number } {
  return draft.durationMs !== undefined ? { durationMs: draft.durationMs } : {};
}

/** The adapter over the SDK's media API. */
export function mediaAdapter(client: MessengerClient): MediaAdapter {
  const fraction = (p: UploadProgress): number => (p.total === 0 ? 0 : p.sent / p.total);
  return {
    url: (mediaId, fresh = false) => {
      if (fresh) client.media.forgetUrl(mediaId);
      return client.media.url(mediaId);
    },
    upload: async (file, kind, mime, onProgress) => {
      const uploaded = await client.media.upload(file, { kind, mime, onProgress: (p) => onProgress?.(fraction(p)) });
      return uploaded.mediaId;
    },
    send: (chat, draft, onProgress) => {
      const { file, ...fields } = draft;
      const input: MediaSendInput = { ...fields, data: file, onProgress: (p) => onProgress(fraction(p)) };
      // Retryable failures are retried by the SDK until they work; what rejects is final.
      const pending = chat.kind === 'direct' ? client.sendMedia(chat.id, input) : client.sendGroupMedia(chat.id, input);
      const uploaded = pending.uploaded.then((media) => mediaMessageBody(input, { id: media.mediaId, mime: media.mime, size: media.size }));
      // `sent` rejecting is reported by the client's 'failed' event (or follows a failed upload): handled there.
      pending.sent.catch(() => undefined);
      return { clientId: pending.clientId, uploaded, retry: null, cancel: () => pending.cancel() };
    },
  };
}

/** Whether an upload ended because it was cancelled (not a failure to tell the user about). */
export function isCancelled(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'AbortError';
}
