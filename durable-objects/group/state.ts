/**
 * What every rule of the group object starts from: the parts built on its storage once the group
 * exists, its settings, the checks an entry point makes first (the group exists, the caller is a
 * member, an admin), system events, and the group as a member sees it.
 */
import { monotonicFactory } from 'ulid';
import { GROUP_VIEW_MEMBERS_MAX, type Group, type GroupChange } from '../../protocol/index.ts';
import type { MemberRow } from './members.ts';
import { buildParts, type Parts } from './parts.ts';
import { GroupError } from './result.ts';
import { hasSchema, migrate } from './schema.ts';
import { readSettings, type Settings } from './settings.ts';

const ulid = monotonicFactory();

export class GroupState {
  /**
   * Null until the group exists. An object addressed by an id that was never created (a random
   * id in a URL or a frame) must not write anything: creating the schema would leave a stored,
   * empty object behind for every id anyone makes up. So the schema is created by `create`,
   * and every other entry point answers `group_not_found` (or nothing) from a blank object.
   */
  #parts: Parts | null = null;
  /**
   * The settings row, read once per object start (a group message consults it ~28 times on its
   * way); `settingsWritten` drops it after management writes the row. Frozen: never edited in place.
   */
  #settings: Readonly<Settings> | null = null;

  constructor(
    readonly sql: SqlStorage,
    private readonly env: Env,
  ) {
    if (hasSchema(sql)) this.open();
  }

  /** Create or upgrade the schema and build the parts on it. */
  open(): Parts {
    if (this.#parts) return this.#parts;
    migrate(this.sql);
    this.#parts = buildParts({
      sql: this.sql,
      env: this.env,
      groupId: () => this.settings().groupId,
      event: (by, change, membership, at) => this.event(by, change, membership, at),
      newId: () => this.newId(),
      logFrom: () => this.find()?.logFrom ?? null,
    });
    return this.#parts;
  }

  /** The parts of a created group (callers have checked that it exists, via `find`). */
  get parts(): Parts {
    if (!this.#parts) throw new Error('group object used before it was created');
    return this.#parts;
  }

  /** Server ids of new log entries (monotonic, so ids sort like the log within this object). */
  newId(): string {
    return ulid();
  }

  /** Append a system event (membership events bound fan-out runs). */
  event(by: string, change: GroupChange, membership: boolean, at: number): void {
    this.parts.log.appendEvent(this.newId(), by, change, at, membership);
  }

  /** The settings, or null while the group does not exist. */
  find(): Readonly<Settings> | null {
    if (!this.#parts) return null;
    if (!this.#settings) {
      const row = readSettings(this.sql);
      this.#settings = row ? Object.freeze(row) : null;
    }
    return this.#settings;
  }

  /** The settings row was inserted or changed: read it again next time. */
  settingsWritten(): void {
    this.#settings = null;
  }

  /** The settings of a group the caller knows exists. */
  settings(): Readonly<Settings> {
    const s = this.find();
    if (!s) throw new Error('group object used before it was created');
    return s;
  }

  settingsOrThrow(): Readonly<Settings> {
    const s = this.find();
    if (!s) throw new GroupError('group_not_found');
    return s;
  }

  memberOrThrow(userId: string, code: 'not_group_member' | 'user_not_found' = 'not_group_member', message?: string): MemberRow {
    this.settingsOrThrow();
    const member = this.parts.members.get(userId);
    if (!member) throw new GroupError(code, message);
    return member;
  }

  adminOrThrow(userId: string): void {
    if (this.memberOrThrow(userId).role !== 'admin') throw new GroupError('not_group_admin');
  }

  /**
   * The group as `viewer` sees it: pending invites are listed for admins only. At most
   * GROUP_VIEW_MEMBERS_MAX members and invites, so a view of a large group costs the same as one
   * of 1,024 (members.view).
   */
  view(viewer: string): Group {
    const s = this.settings();
    const { log, members, consent } = this.parts;
    const admin = members.get(viewer)?.role === 'admin';
    return {
      groupId: s.groupId,
      title: s.title,
      description: s.description,
      picture: s.picture,
      onlyAdminsSend: s.onlyAdminsSend,
      createdBy: s.createdBy,
      createdAt: s.createdAt,
      head: log.head,
      memberCount: members.count(),
      members: members.view(viewer, GROUP_VIEW_MEMBERS_MAX),
      invites: admin ? consent.invites(GROUP_VIEW_MEMBERS_MAX) : [],
    };
  }
}
