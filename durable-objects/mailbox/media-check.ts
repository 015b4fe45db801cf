/**
 * Messages that name uploaded media: checked in the sender's object before anything is stored,
 * and the audience granted download access before the message is delivered or posted (so a
 * recipient can download as soon as they see it). Other bodies cost nothing here.
 */
import { grantMedia, sendableMedia } from '../../db/media.ts';
import { isMediaBody, type MessageBody } from '../../protocol/index.ts';
import { FrameError } from './frame-error.ts';

export type MediaGrantee = { kind: 'user' | 'group'; id: string };

/**
 * Refuses (`media_not_found`, the same as for a made-up id) a media body whose upload is not
 * complete, does not match the body's type and size, or that `sender` may not use (neither
 * uploaded it nor may download it); otherwise grants `grantee` (idempotent: a retry writes
 * nothing new). One D1 read and one write for a media body; nothing for any other body.
 */
export async function admitMedia(db: D1Database, sender: string, body: MessageBody, grantee: MediaGrantee, now: number): Promise<void> {
  if (!isMediaBody(body)) return;
  const { id, mime, size } = body.media;
  if (!(await sendableMedia(db, id, mime, size, sender))) throw new FrameError('media_not_found');
  await grantMedia(db, id, grantee, now);
}
