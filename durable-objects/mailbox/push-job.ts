/**
 * The push queue's message: "tell `userId`'s devices about new messages". Enqueued by a
 * mailbox object when messages arrive for a user with no connected device; the consumer
 * (worker/queues/push.ts) expands it to one job per registered device and sends each through
 * its platform's provider. Carries ids only, plus a text snippet when (and only when) the user
 * enabled previews, so by default nothing of a message passes through the queue or providers.
 */
import { z } from 'zod';
import { ConversationRefSchema, MessageIdSchema, UserIdSchema, type StoredBody } from '../../protocol/index.ts';

export const PushJobSchema = z.strictObject({
  userId: UserIdSchema,
  /** `message`: new messages in one chat; `summary`: messages held back (quiet hours, mutes), folded. */
  kind: z.enum(['message', 'summary']),
  /** The chat (message pushes); null for a summary. */
  conversation: ConversationRefSchema.nullable(),
  /** The newest message of the push (message pushes). */
  messageId: MessageIdSchema.nullable(),
  /** Messages this push stands for. */
  count: z.number().int().min(1),
  /** Chats they are in. */
  chats: z.number().int().min(1),
  /** The newest message's sender (message pushes). */
  from: UserIdSchema.nullable(),
  /** A snippet of the newest message, only when the user enabled previews. */
  preview: z.string().max(200).nullable(),
  /** Deliver without sound (summaries). */
  silent: z.boolean(),
  /** Set when the consumer expanded the job to one device. */
  deviceId: z.string().optional(),
  enqueuedAt: z.number().int(),
});
export type PushJob = z.infer<typeof PushJobSchema>;

export const PUSH_PREVIEW_MAX = 100;

/** What a push may show of a message body when previews are on. */
export function previewOf(body: StoredBody): string {
  switch (body.kind) {
    case 'text':
      return body.text.length > PUSH_PREVIEW_MAX ? `${body.text.slice(0, PUSH_PREVIEW_MAX - 1)}…` : body.text;
    case 'location':
      return '📍 Location';
    case 'contact':
      return '👤 Contact';
    case 'image':
      return '📷 Photo';
    case 'video':
      return '🎥 Video';
    case 'voice':
      return body.durationMs === undefined ? '🎤 Voice message' : `🎤 Voice message (${clock(body.durationMs)})`;
    case 'document':
      return `📄 ${body.fileName ?? 'Document'}`.slice(0, PUSH_PREVIEW_MAX);
    case 'sticker':
      return 'Sticker';
    case 'ciphertext':
      // End-to-end encrypted: the server cannot read it, so there is nothing to preview.
      return 'New message';
    case 'deleted':
      return 'This message was deleted';
  }
}

/** A duration as m:ss (h:mm:ss past an hour): `clock(12_400)` is '0:12'. */
export function clock(ms: number): string {
  const total = Math.floor(ms / 1000);
  const [h, m, s] = [Math.floor(total / 3600), Math.floor((total % 3600) / 60), total % 60];
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}
