/**
 * The presence watch list of `MessengerClient`: which users' presence this client watches (sent
 * as `presence_watch` on every connection, since watch lists live per socket on the server) and
 * the latest presence of each from `presence` frames.
 */
import { PRESENCE_WATCH_MAX, UserIdSchema } from '../protocol/index.ts';
import type { Presence, PresenceFrame } from '../protocol/index.ts';
import { MessengerError } from './transport.ts';

export class PresenceWatch {
  private users: readonly string[] = [];
  /** The connection (by hello count) on which the list was last sent. */
  private sentFor = -1;
  private readonly latest = new Map<string, Presence>();
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Sends a `presence_watch` frame; false when not connected. */
  private readonly send: (users: string[]) => boolean;
  /** The current connection, by hello count. */
  private readonly connection: () => number;

  constructor(send: (users: string[]) => boolean, connection: () => number) {
    this.send = send;
    this.connection = connection;
  }

  /** Replace the list (validated: user ids, at most PRESENCE_WATCH_MAX distinct); returns whether it was sent now. */
  watch(userIds: readonly string[]): boolean {
    if (!Array.isArray(userIds)) throw new MessengerError('validation_failed', 'watchPresence takes an array of user ids');
    for (const userId of userIds) {
      if (!UserIdSchema.safeParse(userId).success) {
        throw new MessengerError('validation_failed', `${JSON.stringify(userId)} is not a user id`);
      }
    }
    const users = [...new Set(userIds)];
    if (users.length > PRESENCE_WATCH_MAX) {
      throw new MessengerError('validation_failed', `At most ${PRESENCE_WATCH_MAX} users can be watched at once (got ${users.length})`);
    }
    this.users = users;
    // What is no longer watched is no longer kept current: forget it rather than show it stale.
    for (const userId of [...this.latest.keys()]) if (!users.includes(userId)) this.latest.delete(userId);
    return this.sendNow();
  }

  get watching(): readonly string[] {
    return this.users;
  }

  presenceOf(userId: string): Presence | undefined {
    return this.latest.get(userId);
  }

  /** A `presence` frame: kept only for users still watched (a late answer to a replaced list is not). */
  record(frame: PresenceFrame): void {
    if (this.users.includes(frame.userId)) {
      this.latest.set(frame.userId, { userId: frame.userId, online: frame.online, lastSeen: frame.lastSeen });
    }
  }

  /** A new connection: send the list, unless a 'hello' listener already did on this connection. */
  onHello(): void {
    if (this.sentFor !== this.connection() && this.users.length > 0) this.sendNow();
  }

  /**
   * The server refused the last `presence_watch` for its rate limit: send the list (whatever it
   * is by then) again once the wait is over, on the same connection. A newer list sent meanwhile
   * that passes makes this a harmless repeat; a reconnect sends the list anyway.
   */
  refused(retryAfterMs: number): void {
    if (this.retryTimer !== undefined) return;
    const connection = this.connection();
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.connection() === connection && this.users.length > 0) this.sendNow();
    }, Math.max(0, retryAfterMs));
  }

  /** Drop a pending retry (the client is closing). */
  stop(): void {
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private sendNow(): boolean {
    if (!this.send([...this.users])) return false;
    this.sentFor = this.connection();
    return true;
  }
}
