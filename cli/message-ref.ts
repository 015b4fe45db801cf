/**
 * Turning the `<message>` argument of the message actions (`reply`, `react`, `edit`, `delete`,
 * `forward`, `star`) into a message: its id, or `last` (the newest message of the chat), `last-1`
 * (the one before), … counted among the messages the action can apply to.
 */
import type { GroupHistoryItem, MessengerApi } from '../client/index.ts';
import { HISTORY_MAX_LIMIT, ULID_PATTERN } from '../protocol/index.ts';
import { CliError, EXIT, usageError } from './errors.ts';
import { isDeleted, isDeletedForMe, plural } from './format.ts';
import type { AnyMessage } from './format.ts';
import { inChat } from './resolve-chat.ts';
import type { ChatTarget } from './resolve-chat.ts';

/** What `<message>` says: a message id, or the newest message but `back`. */
export type MessageSpec = { kind: 'id'; id: string } | { kind: 'last'; back: number };

/** Most history pages looked through for a message named by id (200 messages each). */
const MAX_SEARCH_PAGES = 5;
/** Furthest back `last-N` reaches. */
const MAX_BACK = HISTORY_MAX_LIMIT - 1;

/** The help line every action command shows for `<message>`. */
export const MESSAGE_ARG_DETAILS = [
  '<message> is a message id (`messenger history <chat> --ids` shows them) or `last` for the',
  'newest message of the chat, `last-1` for the one before, and so on.',
];

/**
 * @example
 * parseMessageSpec('last-2') // { kind: 'last', back: 2 }
 */
export function parseMessageSpec(input: string): MessageSpec {
  const text = input.trim();
  if (ULID_PATTERN.test(text.toUpperCase())) return { kind: 'id', id: text.toUpperCase() };
  const last = /^last(?:-([0-9]{1,3}))?$/i.exec(text);
  if (last !== null) {
    const back = last[1] === undefined ? 0 : Number(last[1]);
    if (back > MAX_BACK) throw usageError(`"${input}" reaches too far back (at most last-${MAX_BACK}); use the message id instead`);
    return { kind: 'last', back };
  }
  throw usageError(`"${input}" is not a message: give its id (\`messenger history <chat> --ids\` shows them) or last, last-1, …`);
}

/**
 * The messages of a group history page as you see them now, newest first: update entries replace
 * the copy of the message they carry when theirs is newer (higher `rev`), and messages only an
 * update names come last.
 */
export function groupPageMessages(entries: readonly GroupHistoryItem[]): AnyMessage[] {
  const latest = new Map<string, AnyMessage>();
  const order: string[] = [];
  const keep = (message: AnyMessage): void => {
    const known = latest.get(message.id);
    if (known === undefined || (message.rev ?? 0) > (known.rev ?? 0)) latest.set(message.id, message);
  };
  for (const { entry } of entries) {
    if (entry.type === 'message') {
      order.push(entry.message.id);
      keep(entry.message);
    } else if (entry.type === 'update') {
      keep(entry.update.message);
    }
  }
  const listed = new Set(order);
  const extra = [...latest.keys()].filter((id) => !listed.has(id));
  return [...order, ...extra].map((id) => latest.get(id)!);
}

/** One page of a chat's messages, newest first, without those you deleted for yourself. */
async function chatPage(api: MessengerApi, target: ChatTarget, before: number | undefined): Promise<{ messages: AnyMessage[]; nextBefore: number | null }> {
  const paging = before === undefined ? { limit: HISTORY_MAX_LIMIT } : { limit: HISTORY_MAX_LIMIT, before };
  if (target.kind === 'direct') {
    const page = await api.history(target.peer.userId, paging);
    return { messages: page.messages.map((item) => item.message).filter((m) => !isDeletedForMe(m)), nextBefore: page.nextBefore };
  }
  const page = await api.groupHistory(target.group.groupId, paging);
  return { messages: groupPageMessages(page.entries).filter((m) => !isDeletedForMe(m)), nextBefore: page.nextBefore };
}

/** Look for message `id` in the chat's newest pages; null when it is not among them. */
export async function findMessage(api: MessengerApi, target: ChatTarget, id: string): Promise<AnyMessage | null> {
  let before: number | undefined;
  for (let page = 0; page < MAX_SEARCH_PAGES; page++) {
    const { messages, nextBefore } = await chatPage(api, target, before);
    const found = messages.find((message) => message.id === id);
    if (found !== undefined) return found;
    if (nextBefore === null) return null;
    before = nextBefore;
  }
  return null;
}

export interface ResolveMessageOptions {
  /** The logged-in user. */
  me: string;
  /** `last` counts only your own messages (edit, delete for everyone). */
  own?: boolean;
}

/**
 * The message `spec` names in the chat: for `last-N` the (N+1)th newest message that is not
 * deleted (of yours with `own`); for an id, the message when it is among the newest pages, else
 * just the id (the server answers `message_not_found` if it is not in the chat).
 */
export async function resolveMessage(
  api: MessengerApi,
  target: ChatTarget,
  spec: MessageSpec,
  options: ResolveMessageOptions,
): Promise<{ id: string; message: AnyMessage | null }> {
  if (spec.kind === 'id') return { id: spec.id, message: await findMessage(api, target, spec.id) };
  const { messages } = await chatPage(api, target, undefined);
  const usable = messages.filter((m) => !isDeleted(m) && (options.own !== true || m.from === options.me));
  const message = usable[spec.back];
  if (message === undefined) {
    const whose = options.own === true ? ' of yours' : '';
    const what = usable.length === 0 ? `There is no message${whose}` : `There ${usable.length === 1 ? 'is' : 'are'} only ${plural(usable.length, 'message')}${whose}`;
    const needs = spec.back > 0 ? ` (last-${spec.back} needs ${spec.back + 1})` : '';
    throw new CliError('message_not_found', `${what} ${inChat(target)}${needs}`, EXIT.notFound);
  }
  return { id: message.id, message };
}
