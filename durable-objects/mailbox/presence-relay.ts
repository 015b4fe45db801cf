/**
 * Presence as the user's object practises it, on top of PresenceTracker (state) and
 * visiblePresence (rules):
 * - as the **owner**: decide online from live connections, close ghosts, tell each watcher when
 *   what it may see changes (never otherwise: a frame's timing would reveal what its values
 *   hide), answer other users' questions;
 * - as a **viewer**: the user's open chats watch other users (`presence_watch`); their answers
 *   and later changes go to the connections that watch them.
 */
import { CLOSE_CODES, PRESENCE_STALE_MS, type Presence } from '../../protocol/index.ts';
import { relationsAmong } from '../../db/contacts.ts';
import type { UserMailbox } from '../user-mailbox.ts';
import type { BlockList } from './blocks.ts';
import type { Connections, ConnectionState } from './connections.ts';
import { HIDDEN, PresenceTracker, samePresence, sharesLastSeen, visiblePresence, type PresenceState, type ViewerRelation } from './presence.ts';
import type { UserSettings } from './settings.ts';

export type PresenceRelayDeps = {
  ctx: DurableObjectState;
  db: D1Database;
  connections: Connections;
  settings: UserSettings;
  blocks: BlockList;
  self: () => string;
  mailbox: (userId: string) => DurableObjectStub<UserMailbox>;
  /** A ghost connection is being closed: keep what it acknowledged. */
  closingGhost: (state: ConnectionState) => void;
  /** The user came online or went offline (that writes anyway: what else should ride along). */
  changed: (now: number) => void;
  /** How many live connections there are now (after every evaluation). */
  counted: (now: number, liveConnections: number) => void;
  /** Make sure the alarm fires by then. */
  wakeBy: (at: number | null) => Promise<void>;
};

const watches = (userId: string) => (c: ConnectionState) => c.watching?.includes(userId) ?? false;

export class PresenceRelay {
  readonly tracker: PresenceTracker;

  constructor(private readonly deps: PresenceRelayDeps) {
    this.tracker = new PresenceTracker(deps.ctx, deps.ctx.storage.sql);
  }

  get online(): boolean {
    return this.tracker.announcedOnline;
  }

  // ---------------------------------------------------------------- owner side

  /** Connections that heartbeated recently (`closing`: one being closed right now, not counted). */
  liveSockets(now: number, closing?: WebSocket): WebSocket[] {
    const { connections } = this.deps;
    return connections.all().filter((ws) => {
      if (ws === closing) return false;
      const state = connections.state(ws);
      return state !== null && this.tracker.isFresh(ws, state.connectedAt, now);
    });
  }

  /**
   * Close ghost connections (silent past the heartbeat timeout), then tell watchers if the user
   * came online or went offline. Called on connect, close, presence questions and the alarm:
   * never on a heartbeat, which the runtime answers without waking the object.
   */
  async update(now: number, closing?: WebSocket): Promise<void> {
    const { connections } = this.deps;
    for (const ws of connections.all()) {
      const state = connections.state(ws);
      if (ws === closing || !state || this.tracker.isFresh(ws, state.connectedAt, now)) continue;
      this.deps.closingGhost(state);
      try {
        ws.close(CLOSE_CODES.heartbeat_timeout, 'no heartbeat');
      } catch {
        // Already closing.
      }
    }
    const live = this.liveSockets(now, closing).length;
    if (live === 0) this.tracker.persistActivity();
    if (live > 0 !== this.tracker.announcedOnline) {
      this.tracker.announcedOnline = live > 0;
      this.deps.changed(now);
      this.tellWatchers();
    }
    this.deps.counted(now, live);
    await this.deps.wakeBy(this.checkAt(now));
  }

  /** When the next connection would turn ghost, if anyone is watching (else presence is checked lazily, when asked). */
  checkAt(now: number): number | null {
    if (!this.tracker.hasWatchers()) return null;
    let earliest: number | null = null;
    for (const ws of this.liveSockets(now)) {
      const state = this.deps.connections.state(ws)!;
      const staleAt = this.tracker.lastBeat(ws, state.connectedAt) + PRESENCE_STALE_MS;
      earliest = earliest === null ? staleAt : Math.min(earliest, staleAt);
    }
    return earliest;
  }

  /**
   * Tell each watcher this user's presence as they may see it, if that differs from what they
   * were last told; watchers no longer looking are dropped. A watcher who may see nothing (a
   * stranger when last seen is hidden) is never told anything, so it cannot time comings and goings.
   */
  tellWatchers(): void {
    const state = this.#state();
    for (const watcher of this.tracker.watchers()) {
      const owner = { isContact: watcher.isContact, ownerBlocks: this.deps.blocks.has(watcher.viewer) };
      const seen = visiblePresence(state, this.deps.settings.privacy, owner, watcher);
      if (samePresence(seen, watcher.told)) continue;
      this.tracker.told(watcher.viewer, seen);
      this.#tell(watcher.viewer, seen);
    }
  }

  /** This user's presence as `viewer` may see it; with `watch`, the viewer is told of changes from now on. */
  async answer(viewer: string, relation: ViewerRelation, watch: boolean): Promise<Presence> {
    const now = Date.now();
    const self = this.deps.self();
    const isContact = (await relationsAmong(this.deps.db, self, [viewer])).get(viewer)?.isContact ?? false;
    // Asked first: a ghost socket must not make this answer "online".
    await this.update(now);
    const ownerBlocks = this.deps.blocks.has(viewer);
    const see = () => visiblePresence(this.#state(), this.deps.settings.privacy, { isContact, ownerBlocks }, relation);
    if (!watch || ownerBlocks) return { userId: self, ...see() };
    // The answer is what this watcher sees from now on: later changes are measured from it.
    const told = see();
    this.tracker.watch({ viewer, ...relation, isContact, told }, now);
    await this.deps.wakeBy(this.checkAt(now));
    // Taken again after the wait (a change meanwhile was told already), so the answer is never older than a notice.
    const seen = see();
    if (!samePresence(seen, told)) this.tracker.told(viewer, seen);
    return { userId: self, ...seen };
  }

  /** The account is being deleted: watchers who see anything of this user see nothing from now on. */
  vanish(): void {
    for (const watcher of this.tracker.watchers()) {
      if (!samePresence(watcher.told, HIDDEN)) this.#tell(watcher.viewer, HIDDEN);
    }
  }

  #state(): PresenceState {
    return { online: this.tracker.announcedOnline, lastSeen: this.tracker.lastSeen };
  }

  #tell(viewer: string, seen: PresenceState): void {
    this.deps
      .mailbox(viewer)
      .presenceNotice({ userId: this.deps.self(), ...seen })
      .then((stillWatching) => {
        if (!stillWatching) this.tracker.unwatch(viewer);
      })
      .catch(() => undefined);
  }

  // ---------------------------------------------------------------- viewer side

  /** The presence of `users` as this user may see it (and with `watch`, keep being told); unknown users are skipped. */
  async presenceOf(users: readonly string[], watch: boolean): Promise<Presence[]> {
    const self = this.deps.self();
    const relations = await this.#viewerRelations(users.filter((u) => u !== self));
    const answers = await Promise.allSettled([...relations].map(([userId, relation]) => this.deps.mailbox(userId).presenceFor(self, relation, watch)));
    return answers.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : []));
  }

  /** `presence_watch`: this connection now watches `users` (replacing its list); each answered with its presence. */
  async watch(ws: WebSocket, state: ConnectionState, users: readonly string[]): Promise<void> {
    const { connections } = this.deps;
    const watched = [...new Set(users)].filter((u) => u !== state.userId);
    connections.save(ws, { ...state, watching: watched });
    if (watched.length === 0) return;
    for (const presence of await this.presenceOf(watched, true)) connections.sendDirect(ws, { type: 'presence', ...presence });
  }

  /**
   * A watched user's change, from their object: to the connections watching them. False when
   * none does, or this user blocked them since they started watching: the owner then stops telling us.
   */
  notice(presence: Presence): boolean {
    if (this.deps.blocks.has(presence.userId)) return false;
    return this.#show(presence);
  }

  #show(presence: Presence): boolean {
    return this.deps.connections.broadcast({ type: 'presence', ...presence }, watches(presence.userId)) > 0;
  }

  /** One user's presence as this user may see it; null for an unknown user (a failing object throws). */
  async presenceOfOne(target: string): Promise<Presence | null> {
    const relation = (await this.#viewerRelations([target])).get(target);
    if (relation === undefined || target === this.deps.self()) return null;
    return this.deps.mailbox(target).presenceFor(this.deps.self(), relation, false);
  }

  /** This user's privacy changed: watchers re-learn what they may see, and so does this user (reciprocity). */
  async privacyChanged(): Promise<void> {
    this.tellWatchers();
    const { connections } = this.deps;
    const watched = new Set(connections.all().flatMap((ws) => connections.state(ws)?.watching ?? []));
    if (watched.size === 0) return;
    for (const presence of await this.presenceOf([...watched], true)) this.#show(presence);
  }

  /**
   * This user blocked `userId`: neither sees the other's presence; both sides' open views go
   * blank at once. The blocked user is told only if they saw something until now (a frame
   * otherwise would announce the block).
   */
  blocked(userId: string): void {
    const watcher = this.tracker.watcher(userId);
    this.tracker.unwatch(userId);
    if (watcher && !samePresence(watcher.told, HIDDEN)) this.#tell(userId, HIDDEN);
    // Our open views of them go blank; their later changes are refused by `notice`.
    this.#show({ userId, ...HIDDEN });
  }

  /**
   * This user added `userId` to their contacts or removed them. Both directions change: what
   * `userId` may see of this user (told only if it changed), and what this user shares back, so
   * views of `userId` open here ask again.
   */
  async contactChanged(userId: string, isContact: boolean): Promise<void> {
    this.tracker.setContact(userId, isContact);
    this.tellWatchers();
    await this.unblocked(userId);
  }

  /** This user unblocked `userId`: views of them open here see their presence again. */
  async unblocked(userId: string): Promise<void> {
    const { connections } = this.deps;
    if (!connections.all().some((ws) => connections.state(ws)?.watching?.includes(userId))) return;
    for (const presence of await this.presenceOf([userId], true)) this.#show(presence);
  }

  /** This user's side of the relation with each of `users` (their settings, contacts, blocks); unknown users are absent. */
  async #viewerRelations(users: readonly string[]): Promise<Map<string, ViewerRelation>> {
    const known = await relationsAmong(this.deps.db, this.deps.self(), users);
    const relations = new Map<string, ViewerRelation>();
    for (const [userId, { isContact }] of known) {
      relations.set(userId, { viewerShares: sharesLastSeen(this.deps.settings.privacy.lastSeen, isContact), viewerBlocks: this.deps.blocks.has(userId) });
    }
    return relations;
  }
}
