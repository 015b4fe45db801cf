/**
 * Turning what the user typed into ids, and ids back into names.
 *
 * A peer can be given as a user id (ULID), a phone number in any common notation, or a name: of
 * one of your contacts, or of someone you have a chat with (as `messenger chats` shows it); a
 * group as its id or its title. While the server cannot be reached, names and numbers are looked
 * up in the device's names cache (names.json) instead, so `send` can still queue a message.
 */
import { MessengerError } from '../client/index.ts';
import type { Contact, GroupSummary, MessengerApi } from '../client/index.ts';
import { HISTORY_MAX_LIMIT, ULID_PATTERN } from '../protocol/index.ts';
import { CliError, EXIT, isUnreachable, usageError } from './errors.ts';
import type { NamesCache } from './stores.ts';

/** Digits with optional +, spaces, dots, dashes and parentheses. */
const PHONE_LIKE = /^\+?[0-9(][0-9 ().\-/]*$/;

/** Whether `input` is written like a phone number (it may still be invalid). */
export function looksLikePhone(input: string): boolean {
  return PHONE_LIKE.test(input.trim());
}

/**
 * `input` if it could be a phone number; the server checks the rest.
 *
 * @example
 * checkPhone('+49 151 1234 5678') // '+49 151 1234 5678'
 */
export function checkPhone(input: string): string {
  const digits = input.replace(/[^0-9]/g, '');
  if (!looksLikePhone(input) || digits.length < 3 || input.trim().length > 32) {
    throw new CliError('invalid_phone', `"${input}" is not a valid phone number; use the international form, e.g. +4915112345678`, EXIT.usage);
  }
  return input.trim();
}

/** A user the command is about. */
export interface PeerRef {
  userId: string;
  /** How to call them: contact label, profile name, or phone number. */
  name: string;
}

export interface GroupRef {
  groupId: string;
  title: string;
}

/** Short form of an id for display when no name is known. */
export function shortId(id: string): string {
  return `user ${id.slice(-6)}`;
}

function isUlid(input: string): boolean {
  return ULID_PATTERN.test(input.toUpperCase());
}

/** The names cache of the session each API object belongs to (see `useNamesCache`). */
const caches = new WeakMap<MessengerApi, NamesCache>();

/** Remember the names `api` sees in `cache`, and fall back to it when the server is unreachable. */
export function useNamesCache(api: MessengerApi, cache: NamesCache): void {
  caches.set(api, cache);
}

/** The names cache attached to `api`, if any. */
export function namesCacheOf(api: MessengerApi): NamesCache | undefined {
  return caches.get(api);
}

/** The last title this device saw for a group (e.g. one you left), if any. */
export function knownGroupTitle(api: MessengerApi, groupId: string): string | undefined {
  return caches.get(api)?.groupTitle(groupId);
}

/**
 * The title of a group you are no longer in, from what this device saw or else from your
 * mailbox's copy of the group (its newest "created" or "renamed" event), or undefined.
 */
export async function pastGroupTitle(api: MessengerApi, groupId: string): Promise<string | undefined> {
  const known = caches.get(api)?.groupTitle(groupId);
  if (known !== undefined) return known;
  try {
    const page = await api.groupHistory(groupId, { limit: HISTORY_MAX_LIMIT });
    for (const { entry } of page.entries) {
      if (entry.type !== 'event') continue;
      const { change } = entry.event;
      if (change.kind === 'created' || change.kind === 'title_changed') {
        caches.get(api)?.rememberGroup(groupId, change.title);
        return change.title;
      }
    }
  } catch {
    // Not readable any more: the short id will do.
  }
  return undefined;
}

/** Digits only, for comparing numbers written differently. */
function phoneDigits(phone: string): string {
  return phone.replace(/[^0-9]/g, '');
}

function lower(text: string): string {
  return text.trim().toLocaleLowerCase();
}

/** The single item whose names match `query` exactly, else by prefix; throws when ambiguous. */
export function pickByName<T>(items: readonly T[], names: (item: T) => string[], query: string, what: string, idOf: (item: T) => string): T | undefined {
  const wanted = lower(query);
  const exact = items.filter((item) => names(item).some((name) => name !== '' && lower(name) === wanted));
  const candidates = exact.length > 0 ? exact : items.filter((item) => names(item).some((name) => name !== '' && lower(name).startsWith(wanted)));
  if (candidates.length > 1) {
    const ids = candidates.slice(0, 5).map(idOf).join(', ');
    throw usageError(`"${query}" matches ${candidates.length} ${what}; use the id instead (${ids})`);
  }
  return candidates[0];
}

/** Look a phone number up, with friendly errors. */
async function userByPhone(api: MessengerApi, phone: string): Promise<PeerRef> {
  checkPhone(phone);
  try {
    const profile = await api.userByPhone(phone);
    return { userId: profile.userId, name: profile.displayName || profile.phone || phone };
  } catch (error) {
    if (error instanceof MessengerError && error.code === 'user_not_found') {
      throw new CliError('user_not_found', `Nobody uses the messenger with the number ${phone}`, EXIT.notFound);
    }
    if (error instanceof MessengerError && error.code === 'invalid_phone') {
      throw new CliError('invalid_phone', `"${phone}" is not a valid phone number; use the international form, e.g. +4915112345678`, EXIT.usage);
    }
    throw error;
  }
}

/** Someone a name can refer to: a contact or the peer of a chat (or, offline, a cached name). */
export interface PeerCandidate {
  userId: string;
  /** The names they answer to: contact label, profile name, the name shown in the chat list. */
  names: string[];
  /** Their number, when known (contacts, and people looked up by number). */
  phone?: string;
}

/** The one candidate a name means; throws a usage error when it means several. */
export function pickPeer(candidates: readonly PeerCandidate[], query: string): PeerCandidate | undefined {
  return pickByName(candidates, (c) => c.names, query, 'people', (c) => c.phone ?? c.userId);
}

/**
 * What to type for `chat`, `send` or `history` to mean `userId`, whose name in the chat list is
 * `title`: the name itself when it means them alone, else their number, else their user id.
 */
export function peerHandle(candidates: readonly PeerCandidate[], userId: string, title: string): string {
  if (title !== '' && !looksLikePhone(title) && !isUlid(title.trim())) {
    const wanted = lower(title);
    const exact = candidates.filter((c) => c.names.some((name) => name !== '' && lower(name) === wanted));
    if (exact.length === 1 && exact[0]!.userId === userId) return title;
  }
  return candidates.find((c) => c.userId === userId)?.phone ?? userId;
}

function notFoundByName(text: string): CliError {
  return new CliError(
    'user_not_found',
    `No contact called "${text}", and no chat with anyone of that name; use a phone number or user id (see \`messenger contacts list\` and \`messenger chats\`)`,
    EXIT.notFound,
  );
}

async function resolveOnline(api: MessengerApi, directory: Directory, text: string): Promise<PeerRef> {
  if (isUlid(text)) {
    const userId = text.toUpperCase();
    try {
      await api.user(userId);
    } catch (error) {
      if (error instanceof MessengerError && error.code === 'user_not_found') {
        throw new CliError('user_not_found', `No user has the id ${userId}`, EXIT.notFound);
      }
      throw error;
    }
    return { userId, name: await directory.name(userId) };
  }
  if (looksLikePhone(text)) {
    const peer = await userByPhone(api, text);
    directory.remember(peer.userId, peer.name);
    const name = await directory.name(peer.userId);
    caches.get(api)?.rememberUser(peer.userId, name, text);
    return { userId: peer.userId, name };
  }
  const found = pickPeer(await directory.candidates(), text);
  if (found === undefined) throw notFoundByName(text);
  return { userId: found.userId, name: await directory.name(found.userId) };
}

/** The user meant by `text` from the names cache alone (the server cannot be reached). */
function resolveOffline(cache: NamesCache | undefined, text: string): PeerRef | undefined {
  if (cache === undefined) return undefined;
  if (isUlid(text)) {
    const userId = text.toUpperCase();
    return { userId, name: cache.user(userId)?.name ?? shortId(userId) };
  }
  const known = cache.users();
  if (looksLikePhone(text)) {
    const digits = phoneDigits(text);
    const user = known.find((u) => u.phone !== undefined && phoneDigits(u.phone) === digits);
    return user === undefined ? undefined : { userId: user.userId, name: user.name };
  }
  const user = pickPeer(
    known.map((u) => ({ userId: u.userId, names: [u.name], ...(u.phone === undefined ? {} : { phone: u.phone }) })),
    text,
  );
  return user === undefined ? undefined : { userId: user.userId, name: user.names[0]! };
}

/**
 * The user meant by `input`: a user id, a phone number, or the name of a contact or of someone
 * in your chat list. When the server cannot be reached, the names this device saw before are
 * used (and the server's error is thrown if they do not say who it is).
 *
 * @example
 * await resolvePeer(api, directory, '+49 151 1234 5678') // { userId: '01J…', name: 'Bob' }
 */
export async function resolvePeer(api: MessengerApi, directory: Directory, input: string): Promise<PeerRef> {
  const text = input.trim();
  if (text === '') throw usageError('Say who: a phone number, a user id, or a contact name');
  try {
    return await resolveOnline(api, directory, text);
  } catch (error) {
    if (!isUnreachable(error)) throw error;
    const offline = resolveOffline(caches.get(api), text);
    if (offline === undefined) throw error;
    return offline;
  }
}

/** Pages fetched at most when listing every group (200 each). */
const MAX_GROUP_PAGES = 50;

/** Every group you are in, newest first (the server answers them in pages). */
export async function allGroups(api: MessengerApi): Promise<GroupSummary[]> {
  const groups: GroupSummary[] = [];
  let before: string | undefined;
  for (let page = 0; page < MAX_GROUP_PAGES; page++) {
    const list = await api.groups(before === undefined ? { limit: HISTORY_MAX_LIMIT } : { before, limit: HISTORY_MAX_LIMIT });
    groups.push(...list.groups);
    for (const group of list.groups) caches.get(api)?.rememberGroup(group.groupId, group.title);
    if (list.nextBefore === null) break;
    before = list.nextBefore;
  }
  return groups;
}

/** Whether `input` is written like an id (a ULID). */
export function looksLikeId(input: string): boolean {
  return isUlid(input.trim());
}

/**
 * The group meant by `input`: its id or (a unique prefix of) its title.
 *
 * @example
 * await resolveGroup(api, 'climbing') // { groupId: '01J…', title: 'Climbing' }
 */
export async function resolveGroup(api: MessengerApi, input: string): Promise<GroupRef> {
  const text = input.trim();
  if (text === '') throw usageError('Say which group: its title or id');
  try {
    return await resolveGroupOnline(api, text);
  } catch (error) {
    const cache = caches.get(api);
    if (!isUnreachable(error) || cache === undefined) throw error;
    // Offline: the groups this device saw (the server refuses a send to one you left later).
    if (isUlid(text)) {
      const groupId = text.toUpperCase();
      const title = cache.groupTitle(groupId);
      if (title === undefined) throw error;
      return { groupId, title };
    }
    const group = pickByName(cache.groups(), (g) => [g.title], text, 'groups', (g) => g.groupId);
    if (group === undefined) throw error;
    return group;
  }
}

async function resolveGroupOnline(api: MessengerApi, text: string): Promise<GroupRef> {
  const groups = await allGroups(api);
  if (isUlid(text)) {
    const groupId = text.toUpperCase();
    const mine = groups.find((g) => g.groupId === groupId);
    if (mine !== undefined) return { groupId, title: mine.title };
    // Not (or no longer) a member: let the server say which it is.
    const group = await api.group(groupId);
    caches.get(api)?.rememberGroup(groupId, group.title);
    return { groupId, title: group.title };
  }
  const group = pickByName<GroupSummary>(groups, (g) => [g.title], text, 'groups', (g) => g.groupId);
  if (group === undefined) {
    throw new CliError('group_not_found', `You are in no group called "${text}" (see \`messenger groups list\`)`, EXIT.notFound);
  }
  return { groupId: group.groupId, title: group.title };
}

function contactName(contact: Contact): string {
  return contact.name || contact.displayName || contact.phone;
}

/** Direct chats looked at when resolving a name (the newest ones; older chats need a number or id). */
const CHAT_PEERS_LIMIT = 50;

/**
 * Names of users, for display: your label for a contact, else their profile name, else a short
 * id. Looks each user up once per run, and remembers what it learns in the names cache.
 */
export class Directory {
  private readonly api: MessengerApi;
  private readonly me: string;
  private readonly cache: NamesCache | undefined;
  private readonly known = new Map<string, string>();
  private readonly lookups = new Map<string, Promise<string>>();
  private contactList: Promise<Contact[]> | undefined;
  private candidateList: Promise<PeerCandidate[]> | undefined;

  constructor(api: MessengerApi, me: string) {
    this.api = api;
    this.me = me;
    this.cache = caches.get(api);
  }

  /** Your contacts (fetched once). */
  contacts(): Promise<Contact[]> {
    this.contactList ??= this.api.contacts().then(({ contacts }) => {
      for (const contact of contacts) {
        this.known.set(contact.userId, contactName(contact));
        this.cache?.rememberUser(contact.userId, contactName(contact), contact.phone);
      }
      return contacts;
    });
    return this.contactList;
  }

  /**
   * Everyone a name can mean: your contacts and the people of your newest direct chats, under
   * the names `chats` shows for them (fetched once).
   */
  candidates(): Promise<PeerCandidate[]> {
    this.candidateList ??= (async () => {
      const [contacts, page] = await Promise.all([this.contacts(), this.api.conversations({ limit: CHAT_PEERS_LIMIT })]);
      const byId = new Map<string, PeerCandidate>();
      for (const contact of contacts) {
        byId.set(contact.userId, { userId: contact.userId, names: [contact.name, contact.displayName].filter((n) => n !== ''), phone: contact.phone });
      }
      const peers = page.conversations.flatMap((c) => (c.kind === 'direct' && !byId.has(c.peer) && c.peer !== this.me ? [c.peer] : []));
      const names = await this.names(peers);
      peers.forEach((userId, i) => {
        const name = names[i]!;
        const phone = this.cache?.user(userId)?.phone;
        byId.set(userId, { userId, names: name === shortId(userId) ? [] : [name], ...(phone === undefined ? {} : { phone }) });
      });
      return [...byId.values()];
    })();
    return this.candidateList;
  }

  /** Use `name` for `userId` unless a contact label is known. */
  remember(userId: string, name: string): void {
    if (name !== '' && !this.known.has(userId)) {
      this.known.set(userId, name);
      this.cache?.rememberUser(userId, name);
    }
  }

  /** The name to show for `userId` ("You" for yourself). */
  async name(userId: string): Promise<string> {
    if (userId === this.me) return 'You';
    try {
      await this.contacts();
    } catch {
      // Names are cosmetic: fall back to profiles and ids.
    }
    const known = this.known.get(userId);
    if (known !== undefined) return known;
    let lookup = this.lookups.get(userId);
    if (lookup === undefined) {
      lookup = this.api.user(userId).then(
        (profile) => {
          if (profile.displayName === '') return this.cache?.user(userId)?.name ?? shortId(userId);
          this.remember(userId, profile.displayName);
          return profile.displayName;
        },
        () => this.cache?.user(userId)?.name ?? shortId(userId),
      );
      this.lookups.set(userId, lookup);
    }
    return lookup;
  }

  /** What is known right now, without asking the server. */
  cachedName(userId: string): string {
    if (userId === this.me) return 'You';
    return this.known.get(userId) ?? this.cache?.user(userId)?.name ?? shortId(userId);
  }

  async names(userIds: readonly string[]): Promise<string[]> {
    return Promise.all(userIds.map((id) => this.name(id)));
  }
}
