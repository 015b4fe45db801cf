/**
 * Names for ids: users' display names (and phone numbers where known) and group titles and
 * members. Looked up lazily through the SDK's HTTP API, cached in memory and in localStorage (per
 * logged-in user) so a reload shows names at once. Emits 'changed' when something new is known.
 */
import { Emitter } from '../../client/index.ts';
import { formatPhone } from './format.ts';
import type { Contact, Group, GroupMember, GroupSummary, MessengerApi, Profile } from '../../client/index.ts';

interface UserEntry {
  name: string;
  phone?: string;
  /** Profile photo's media id (null: none; absent: not known yet). */
  photo?: string | null;
}

interface GroupEntry {
  title: string;
  members?: GroupMember[];
  /** Group picture's media id (null: none; absent: not known yet). */
  picture?: string | null;
}

interface Cache {
  users: Record<string, UserEntry>;
  groups: Record<string, GroupEntry>;
}

/** Entries kept in localStorage (the most recently learned win). */
const MAX_CACHED = 1_000;
/** A failed lookup (offline?) may be tried again after this long. */
const RETRY_LOOKUP_MS = 30_000;
/** Groups per page of GET /v1/groups, and pages read at start (titles of more groups are looked up when shown). */
const GROUP_PAGE = 100;
const GROUP_PAGES_MAX = 10;

export class Directory extends Emitter<{ changed: undefined }> {
  private readonly users = new Map<string, UserEntry>();
  private readonly groups = new Map<string, GroupEntry>();
  private readonly inFlight = new Set<string>();
  /** Users looked up (or learned) in this session; cached names of others are refreshed once. */
  private readonly fresh = new Set<string>();
  /** Users whose profile photo was learned in this session. */
  private readonly photoFresh = new Set<string>();
  /** The user's contacts (ids); null until the contact list was read. */
  private contacts: Set<string> | null = null;
  private readonly key: string;
  private saveTimer: number | undefined;
  /** After logout: late lookups must not write the cache back. */
  private cleared = false;
  private readonly api: MessengerApi;
  readonly me: string;

  constructor(api: MessengerApi, me: string) {
    super();
    this.api = api;
    this.me = me;
    this.key = `messenger.directory.${me}`;
    this.restore();
  }

  /** A person's name for display: "You", their profile name, their number, or a placeholder. */
  userName(userId: string, options: { you?: string } = {}): string {
    if (userId === this.me && options.you !== undefined) return options.you;
    const entry = this.users.get(userId);
    if (!this.fresh.has(userId)) this.lookupUser(userId);
    if (entry?.name) return entry.name;
    if (entry?.phone) return formatPhone(entry.phone);
    return 'Unknown user';
  }

  /** The phone number (E.164), when known (own profile, lookups by number, contacts). */
  userPhone(userId: string): string | undefined {
    return this.users.get(userId)?.phone;
  }

  /** Whether someone is in the user's contacts; undefined until the contact list was read. */
  isContact(userId: string): boolean | undefined {
    return this.contacts === null ? undefined : this.contacts.has(userId);
  }

  /** The contact list (GET /v1/contacts): names, numbers and who is a contact. */
  rememberContacts(list: readonly Contact[]): void {
    this.contacts ??= new Set();
    for (const contact of list) this.rememberContact(contact);
    this.changed();
  }

  /**
   * Save a number as a contact (POST /v1/contacts) and remember it.
   *
   * @example
   * await directory.addContact('+4915112345678')
   */
  async addContact(phone: string, name?: string): Promise<Contact> {
    const contact = await this.api.addContact(phone, name);
    this.rememberContact(contact);
    this.changed();
    return contact;
  }

  /** A group's title ("Group" until it is known). */
  groupTitle(groupId: string): string {
    const entry = this.groups.get(groupId);
    if (entry === undefined) this.lookupGroup(groupId);
    return entry?.title ?? 'Group';
  }

  /**
   * A person's profile photo (media id), or null for none or not known yet. Looked up once per
   * session for people who are neither contacts (the list carries photos) nor fetched profiles.
   */
  userPhoto(userId: string): string | null {
    if (!this.photoFresh.has(userId)) this.lookupPhoto(userId);
    return this.users.get(userId)?.photo ?? null;
  }

  /** A group's picture (media id), or null for none or not known. */
  groupPicture(groupId: string): string | null {
    return this.groups.get(groupId)?.picture ?? null;
  }

  /** A group's members, when fetched (see {@link refreshGroup}). */
  groupMembers(groupId: string): GroupMember[] | undefined {
    return this.groups.get(groupId)?.members;
  }

  rememberProfile(profile: Profile): void {
    this.fresh.add(profile.userId);
    this.photoFresh.add(profile.userId);
    const previous = this.users.get(profile.userId);
    this.setUser(profile.userId, { name: profile.displayName, phone: profile.phone ?? previous?.phone, photo: profile.photo });
  }

  rememberContact(contact: Contact): void {
    this.fresh.add(contact.userId);
    // The contact list carries the photo as their privacy shows it: no profile look-up needed.
    this.photoFresh.add(contact.userId);
    this.contacts?.add(contact.userId);
    this.setUser(contact.userId, { name: contact.name || contact.displayName, phone: contact.phone, photo: contact.photo });
  }

  /** A group's title (and members, when the full group is given). */
  rememberGroup(group: Group | GroupSummary | { groupId: string; title: string }): void {
    const previous = this.groups.get(group.groupId);
    const members = 'members' in group ? group.members : previous?.members;
    const picture = 'picture' in group ? group.picture : previous?.picture;
    if (previous?.title === group.title && previous.members === members && previous.picture === picture) return;
    const entry: GroupEntry = { title: group.title };
    if (members !== undefined) entry.members = members;
    if (picture !== undefined) entry.picture = picture;
    this.groups.set(group.groupId, entry);
    this.changed();
    // Everyone in the member list gets a name on screen: look them up now, together.
    for (const member of members ?? []) this.userName(member.userId);
  }

  /**
   * Resolves once every one of these users has a name here (looked up now if needed; a failed
   * lookup just leaves the placeholder), so a list can be drawn with names at once.
   */
  async whenKnown(userIds: readonly string[]): Promise<void> {
    const unknown = [...new Set(userIds)].filter((id) => !this.fresh.has(id) && !this.users.has(id));
    await Promise.all(unknown.map((id) => this.api.user(id).then((profile) => this.rememberProfile(profile), () => undefined)));
  }

  /** Learn the titles of the user's groups, page by page (GET /v1/groups is paged, newest first). */
  async loadGroups(): Promise<void> {
    let before: string | undefined;
    for (let page = 0; page < GROUP_PAGES_MAX; page++) {
      const list = await this.api.groups(before === undefined ? { limit: GROUP_PAGE } : { before, limit: GROUP_PAGE });
      for (const group of list.groups) this.rememberGroup(group);
      if (list.nextBefore === null) return;
      before = list.nextBefore;
    }
  }

  /** Fetch a group's details (title, members); resolves with the group, or null on failure. */
  async refreshGroup(groupId: string): Promise<Group | null> {
    try {
      const group = await this.api.group(groupId);
      this.rememberGroup(group);
      return group;
    } catch {
      return null;
    }
  }

  /** A group's picture changed (a `picture_changed` event). */
  rememberGroupPicture(groupId: string, picture: string | null): void {
    const previous = this.groups.get(groupId);
    if (previous === undefined || previous.picture === picture) return;
    this.groups.set(groupId, { ...previous, picture });
    this.changed();
  }

  private setUser(userId: string, entry: UserEntry): void {
    const previous = this.users.get(userId);
    if (previous?.name === entry.name && previous.phone === entry.phone && previous.photo === entry.photo) return;
    this.users.set(userId, entry);
    this.changed();
  }

  private lookupUser(userId: string): void {
    const key = `u:${userId}`;
    if (this.inFlight.has(key)) return;
    this.inFlight.add(key);
    this.api.user(userId).then(
      (profile) => this.rememberProfile(profile),
      // Unknown or unreachable (offline?): keep what is shown, allow another try later.
      () => window.setTimeout(() => this.inFlight.delete(key), RETRY_LOOKUP_MS),
    );
  }

  /** The profile, for its photo only when the name is known already (a contact's own label stays). */
  private lookupPhoto(userId: string): void {
    const key = `p:${userId}`;
    if (this.inFlight.has(key) || this.inFlight.has(`u:${userId}`)) return;
    this.inFlight.add(key);
    this.api.user(userId).then(
      (profile) => {
        if (!this.fresh.has(userId)) {
          this.rememberProfile(profile);
          return;
        }
        this.photoFresh.add(userId);
        const entry = this.users.get(userId);
        if (entry !== undefined) this.setUser(userId, { ...entry, photo: profile.photo });
      },
      () => window.setTimeout(() => this.inFlight.delete(key), RETRY_LOOKUP_MS),
    );
  }

  private lookupGroup(groupId: string): void {
    const key = `g:${groupId}`;
    if (this.inFlight.has(key)) return;
    this.inFlight.add(key);
    void this.refreshGroup(groupId).then((group) => {
      if (group === null) window.setTimeout(() => this.inFlight.delete(key), RETRY_LOOKUP_MS);
    });
  }

  private changed(): void {
    if (this.cleared) return;
    this.emit('changed', undefined);
    if (this.saveTimer !== undefined) return;
    this.saveTimer = window.setTimeout(() => {
      this.saveTimer = undefined;
      this.save();
    }, 500);
  }

  private restore(): void {
    try {
      const raw = localStorage.getItem(this.key);
      if (raw === null) return;
      const cache = JSON.parse(raw) as Partial<Cache>;
      for (const [id, entry] of Object.entries(cache.users ?? {})) {
        if (typeof entry?.name !== 'string') continue;
        this.users.set(id, {
          name: entry.name,
          ...(typeof entry.phone === 'string' ? { phone: entry.phone } : {}),
          ...(typeof entry.photo === 'string' ? { photo: entry.photo } : {}),
        });
      }
      for (const [id, entry] of Object.entries(cache.groups ?? {})) {
        if (typeof entry?.title === 'string') this.groups.set(id, { title: entry.title, ...(typeof entry.picture === 'string' ? { picture: entry.picture } : {}) });
      }
    } catch {
      // A corrupt cache only costs a few lookups.
    }
  }

  private save(): void {
    const cache: Cache = {
      users: Object.fromEntries([...this.users].slice(-MAX_CACHED)),
      // Member lists change; they are fetched fresh, only titles (and pictures) are kept.
      groups: Object.fromEntries([...this.groups].slice(-MAX_CACHED).map(([id, g]) => [id, g.picture === undefined ? { title: g.title } : { title: g.title, picture: g.picture }])),
    };
    try {
      localStorage.setItem(this.key, JSON.stringify(cache));
    } catch {
      // Storage full: names are looked up again next time.
    }
  }

  /** Forget the cache (logout). */
  clear(): void {
    this.cleared = true;
    if (this.saveTimer !== undefined) window.clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    localStorage.removeItem(this.key);
  }
}
