/**
 * The rules of message actions, shared by the user's mailbox (1:1 chats, a user's own copies)
 * and the group object (group logs): who may do what, within which window, and what a message
 * looks like after a reaction, an edit or a deletion. Pure functions over protocol types: the
 * objects decide where the result is stored.
 */
import {
  EDIT_HISTORY_MAX,
  EDIT_WINDOW_DEFAULT_MS,
  QUOTE_SNIPPET_MAX,
  RECALL_WINDOW_DEFAULT_MS,
  isMediaBody,
  type Action,
  type ActionSummary,
  type ErrorCode,
  type MessageBody,
  type Quote,
  type StoredBody,
} from '../protocol/index.ts';

/** The fields every stored message has that actions read or change (Message and GroupMessage alike). */
export type Actionable = {
  id: string;
  from: string;
  sentAt: number;
  body: StoredBody;
  replyTo?: Quote;
  editedAt?: number;
  edits?: Array<{ body: MessageBody; at: number }>;
  reactions?: Array<{ by: string; emoji: string; at: number }>;
  starred?: true;
  rev?: number;
};

export type ActionWindows = { editMs: number; recallMs: number };

/** The deployment's windows (EDIT_WINDOW_MINUTES, RECALL_WINDOW_HOURS), defaults when unset or invalid. */
export function actionWindows(env: { EDIT_WINDOW_MINUTES?: string; RECALL_WINDOW_HOURS?: string }): ActionWindows {
  const minutes = Number(env.EDIT_WINDOW_MINUTES);
  const hours = Number(env.RECALL_WINDOW_HOURS);
  return {
    editMs: Number.isFinite(minutes) && minutes > 0 ? minutes * 60_000 : EDIT_WINDOW_DEFAULT_MS,
    recallMs: Number.isFinite(hours) && hours > 0 ? hours * 3_600_000 : RECALL_WINDOW_DEFAULT_MS,
  };
}

/** A refusal: the protocol error code to answer with. */
export class ActionRefused extends Error {
  constructor(readonly code: ErrorCode) {
    super(code);
  }
}

/** What to show of a body in a quote, a notification or a chat list: its text, caption or name. */
export function snippetOf(body: StoredBody, max = QUOTE_SNIPPET_MAX): string {
  let text = '';
  switch (body.kind) {
    case 'text':
      text = body.text;
      break;
    case 'location':
      text = body.name ?? '';
      break;
    case 'contact':
      text = body.name;
      break;
    case 'document':
      text = body.caption ?? body.fileName ?? '';
      break;
    case 'image':
    case 'video':
    case 'voice':
    case 'sticker':
      text = body.caption ?? '';
      break;
    case 'ciphertext':
    case 'deleted':
      text = '';
      break;
  }
  return [...text].slice(0, max).join('').slice(0, max);
}

/** The quote a reply to `message` carries. Refuses a deleted message (nothing left to quote). */
export function quoteOf(message: Actionable): Quote {
  if (message.body.kind === 'deleted') throw new ActionRefused('message_deleted');
  return { id: message.id, from: message.from, kind: message.body.kind, snippet: snippetOf(message.body) };
}

/**
 * Check that `actor` may apply `action` to `message` now. `admin`: the actor administers the
 * group the message is in (may delete anyone's message for everyone, at any time). Throws
 * ActionRefused; returns false when the action changes nothing (deleting a deleted message).
 */
export function checkAction(message: Actionable, actor: string, action: Action, now: number, windows: ActionWindows, admin = false): boolean {
  const deleted = message.body.kind === 'deleted';
  switch (action.kind) {
    case 'react':
      if (deleted) throw new ActionRefused('message_deleted');
      return true;
    case 'edit': {
      if (message.from !== actor) throw new ActionRefused('not_your_message');
      if (deleted) throw new ActionRefused('message_deleted');
      if (now - message.sentAt > windows.editMs) throw new ActionRefused('edit_window_passed');
      if (!editable(message.body as MessageBody, action.body) || (message.edits?.length ?? 0) >= EDIT_HISTORY_MAX) {
        throw new ActionRefused('not_editable');
      }
      return true;
    }
    case 'delete':
      if (action.scope === 'me') return !(deleted && message.body.kind === 'deleted' && message.body.scope === 'me');
      if (deleted) return false;
      if (message.from !== actor) {
        if (!admin) throw new ActionRefused('not_your_message');
        return true;
      }
      if (now - message.sentAt > windows.recallMs && !admin) throw new ActionRefused('recall_window_passed');
      return true;
    case 'star':
      return (message.starred === true) !== action.starred;
  }
}

/**
 * Whether `next` is an allowed edit of `current` (an edit must change something): a text becomes
 * another text; a media message
 * keeps everything but its caption; an end-to-end encrypted body becomes another one of the same
 * scheme (the server cannot see what changed: the clients hold the rule). Location and contact
 * bodies are not editable.
 */
export function editable(current: MessageBody, next: MessageBody): boolean {
  if (current.kind !== next.kind) return false;
  if (current.kind === 'text') return next.kind === 'text' && next.text !== current.text;
  if (current.kind === 'ciphertext') return next.kind === 'ciphertext' && next.scheme === current.scheme && next.data !== current.data;
  if (!isMediaBody(current) || !isMediaBody(next)) return false;
  const { caption: _a, ...restCurrent } = current;
  const { caption: _b, ...restNext } = next;
  return canonicalJson(restCurrent) === canonicalJson(restNext) && current.caption !== next.caption;
}

/** JSON with keys in a fixed order at every depth, so two equal bodies compare equal whatever order they were written in. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}

/**
 * The message after `action` by `actor` at `at` (a new object; `rev` one higher). `keepEdits`:
 * this copy is the sender's, which keeps earlier versions. Star and delete-for-me are the
 * caller's own copy only; the others are what every copy applies.
 */
export function applyAction<M extends Actionable>(message: M, actor: string, action: Action, at: number, keepEdits: boolean): M {
  const rev = (message.rev ?? 0) + 1;
  switch (action.kind) {
    case 'react': {
      const others = (message.reactions ?? []).filter((r) => r.by !== actor);
      const reactions = action.emoji === null ? others : [...others, { by: actor, emoji: action.emoji, at }];
      const { reactions: _old, ...rest } = message;
      return (reactions.length > 0 ? { ...rest, reactions, rev } : { ...rest, rev }) as M;
    }
    case 'edit': {
      if (message.body.kind === 'deleted') return message;
      const edits = keepEdits ? [...(message.edits ?? []), { body: message.body, at: message.editedAt ?? message.sentAt }] : undefined;
      const { edits: _old, ...rest } = message;
      return { ...rest, body: action.body, editedAt: at, ...(edits ? { edits } : {}), rev } as M;
    }
    case 'delete':
      return tombstone(message, actor, action.scope, at);
    case 'star': {
      const { starred: _old, ...rest } = message;
      return (action.starred ? { ...rest, starred: true, rev } : { ...rest, rev }) as M;
    }
  }
}

/** The message with its content gone: body a tombstone, no edits, quote, reactions or star left. */
export function tombstone<M extends Actionable>(message: M, by: string, scope: 'everyone' | 'me', at: number): M {
  const { edits: _e, replyTo: _q, reactions: _r, editedAt: _t, starred: _s, ...rest } = message;
  return { ...rest, body: { kind: 'deleted', by, scope, at }, rev: (message.rev ?? 0) + 1 } as M;
}

/** The content-free summary an update entry carries. */
export function summaryOf(action: Action): ActionSummary {
  switch (action.kind) {
    case 'react':
      return { kind: 'react', emoji: action.emoji };
    case 'edit':
      return { kind: 'edit' };
    case 'delete':
      return { kind: 'delete', scope: action.scope };
    case 'star':
      return { kind: 'star', starred: action.starred };
  }
}

/** What a retry of an action must repeat to count as the same action. */
export function actionFingerprint(chat: string, target: string, action: Action): string {
  return `${chat}\u0000${target}\u0000${JSON.stringify(action)}`;
}
