/**
 * What a picked, dropped or pasted file is sent as: the media kind from its type (protocol's
 * MEDIA_LIMITS decides which image and video types are shown inline; anything else goes as a
 * document), and a friendly refusal before uploading when it is too large or not allowed.
 */
import { MEDIA_LIMITS, mediaMimeAllowed, type MediaKind } from '../../../protocol/index.ts';
import { formatBytes } from '../format.ts';

/** The kinds a message can carry from the composer (stickers have no picker yet; avatars are not messages). */
export type AttachKind = 'image' | 'video' | 'voice' | 'document';

/** A file ready to be sent: its kind and type (the essence, lowercase), or why it cannot be. */
export type AttachChoice = { ok: true; kind: AttachKind; mime: string } | { ok: false; reason: string };

/** `audio/webm;codecs=opus` → `audio/webm`; '' stays ''. */
export function mimeEssence(mime: string): string {
  return (mime.split(';')[0] ?? '').trim().toLowerCase();
}

/**
 * The kind a file is sent as. Images and videos of a type MEDIA_LIMITS lists show inline; audio
 * files are documents (a voice note is only what the recorder made: `recorded`); everything
 * else is a document (an unknown type as `application/octet-stream`).
 *
 * @example
 * chooseKind({ type: 'image/png', size: 1000 }).kind // 'image'
 */
export function chooseKind(file: { type: string; size: number }, recorded = false): AttachChoice {
  const mime = mimeEssence(file.type) || 'application/octet-stream';
  let kind: AttachKind = 'document';
  if (recorded && mediaMimeAllowed('voice', mime)) kind = 'voice';
  else if (mime.startsWith('image/') && mediaMimeAllowed('image', mime)) kind = 'image';
  else if (mime.startsWith('video/') && mediaMimeAllowed('video', mime)) kind = 'video';
  const refusal = refuse(kind, mime, file.size);
  return refusal === null ? { ok: true, kind, mime } : { ok: false, reason: refusal };
}

/** Why `size` bytes of `mime` cannot be uploaded as `kind` (null when they can). */
export function refuse(kind: MediaKind, mime: string, size: number): string | null {
  if (size <= 0) return 'That file is empty.';
  if (!mediaMimeAllowed(kind, mime)) return kind === 'document' ? 'Files of this type cannot be sent.' : 'This type of file cannot be used here.';
  const max = MEDIA_LIMITS[kind].maxBytes;
  if (size > max) return `That file is too large (${formatBytes(size)}). ${LABELS[kind]} can be up to ${formatBytes(max)}.`;
  return null;
}

const LABELS: Record<MediaKind, string> = {
  image: 'Photos',
  video: 'Videos',
  voice: 'Voice messages',
  document: 'Files',
  sticker: 'Stickers',
  avatar: 'Profile photos',
};
