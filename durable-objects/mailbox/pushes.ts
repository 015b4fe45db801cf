/**
 * When this user's phone rings: messages that arrive while none of their devices is connected
 * become push jobs (./notifications.ts decides: mutes, quiet hours, summaries) on the push queue.
 * Arrivals come from 1:1 deliveries, group entries copied here, and large groups' notices (the
 * group sends one per burst to members who were away: nothing of it is copied here).
 */
import type { GroupEntry, GroupMessage } from '../../protocol/index.ts';
import type { Arrival, Notifier } from './notifications.ts';
import type { PushJob } from './push-job.ts';

export type PushesDeps = {
  notifier: Notifier;
  self: () => string;
  /** Whether a device of this user is connected now. */
  connected: (now: number) => boolean;
  enqueue: (jobs: PushJob[]) => Promise<void>;
  /** Wake the object by `at` (a held summary's due time). */
  wakeBy: (at: number | null) => Promise<void>;
};

export class Pushes {
  /** Per large group, the gseq of the newest message a notice was taken for (a queue may deliver a job twice). */
  readonly #noticed = new Map<string, number>();

  constructor(private readonly deps: PushesDeps) {}

  /** Messages arrived: if no device is connected, push (or hold for a summary). Never delays the delivery. */
  ifAway(arrivals: readonly Arrival[], now: number): void {
    if (arrivals.length === 0 || this.deps.connected(now)) return;
    const { notifier } = this.deps;
    const { jobs, held } = notifier.arrived(this.deps.self(), arrivals, now);
    if (jobs.length > 0) void this.send(jobs);
    // What was held instead (muted chat, quiet hours) needs the alarm for its summary.
    if (held) void this.deps.wakeBy(notifier.summaryDueAt(now)).catch(() => undefined);
  }

  /** Entries of `group` were copied here: others' messages may ring. */
  groupArrived(group: string, entries: readonly GroupEntry[]): void {
    const self = this.deps.self();
    const arrivals: Arrival[] = [];
    for (const entry of entries) {
      if (entry.type !== 'message' || entry.message.from === self) continue;
      const { id, from, body } = entry.message;
      arrivals.push({ conversation: { kind: 'group', id: group }, messageId: id, from, body });
    }
    this.ifAway(arrivals, Date.now());
  }

  /**
   * A large group's notice: `count` new messages, the newest `message`. The group sends notices
   * only to its current members (this mailbox may not have the switch's copy yet); one push per
   * notice, whatever the queue repeats (a group's notices come in gseq order).
   */
  largeGroupNotice(group: string, message: GroupMessage, count: number): void {
    if (message.from === this.deps.self()) return;
    if (message.gseq <= (this.#noticed.get(group) ?? 0)) return;
    this.#noticed.set(group, message.gseq);
    const { id, from, body } = message;
    this.ifAway([{ conversation: { kind: 'group', id: group }, messageId: id, from, body, count }], Date.now());
  }

  /** Put push jobs on the queue (best effort: a failure is logged, never thrown). */
  async send(jobs: PushJob[]): Promise<void> {
    try {
      await this.deps.enqueue(jobs);
    } catch (error) {
      // A push is best effort: the message itself is stored and waits in the mailbox.
      console.error('push enqueue failed', error);
    }
  }
}
