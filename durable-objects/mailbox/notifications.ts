/**
 * Push decisions for one user: what happens to messages that arrive while none of their devices
 * is connected.
 *
 * - Normally: one push job per chat per delivery (a burst in one chat is one push: "3 new messages").
 * - Muted chat, or the user's quiet hours: nothing is pushed now; the messages are counted in
 *   `push_held` and folded into one silent summary push ("5 new messages in 2 chats") when the
 *   quiet hours end or the mute expires. A chat muted "always" never produces a summary.
 * - A device connecting clears what is held: the user is looking at the app.
 */
import type { ConversationRef, QuietHours, StoredBody } from '../../protocol/index.ts';
import { previewOf, type PushJob } from './push-job.ts';
import type { UserSettings } from './settings.ts';

/** A message that arrived for the user. */
export type Arrival = {
  conversation: ConversationRef;
  messageId: string;
  from: string;
  body: StoredBody;
  /** How many messages this arrival stands for (a large group's notice for a burst); 1 when absent. */
  count?: number;
};

const MINUTE_MS = 60_000;
const DAY_MINUTES = 24 * 60;

export class Notifier {
  constructor(
    private readonly sql: SqlStorage,
    private readonly settings: UserSettings,
  ) {}

  /** Push jobs for messages that arrived while no device was connected; `held`: some were held for a summary instead. */
  arrived(userId: string, arrivals: readonly Arrival[], now: number): { jobs: PushJob[]; held: boolean } {
    const jobs: PushJob[] = [];
    let held = false;
    const quiet = inQuietHours(this.settings.notifications.quietHours, now);
    for (const [, chat] of byConversation(arrivals)) {
      const newest = chat[chat.length - 1]!;
      const count = chat.reduce((n, a) => n + (a.count ?? 1), 0);
      if (quiet || this.settings.isMuted(newest.conversation, now)) {
        this.#hold(newest.conversation, count, now);
        held = true;
        continue;
      }
      jobs.push({
        userId,
        kind: 'message',
        conversation: newest.conversation,
        messageId: newest.messageId,
        count,
        chats: 1,
        from: newest.from,
        preview: this.settings.notifications.previews ? previewOf(newest.body) : null,
        silent: false,
        enqueuedAt: now,
      });
    }
    return { jobs, held };
  }

  /** A device connected: what was held is being seen now. */
  clear(): void {
    this.sql.exec('DELETE FROM push_held');
  }

  /** When the next summary may be due (null: nothing held that will ever be summarised). */
  summaryDueAt(now: number): number | null {
    const held = this.#held();
    if (held.length === 0) return null;
    const quietHours = this.settings.notifications.quietHours;
    const afterQuiet = inQuietHours(quietHours, now) ? quietEnd(quietHours!, now) : now;
    const muteEnd = this.settings.nextMuteEnd(now);
    const anyUnmuted = held.some((h) => !this.settings.isMuted(h.conversation, now));
    if (anyUnmuted) return afterQuiet;
    return muteEnd === null ? null : Math.max(muteEnd, afterQuiet);
  }

  /** The summary of everything held that may be pushed now (outside quiet hours, not muted), or null. */
  takeSummary(userId: string, now: number): PushJob | null {
    if (inQuietHours(this.settings.notifications.quietHours, now)) return null;
    const due = this.#held().filter((h) => !this.settings.isMuted(h.conversation, now));
    if (due.length === 0) return null;
    for (const h of due) this.sql.exec('DELETE FROM push_held WHERE kind = ? AND id = ?', h.conversation.kind, h.conversation.id);
    const count = due.reduce((sum, h) => sum + h.count, 0);
    return {
      userId,
      kind: 'summary',
      conversation: due.length === 1 ? due[0]!.conversation : null,
      messageId: null,
      count,
      chats: due.length,
      from: null,
      preview: null,
      silent: true,
      enqueuedAt: now,
    };
  }

  #hold(conversation: ConversationRef, count: number, now: number): void {
    this.sql.exec(
      `INSERT INTO push_held (kind, id, count, first_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (kind, id) DO UPDATE SET count = count + excluded.count`,
      conversation.kind,
      conversation.id,
      count,
      now,
    );
  }

  #held(): { conversation: ConversationRef; count: number }[] {
    return this.sql
      .exec<{ kind: 'direct' | 'group'; id: string; count: number }>('SELECT kind, id, count FROM push_held ORDER BY first_at')
      .toArray()
      .map((r) => ({ conversation: { kind: r.kind, id: r.id } as ConversationRef, count: r.count }));
  }
}

function byConversation(arrivals: readonly Arrival[]): Map<string, Arrival[]> {
  const chats = new Map<string, Arrival[]>();
  for (const a of arrivals) {
    const key = `${a.conversation.kind}:${a.conversation.id}`;
    const list = chats.get(key);
    if (list) list.push(a);
    else chats.set(key, [a]);
  }
  return chats;
}

function minutesOf(clock: string): number {
  const [h, m] = clock.split(':').map(Number);
  return h! * 60 + m!;
}

/** Minutes since local midnight in `timeZone` at `now`. */
export function localMinutes(timeZone: string, now: number): number {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(now);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return get('hour') * 60 + get('minute');
}

/** Whether `now` falls in the daily window [start, end) in the user's zone (which may wrap midnight). */
export function inQuietHours(quietHours: QuietHours | null, now: number): boolean {
  if (quietHours === null) return false;
  const start = minutesOf(quietHours.start);
  const end = minutesOf(quietHours.end);
  if (start === end) return false;
  const local = localMinutes(quietHours.timeZone, now);
  return start < end ? local >= start && local < end : local >= start || local < end;
}

/** When the quiet window containing `now` ends (to the minute; a DST change inside it may shift this by an hour). */
export function quietEnd(quietHours: QuietHours, now: number): number {
  const local = localMinutes(quietHours.timeZone, now);
  const minutesLeft = (minutesOf(quietHours.end) - local + DAY_MINUTES) % DAY_MINUTES || DAY_MINUTES;
  const startOfMinute = now - (now % MINUTE_MS);
  return startOfMinute + minutesLeft * MINUTE_MS;
}
