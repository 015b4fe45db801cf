/**
 * Presence of one user, kept by their mailbox object.
 *
 * - Online: some device connection has heartbeated within PRESENCE_STALE_MS. Heartbeats are
 *   answered by the runtime (`setWebSocketAutoResponse`) without waking the object; the runtime
 *   records when it last answered each socket, which is what "heartbeating" is read from. A
 *   socket silent for longer is a ghost (its peer vanished without a close) and is closed.
 * - Last seen: the last *user* activity (send, read, `active` frame), stored in `meta`.
 * - Watchers: users who have this user's chat open. They are told when what they may see of this
 *   user changes (and only then: each watcher's last told value is kept, so a watcher who may see
 *   nothing never learns when this user comes or goes); a watcher whose devices no longer watch
 *   is dropped on the next change.
 *
 * Who sees what is decided by `visiblePresence`, a pure function of both users' settings.
 */
import { PRESENCE_STALE_MS, type LastSeenVisibility, type PrivacySettings } from '../../protocol/index.ts';
import { readMeta, writeMeta } from '../sqlite-schema.ts';

export type PresenceState = { online: boolean; lastSeen: number | null };

/** The viewer's side of the relation, decided by the viewer's object (their settings, contacts, blocks). */
export type ViewerRelation = {
  /** The viewer shares their own last seen with the owner (reciprocity). */
  viewerShares: boolean;
  /** The viewer blocked the owner. */
  viewerBlocks: boolean;
};

/** The owner's side, decided by the owner's object. */
export type OwnerRelation = {
  /** The viewer is in the owner's contacts. */
  isContact: boolean;
  /** The owner blocked the viewer. */
  ownerBlocks: boolean;
};

/** A watcher: its relation to this user, and the presence it was last told (what it sees now). */
export type Watcher = ViewerRelation & { viewer: string; isContact: boolean; told: PresenceState };

/** What a viewer sees when nothing is visible. */
export const HIDDEN: PresenceState = { online: false, lastSeen: null };

export function samePresence(a: PresenceState, b: PresenceState): boolean {
  return a.online === b.online && a.lastSeen === b.lastSeen;
}

/** Whether a user with this setting shares their last seen with someone (`isContact`: in their contacts). */
export function sharesLastSeen(setting: LastSeenVisibility, isContact: boolean): boolean {
  return setting === 'everyone' || (setting === 'contacts' && isContact);
}

/**
 * What a viewer may see of an owner's presence. Blocking either way hides everything. Last seen
 * is reciprocal: shown only if the owner shares it with the viewer and the viewer shares theirs
 * with the owner. "Online" follows last seen unless the owner shows it to everyone.
 */
export function visiblePresence(state: PresenceState, privacy: PrivacySettings, owner: OwnerRelation, viewer: ViewerRelation): PresenceState {
  if (owner.ownerBlocks || viewer.viewerBlocks) return { online: false, lastSeen: null };
  const lastSeenVisible = sharesLastSeen(privacy.lastSeen, owner.isContact) && viewer.viewerShares;
  const onlineVisible = privacy.online === 'everyone' || lastSeenVisible;
  return { online: onlineVisible && state.online, lastSeen: lastSeenVisible ? state.lastSeen : null };
}

/** Frames from a socket also prove it alive; kept in memory only (the runtime's timestamp covers hibernation). */
const lastFrameAt = new WeakMap<WebSocket, number>();

/**
 * Last activity is kept in memory as it happens and written at most this often while the user is
 * online (last seen is shown to the minute), and when their last device goes away: at one send a
 * second it was a write per message.
 */
const ACTIVITY_WRITE_MS = 30_000;

export class PresenceTracker {
  #lastActive: number;
  /** The value of `last_active_at` as stored. */
  #written: number;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly sql: SqlStorage,
    private readonly staleMs: number = PRESENCE_STALE_MS,
  ) {
    this.#lastActive = readMeta(sql, 'last_active_at');
    this.#written = this.#lastActive;
  }

  // ---------------------------------------------------------------- activity

  get lastSeen(): number | null {
    return this.#lastActive > 0 ? this.#lastActive : null;
  }

  /** The user did something (sent, read, opened the app). */
  recordActivity(now: number): void {
    this.#lastActive = Math.max(this.#lastActive, now);
    if (now - this.#written >= ACTIVITY_WRITE_MS) this.persistActivity();
  }

  /** Store the last activity if it moved since it was last stored (the user went offline). */
  persistActivity(): void {
    if (this.#lastActive <= this.#written) return;
    this.#written = this.#lastActive;
    writeMeta(this.sql, 'last_active_at', this.#lastActive);
  }

  // ---------------------------------------------------------------- liveness

  /** A frame arrived on `ws`: it is alive. */
  heard(ws: WebSocket, now: number): void {
    lastFrameAt.set(ws, now);
  }

  /** When `ws` last proved alive: its last heartbeat answer, last frame, or its connection time. */
  lastBeat(ws: WebSocket, connectedAt: number): number {
    const autoResponse = this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0;
    return Math.max(autoResponse, lastFrameAt.get(ws) ?? 0, connectedAt);
  }

  isFresh(ws: WebSocket, connectedAt: number, now: number): boolean {
    return now - this.lastBeat(ws, connectedAt) < this.staleMs;
  }

  // ---------------------------------------------------------------- announced state

  /** Online as last told to watchers (persisted, so a change is detected across evictions). */
  get announcedOnline(): boolean {
    return readMeta(this.sql, 'presence_online') === 1;
  }

  set announcedOnline(online: boolean) {
    writeMeta(this.sql, 'presence_online', online ? 1 : 0);
  }

  // ---------------------------------------------------------------- watchers

  watch(watcher: Watcher, now: number): void {
    this.sql.exec(
      `INSERT OR REPLACE INTO presence_watchers (viewer, viewer_shares, viewer_blocks, is_contact, since, told_online, told_last_seen)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
      watcher.viewer,
      watcher.viewerShares ? 1 : 0,
      watcher.viewerBlocks ? 1 : 0,
      watcher.isContact ? 1 : 0,
      now,
      watcher.told.online ? 1 : 0,
      watcher.told.lastSeen,
    );
  }

  /** Remember what `viewer` was just told. */
  told(viewer: string, told: PresenceState): void {
    this.sql.exec('UPDATE presence_watchers SET told_online = ?, told_last_seen = ? WHERE viewer = ?', told.online ? 1 : 0, told.lastSeen, viewer);
  }

  /** The owner added `viewer` to their contacts or removed them: what that watcher may see is decided anew. */
  setContact(viewer: string, isContact: boolean): void {
    this.sql.exec('UPDATE presence_watchers SET is_contact = ? WHERE viewer = ?', isContact ? 1 : 0, viewer);
  }

  unwatch(viewer: string): void {
    this.sql.exec('DELETE FROM presence_watchers WHERE viewer = ?', viewer);
  }

  watchers(): Watcher[] {
    return this.sql.exec<WatcherRow>(`SELECT ${WATCHER_COLUMNS} FROM presence_watchers`).toArray().map(watcherOf);
  }

  /** One watcher (with what it was last told), or null when `viewer` does not watch. */
  watcher(viewer: string): Watcher | null {
    const row = this.sql.exec<WatcherRow>(`SELECT ${WATCHER_COLUMNS} FROM presence_watchers WHERE viewer = ?`, viewer).toArray()[0];
    return row ? watcherOf(row) : null;
  }

  hasWatchers(): boolean {
    return this.sql.exec('SELECT 1 FROM presence_watchers LIMIT 1').toArray().length > 0;
  }
}

const WATCHER_COLUMNS = 'viewer, viewer_shares, viewer_blocks, is_contact, told_online, told_last_seen';
type WatcherRow = { viewer: string; viewer_shares: number; viewer_blocks: number; is_contact: number; told_online: number; told_last_seen: number | null };

function watcherOf(r: WatcherRow): Watcher {
  return {
    viewer: r.viewer,
    viewerShares: r.viewer_shares === 1,
    viewerBlocks: r.viewer_blocks === 1,
    isContact: r.is_contact === 1,
    told: { online: r.told_online === 1, lastSeen: r.told_last_seen },
  };
}
