/**
 * Turning what the user typed into ids, and ids back into names.
 *
 * A peer can be given as a user id (ULID), a phone number in any common notation, or the name of
 * one of your contacts; a group as its id or its title.
 */
import { MessengerError } from '../client/index.ts';
import type { Contact, GroupSummary, MessengerApi } from '../client/index.ts';
import { HISTORY_MAX_LIMIT, ULID_PATTERN } from '../protocol/index.ts';
import { CliError, EXIT, usageError } from './errors.ts';

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

/**
 * The user meant by `input`: a user id, a phone number, or a contact's name.
 *
 * @example
 * await resolvePeer(api, directory, '+49 151 1234 5678') // { userId: '01J…', name: 'Bob' }
 */
export async function resolvePeer(api: MessengerApi, directory: Directory, input: string): Promise<PeerRef> {
  const text = input.trim();
  if (text === '') throw usageError('Say who: a phone number, a user id, or a contact name');
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
    return { userId: peer.userId, name: await directory.name(peer.userId) };
  }
  const contacts = await directory.contacts();
  const contact = pickByName(contacts, (c) => [c.name, c.displayName], text, 'contacts', (c) => c.phone);
  if (contact === undefined) {
    throw new CliError(
      'user_not_found',
      `No contact called "${text}"; use a phone number or user id (see \`messenger contacts list\`)`,
      EXIT.notFound,
    );
  }
  return { userId: contact.userId, name: contactName(contact) };
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
  const groups = await allGroups(api);
  if (isUlid(text)) {
    const groupId = text.toUpperCase();
    const mine = groups.find((g) => g.groupId === groupId);
    if (mine !== undefined) return { groupId, title: mine.title };
    // Not (or no longer) a member: let the server say which it is.
    const group = await api.group(groupId);
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

/**
 * Names of users, for display: your label for a contact, else their profile name, else a short
 * id. Looks each user up once per run.
 */
export class Directory {
  private readonly api: MessengerApi;
  private readonly me: string;
  private readonly known = new Map<string, string>();
  private readonly lookups = new Map<string, Promise<string>>();
  private contactList: Promise<Contact[]> | undefined;

  constructor(api: MessengerApi, me: string) {
    this.api = api;
    this.me = me;
  }

  /** Your contacts (fetched once). */
  contacts(): Promise<Contact[]> {
    this.contactList ??= this.api.contacts().then(({ contacts }) => {
      for (const contact of contacts) this.known.set(contact.userId, contactName(contact));
      return contacts;
    });
    return this.contactList;
  }

  /** Use `name` for `userId` unless a contact label is known. */
  remember(userId: string, name: string): void {
    if (name !== '' && !this.known.has(userId)) this.known.set(userId, name);
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
          const name = profile.displayName || shortId(userId);
          this.remember(userId, name);
          return name;
        },
        () => shortId(userId),
      );
      this.lookups.set(userId, lookup);
    }
    return lookup;
  }

  /** What is known right now, without asking the server. */
  cachedName(userId: string): string {
    if (userId === this.me) return 'You';
    return this.known.get(userId) ?? shortId(userId);
  }

  async names(userIds: readonly string[]): Promise<string[]> {
    return Promise.all(userIds.map((id) => this.name(id)));
  }
}
