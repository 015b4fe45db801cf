/**
 * Chats as the message actions and `history` name them: a person or a group, by whatever
 * `messenger chats` shows for it (a name, a number, a user id, a group title or id).
 */
import { MessengerError } from '../client/index.ts';
import type { GroupSummary, MessengerApi } from '../client/index.ts';
import type { ChatRef } from '../protocol/index.ts';
import { CliError, EXIT, isUnreachable, usageError } from './errors.ts';
import { allGroups, looksLikeId, looksLikePhone, namesCacheOf, pastGroupTitle, resolveGroup, resolvePeer } from './resolve.ts';
import type { Directory, GroupRef, PeerRef } from './resolve.ts';

/** A chat the command is about: a 1:1 chat with someone, or a group. */
export type ChatTarget = { kind: 'direct'; peer: PeerRef } | { kind: 'group'; group: GroupRef };

/** The protocol's reference to a chat. */
export function chatRefOf(target: ChatTarget): ChatRef {
  return target.kind === 'direct' ? { kind: 'direct', peer: target.peer.userId } : { kind: 'group', group: target.group.groupId };
}

/** "in the chat with Bob", `in "Climbing"`. */
export function inChat(target: ChatTarget): string {
  return target.kind === 'direct' ? `in the chat with ${target.peer.name}` : `in "${target.group.title}"`;
}

/** "the chat with Bob", `"Climbing"`. */
export function chatPhrase(target: ChatTarget): string {
  return target.kind === 'direct' ? `the chat with ${target.peer.name}` : `"${target.group.title}"`;
}

/** How a chat is named in a sentence: `Bob`, or `"Climbing"` for a group. */
export function chatName(target: ChatTarget): string {
  return target.kind === 'direct' ? target.peer.name : `"${target.group.title}"`;
}

function lowered(text: string): string {
  return text.trim().toLocaleLowerCase();
}

/** Whether `error` is the CLI's or the server's "no such user / group" answer. */
function isNotFound(error: unknown, codes: readonly string[]): boolean {
  return (error instanceof CliError || error instanceof MessengerError) && codes.includes(error.code);
}

/** A person or a group a chat name can mean. */
type ChatCandidate = { kind: 'direct'; userId: string; names: string[]; handle: string } | { kind: 'group'; groupId: string; title: string };

/**
 * The chat meant by `input`: what `messenger chats` shows for it (a name, a number, a user id, a
 * group title or id), so a person (a phone number, a user id, a contact or chat name) or a group
 * (its title, or a unique start of it, or its id). A name that means both a person and a group
 * is refused as ambiguous. When the server cannot be reached, the names this device saw are used.
 *
 * @example
 * await resolveChat(api, directory, 'Climbing') // { kind: 'group', group: { groupId: '01J…', title: 'Climbing' } }
 */
export async function resolveChat(api: MessengerApi, directory: Directory, input: string): Promise<ChatTarget> {
  const text = input.trim();
  if (text === '') throw usageError('Say which chat: a name as `messenger chats` shows it, a phone number, a user id, or a group title or id');
  if (looksLikePhone(text)) return { kind: 'direct', peer: await resolvePeer(api, directory, text) };
  if (looksLikeId(text)) return resolveChatById(api, directory, text.toUpperCase());
  let candidates: ChatCandidate[];
  try {
    const [people, groups] = await Promise.all([directory.candidates(), allGroups(api)]);
    candidates = [
      ...people.map((p): ChatCandidate => ({ kind: 'direct', userId: p.userId, names: p.names, handle: p.phone ?? p.userId })),
      ...groups.map((g): ChatCandidate => ({ kind: 'group', groupId: g.groupId, title: g.title })),
    ];
  } catch (error) {
    if (!isUnreachable(error)) throw error;
    const cache = namesCacheOf(api);
    if (cache === undefined) throw error;
    candidates = [
      ...cache.users().map((u): ChatCandidate => ({ kind: 'direct', userId: u.userId, names: [u.name], handle: u.phone ?? u.userId })),
      ...cache.groups().map((g): ChatCandidate => ({ kind: 'group', groupId: g.groupId, title: g.title })),
    ];
  }
  const found = pickChat(candidates, text);
  if (found === undefined) {
    throw new CliError(
      'chat_not_found',
      `No contact called "${text}", and no chat with anyone of that name or group of that title; use a phone number, a user id or a group id (see \`messenger chats\`)`,
      EXIT.notFound,
    );
  }
  if (found.kind === 'group') return { kind: 'group', group: { groupId: found.groupId, title: found.title } };
  return { kind: 'direct', peer: { userId: found.userId, name: await directory.name(found.userId) } };
}

/** The one chat a name means (exact names first, else unique starts); throws a usage error when it means several. */
function pickChat(candidates: readonly ChatCandidate[], query: string): ChatCandidate | undefined {
  const names = (c: ChatCandidate): string[] => (c.kind === 'direct' ? c.names : [c.title]);
  // Exact names beat unique starts across people and groups alike.
  const wanted = lowered(query);
  const exact = candidates.filter((c) => names(c).some((name) => name !== '' && lowered(name) === wanted));
  const pool = exact.length > 0 ? exact : candidates;
  const matches = pool.filter((c) => names(c).some((name) => name !== '' && lowered(name).startsWith(wanted)));
  if (matches.length <= 1) return matches[0];
  const what = matches.every((c) => c.kind === 'direct') ? 'people' : matches.every((c) => c.kind === 'group') ? 'groups' : 'chats (people and groups)';
  const ids = matches.slice(0, 5).map((c) => (c.kind === 'direct' ? c.handle : c.groupId)).join(', ');
  throw usageError(`"${query}" matches ${matches.length} ${what}; use the id instead (${ids})`);
}

/** A chat named by an id: one of your groups, else a user, else a group you are not (or no longer) in. */
async function resolveChatById(api: MessengerApi, directory: Directory, id: string): Promise<ChatTarget> {
  let mine: GroupSummary | undefined;
  try {
    mine = (await allGroups(api)).find((g) => g.groupId === id);
  } catch (error) {
    if (!isUnreachable(error)) throw error;
    const title = namesCacheOf(api)?.groupTitle(id);
    if (title !== undefined) return { kind: 'group', group: { groupId: id, title } };
    return { kind: 'direct', peer: await resolvePeer(api, directory, id) };
  }
  if (mine !== undefined) return { kind: 'group', group: { groupId: id, title: mine.title } };
  try {
    return { kind: 'direct', peer: await resolvePeer(api, directory, id) };
  } catch (error) {
    if (!isNotFound(error, ['user_not_found'])) throw error;
  }
  try {
    return { kind: 'group', group: await resolveGroup(api, id) };
  } catch (error) {
    if (isNotFound(error, ['not_group_member'])) {
      // A group you left or were removed from: what you had of it up to then is still yours to
      // read (the server says so, or refuses, when the history is asked for).
      const groupId = id.toUpperCase();
      return { kind: 'group', group: { groupId, title: (await pastGroupTitle(api, groupId)) ?? `group ${groupId.slice(-6)}` } };
    }
    if (!isNotFound(error, ['group_not_found', 'not_found'])) throw error;
    throw new CliError('chat_not_found', `No user or group has the id ${id}`, EXIT.notFound);
  }
}
