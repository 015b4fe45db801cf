/**
 * Making a change of the group object known, with the object's alarm as the safety net: new log
 * entries are fanned out, the D1 mirror is rewritten and new invitees' mailboxes are told
 * (./publish.ts). A failure of any of these does not undo the change (the object is
 * authoritative); the alarm retries until all of it went through, and forgets old receipt times.
 */
import type { Group } from '../../protocol/index.ts';
import type { FanOutStats } from './fanout.ts';
import { pendingMirror } from './mirror-pending.ts';
import { mirror, notifyInvites } from './publish.ts';
import { readMeta, writeMeta } from './schema.ts';
import { setLogFrom } from './settings.ts';
import type { GroupState } from './state.ts';

/** Safety net: how soon the alarm re-checks an unfinished fan-out or an unsynced mirror. */
const RETRY_MS = 10_000;

export type PublisherDeps = {
  state: GroupState;
  env: Env;
  /** The object's storage, for its alarm. */
  storage: DurableObjectStorage;
  /** How long receipt times are kept (message info covers recent messages). */
  retentionMs: number;
  /** Above this many members a group switches to read diffusion (0: never). */
  logDeliveryMin: number;
};

export class Publisher {
  #alarmSet = false;
  /** The mirror sync running now: syncs run one after another (./publish.ts). */
  #mirroring: Promise<void> = Promise.resolve();

  constructor(private readonly deps: PublisherDeps) {}

  /** After a change: make it known (fan-out, mirror, invitees) and answer with the group as `viewer` sees it. */
  async changed(viewer: string): Promise<Group> {
    await this.publish();
    return this.deps.state.view(viewer);
  }

  /** Make a change known: fan new log entries out, mirror the group to D1 and tell new invitees' mailboxes. */
  async publish(): Promise<void> {
    this.#switchIfLarge();
    writeMeta(this.deps.state.sql, 'mirror_dirty', 1);
    this.appended();
    await Promise.all([this.#syncMirror(), this.#notifyInvites()]);
  }

  /** New log entries: start their fan-out, with the alarm as the safety net if this object dies mid-way. */
  appended(): void {
    void this.#ensureAlarm();
    this.deps.state.parts.fanout.kick().catch((error: unknown) => {
      console.error('group fan-out failed; the alarm retries', error);
    });
  }

  /** The alarm: retry whatever is unfinished, and set it again while something still is. */
  async alarm(): Promise<void> {
    this.#alarmSet = false;
    const { state } = this.deps;
    if (!state.find()) return;
    const { members, fanout, consent } = state.parts;
    members.pruneReceiptLog(Date.now() - this.deps.retentionMs);
    if (this.#mirrorBehind()) await this.#syncMirror();
    await this.#notifyInvites();
    await fanout.kick().catch((error: unknown) => console.error('group fan-out failed', error));
    const unfinished = fanout.backlog > 0 || this.#mirrorBehind() || consent.unnotified().length > 0;
    if (unfinished) await this.#ensureAlarm();
  }

  /** Health figures of this group. */
  stats(): { head: number; fannedThrough: number; backlog: number; members: number; fanout: FanOutStats } {
    const { state } = this.deps;
    if (!state.find()) return { head: 0, fannedThrough: 0, backlog: 0, members: 0, fanout: { direct: 0, queued: 0, directFailures: 0, rounds: 0, busyMs: 0 } };
    const { log, fanout, members } = state.parts;
    return {
      head: log.head,
      fannedThrough: fanout.fannedThrough,
      backlog: fanout.backlog,
      members: members.count(),
      fanout: { ...fanout.stats },
    };
  }

  /**
   * A group that grew past the threshold switches to read diffusion: its `delivery_changed`
   * event is the last entry copied into mailboxes (in the same commit as the change that grew it).
   */
  #switchIfLarge(): void {
    const { state, logDeliveryMin } = this.deps;
    const s = state.find();
    if (!s || !state.parts.delivery.shouldSwitch(s.logFrom, logDeliveryMin)) return;
    state.event(s.createdBy, { kind: 'delivery_changed', mode: 'log' }, false, Date.now());
    setLogFrom(state.sql, state.parts.log.head);
    state.settingsWritten();
  }

  /** Whether the D1 mirror lacks a change (a sync failed, or the object stopped during one). */
  #mirrorBehind(): boolean {
    const { sql } = this.deps.state;
    return readMeta(sql, 'mirror_dirty') === 1 || pendingMirror(sql, 1).length > 0;
  }

  async #ensureAlarm(): Promise<void> {
    if (this.#alarmSet) return;
    this.#alarmSet = true;
    const { storage } = this.deps;
    if ((await storage.getAlarm()) === null) await storage.setAlarm(Date.now() + RETRY_MS);
  }

  /** Sync the mirror after whatever sync runs now (which may not have seen this change). */
  #syncMirror(): Promise<void> {
    const next = this.#mirroring.then(() => this.#syncMirrorNow());
    this.#mirroring = next;
    return next;
  }

  async #syncMirrorNow(): Promise<void> {
    const { state, env } = this.deps;
    try {
      await mirror(env, state.settings(), state.parts, state.sql, Date.now());
      writeMeta(state.sql, 'mirror_dirty', 0);
    } catch (error) {
      writeMeta(state.sql, 'mirror_dirty', 1);
      console.error('group mirror sync failed; the alarm retries', error);
      await this.#ensureAlarm();
    }
  }

  async #notifyInvites(): Promise<void> {
    const { state, env } = this.deps;
    if (await notifyInvites(env, state.settings(), state.parts, Date.now())) return;
    console.error('group invite notification failed; the alarm retries');
    await this.#ensureAlarm();
  }
}
