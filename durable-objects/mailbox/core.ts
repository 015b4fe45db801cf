/**
 * The parts of one user's mailbox object, wired together, and the services they share:
 * publishing new entries, device acknowledgements and delivered receipts, the alarm (retention,
 * retries, presence checks, push summaries), push notifications, and calls to other objects.
 * The object (../user-mailbox.ts) builds one unless the account was deleted.
 */
import { monotonicFactory } from 'ulid';
import { isMediaBody, RECEIPT_MAX_IDS, type GroupEntry, type GroupMessage, type Message, type MessageBody } from '../../protocol/index.ts';
import { userExists } from '../../db/accounts.ts';
import { groupExists } from '../../db/groups.ts';
import { syncBlocks } from '../../db/privacy.ts';
import { readMeta, writeMeta } from '../sqlite-schema.ts';
import { reportMailboxGauges } from '../../db/gauges.ts';
import type { PushJob } from './push-job.ts';
import type { GroupChat } from '../group-chat.ts';
import { groupOf, mailboxOf } from '../stubs.ts';
import { BlockList } from './blocks.ts';
import { Connections, type ConnectionState } from './connections.ts';
import { DeviceCursors, uncovered, type Coverage } from './cursors.ts';
import { DeliveredBatch } from './delivered-batch.ts';
import { DeviceStarts } from './device-starts.ts';
import { DirectActions, type DirectActionRecord } from './direct-actions.ts';
import { MessageCopies } from './message-copies.ts';
import { forwardHops, replyQuote } from './references.ts';
import { actionWindows } from '../../lib/message-actions.ts';
import { FrameError } from './frame-error.ts';
import { FrameLimits } from './frame-limits.ts';
import { GroupInbox } from './group-inbox.ts';
import { GroupSync } from './group-sync.ts';
import { LargeGroups } from './large-groups.ts';
import { LargeMarks } from './large-marks.ts';
import { HistoryTiers, tierConfig } from './history-tiers.ts';
import { Notifier, type Arrival } from './notifications.ts';
import { admitMedia } from './media-check.ts';
import { OutgoingMessages } from './outgoing.ts';
import { PresenceRelay } from './presence-relay.ts';
import { ReceiptRelay, type Receipt, type ReceiptStatus } from './receipts.ts';
import { migrate } from './schema.ts';
import { UserSettings } from './settings.ts';
import { MailboxStore, type StoredEntry, type StoredMessage } from './store.ts';
import { UsedTickets } from './tickets.ts';

const DAY_MS = 86_400_000;
/** Message ids: one generator per isolate (ulid() alone re-detects its random source per call, ~20 us). */
const ulid = monotonicFactory();
/** How soon the alarm retries receipts that could not be relayed. */
export const RECEIPT_RETRY_MS = 5_000;
/** Delivered watermarks for groups are gathered this long (see GroupSync.acknowledged). */
const GROUP_DELIVERED_DELAY_MS = 500;

export class MailboxCore {
  readonly store: MailboxStore;
  readonly connections: Connections;
  readonly outgoing: OutgoingMessages;
  readonly receipts: ReceiptRelay;
  /** Delivered receipts gathering per sender (up to 500 ms) before one call each. */
  readonly delivered: DeliveredBatch;
  readonly cursors: DeviceCursors;
  readonly starts: DeviceStarts;
  readonly groupInbox: GroupInbox;
  readonly largeMarks: LargeMarks;
  readonly groups: GroupSync;
  readonly largeGroups: LargeGroups;
  readonly blocks: BlockList;
  readonly limits: FrameLimits;
  readonly tickets: UsedTickets;
  readonly settings: UserSettings;
  readonly presence: PresenceRelay;
  readonly notifier: Notifier;
  readonly actions: DirectActions;
  readonly copies: MessageCopies;
  readonly history: HistoryTiers;
  /** Recipients known to exist, so D1 is asked once per peer (a deleted one's mailbox says so: see #deliverTo). */
  readonly #knownUsers = new Set<string>();
  /** Groups known to exist (groups are never deleted). */
  readonly #knownGroups = new Set<string>();
  /** Large groups' messages looked up for forwards (findInLargeGroups), the latest few. */
  readonly #found = new Map<string, GroupMessage>();
  /** Per large group, the gseq of the newest message a push notice was taken for (duplicates of a notice job are dropped). */
  readonly #noticed = new Map<string, number>();
  readonly #retentionMs: number;
  /** Gauges last reported to D1 for the metrics endpoint ("connections/depth"). */
  #reported = '';
  /** Whether an alarm is known to be scheduled, so publishing does not read storage each time. */
  #alarmSet = false;
  /** Set when the mailbox is wiped: late callbacks (timers, retries) must not touch storage. */
  #closed = false;

  constructor(
    readonly ctx: DurableObjectState,
    readonly env: Env,
  ) {
    migrate(ctx.storage.sql);
    this.store = new MailboxStore(ctx.storage.sql);
    this.copies = new MessageCopies(ctx.storage.sql, this.store);
    this.limits = new FrameLimits((env as { RATE_LIMITS?: unknown }).RATE_LIMITS, ctx.storage.sql);
    this.tickets = new UsedTickets(ctx.storage.sql);
    this.connections = new Connections(ctx);
    this.outgoing = new OutgoingMessages({
      store: this.store,
      deliver: (to, messages) => this.#deliverTo(to, messages),
      publish: (entries) => this.publish(entries),
      applyReceipt: (r) => this.applyReceipts(r.peer, r.status, r.clientIds, r.at),
      recorded: (message) => this.publish(this.actions.recorded(message)),
      references: (frame) => ({
        ...(frame.replyTo === undefined ? {} : { replyTo: replyQuote(this.copies, frame.to, frame.replyTo) }),
        ...(frame.forward === undefined ? {} : { forwarded: this.forwardOf(frame.forward, frame.body) }),
      }),
      admitBody: async (sender, to, body) => {
        if (!isMediaBody(body)) return;
        // No grant for an id that names no account (delivery would refuse it anyway).
        if (!(await this.userExists(to))) throw new FrameError('recipient_not_found');
        await admitMedia(this.env.DB, sender, body, { kind: 'user', id: to }, Date.now());
      },
      newId: ulid,
    });
    this.receipts = new ReceiptRelay(ctx.storage.sql, (r) => this.#applyAtSender(r));
    this.delivered = new DeliveredBatch({
      send: (r) => this.#applyAtSender(r),
      failed: (receipts) => {
        this.receipts.enqueue(receipts);
        void this.scheduleAlarm(Date.now() + RECEIPT_RETRY_MS);
      },
    });
    this.cursors = new DeviceCursors(this.store);
    this.starts = new DeviceStarts(ctx.storage.sql);
    this.blocks = new BlockList(ctx.storage.sql);
    this.settings = new UserSettings(ctx.storage.sql);
    this.presence = new PresenceRelay({
      ctx,
      db: env.DB,
      connections: this.connections,
      settings: this.settings,
      blocks: this.blocks,
      self: () => this.self(),
      mailbox: (userId) => mailboxOf(env, userId),
      closingGhost: (state) => this.recordCursor(state),
      changed: (now) => this.persistCursors(now),
      counted: (now, live) => this.#reportGauges(now, live),
      wakeBy: (at) => this.wakeBy(at),
    });
    this.notifier = new Notifier(ctx.storage.sql, this.settings);
    this.groupInbox = new GroupInbox(ctx.storage.sql, this.store);
    this.largeMarks = new LargeMarks(ctx.storage.sql, this.store);
    this.groups = new GroupSync({
      inbox: this.groupInbox,
      self: () => this.self(),
      publish: (entries) => this.publish(entries),
      arrived: (group, entries) => this.#groupArrived(group, entries),
      group: (groupId) => groupOf(env, groupId),
      retryLater: () => void this.scheduleAlarm(Date.now() + RECEIPT_RETRY_MS),
      deliveredDelayMs: GROUP_DELIVERED_DELAY_MS,
      becameLarge: (group, from) => void this.largeGroups.became(group, from),
    });
    this.largeGroups = new LargeGroups({
      sql: ctx.storage.sql,
      connections: this.connections,
      self: () => this.self(),
      group: (groupId) => groupOf(env, groupId),
      delivered: (group, gseq) => this.groups.deliveredUpTo(group, gseq),
    });
    this.actions = new DirectActions({
      sql: ctx.storage.sql,
      store: this.store,
      copies: this.copies,
      self: () => this.self(),
      windows: actionWindows(env),
      publish: (entries) => this.publish(entries),
      deliver: (peer, record) => this.#deliverAction(peer, record),
      db: env.DB,
      waitUntil: (promise) => ctx.waitUntil(promise),
    });
    this.#retentionMs = Math.max(1, Number(env.MAILBOX_RETENTION_DAYS) || 30) * DAY_MS;
    this.history = new HistoryTiers({
      sql: ctx.storage.sql,
      env,
      self: () => this.self(),
      config: tierConfig(env),
      counted: (hot) => this.#reportHot(hot),
      restored: () => {
        this.store.forgetLastIncoming();
        this.groupInbox.forgetLastEntry();
      },
    });
  }

  /**
   * Message `id` from one of this user's large groups (no copy of it is here), as the group has
   * it and only if this user may see it; remembered for the forward that asked (see
   * `forwardOf`). Undefined when it is here already or no large group has it.
   */
  async findInLargeGroups(id: string): Promise<GroupMessage | undefined> {
    if (this.copies.messageById(id) || this.groupInbox.findMessage(id)) return undefined;
    const self = this.self();
    const answers = await Promise.allSettled(this.largeGroups.list().map(({ group }) => this.group(group).visibleMessage(self, id)));
    const message = answers.flatMap((a) => (a.status === 'fulfilled' && a.value ? [a.value] : []))[0];
    if (message) {
      this.#found.set(id, message);
      if (this.#found.size > 64) this.#found.delete(this.#found.keys().next().value!);
    }
    return message;
  }

  /** The hops of a forward of `id` with `body` (see forwardHops), large groups' messages included once looked up. */
  forwardOf(id: string, body: MessageBody): number {
    return forwardHops(this.copies, this.groupInbox, id, body, (found) => this.#found.get(found));
  }

  /** The object of group `groupId`. */
  group(groupId: string): DurableObjectStub<GroupChat> {
    return groupOf(this.env, groupId);
  }

  /** This object's user id (objects are addressed by `idFromName(userId)`). */
  self(): string {
    const self = this.ctx.id.name;
    if (!self) throw new Error('mailbox object was not addressed by user id');
    return self;
  }

  /** The account is being deleted: drop what is gathered in memory and touch storage no more. */
  close(): void {
    this.#closed = true;
    this.groups.close();
  }

  // ------------------------------------------------------------------ entries and acknowledgements

  /** Send new entries to live connections and make sure retention will expire them. */
  publish(entries: StoredEntry[]): void {
    // Nothing new (a duplicate delivery, a receipt that moved nothing): no write to ride along.
    if (entries.length === 0 || this.#closed) return;
    // This event writes anyway: recorded acks ride along in the same commit (not while the
    // receipts they delivered still wait in memory: a stored cursor past them would lose them).
    if (!this.delivered.held) this.cursors.persistIfDue(Date.now());
    this.connections.pushLive(entries);
    void this.#ensureAlarm();
  }

  /** Append one entry now and publish it. */
  appendAndPublish(entry: Parameters<MailboxStore['append']>[0]): StoredEntry {
    const stored = this.store.append(entry, Date.now());
    this.publish([stored]);
    return stored;
  }

  /**
   * Copy this user's blocks to the D1 mirror once, for mailboxes that blocked people before the
   * mirror existed (the Worker reads the mirror for profile visibility and group adds). Runs at
   * a connect, in the background; an object with nothing blocked only clears the flag.
   */
  mirrorBlocksOnce(): void {
    const sql = this.ctx.storage.sql;
    if (readMeta(sql, 'blocks_mirror_pending') !== 1) return;
    const list = this.blocks.list();
    if (list.length === 0) {
      writeMeta(sql, 'blocks_mirror_pending', 0);
      return;
    }
    this.ctx.waitUntil(
      syncBlocks(this.env.DB, this.self(), list)
        .then(() => {
          if (!this.#closed) writeMeta(sql, 'blocks_mirror_pending', 0);
        })
        .catch((error: unknown) => console.error('block mirror backfill failed; the next connect retries', error)),
    );
  }

  /**
   * Record a device's progress. Incoming messages it is the first device to receive (those no
   * other device's acknowledged part of the mailbox covers: see `uncovered`) get a delivered
   * receipt to their senders, gathered per sender for up to 500 ms (DeliveredBatch). Nothing is
   * written here (see DeviceCursors); a receipt that cannot be relayed goes to the durable
   * outbox, and one lost to an eviction is re-derived when the device acknowledges again.
   */
  acknowledge(deviceId: string, upTo: number): void {
    const from = this.cursors.of(deviceId) ?? this.starts.startOf(deviceId);
    this.cursors.record(deviceId, upTo);
    if (upTo <= from) return;
    const others: Coverage[] = [];
    for (const [other, cursor] of this.cursors.all()) {
      if (other !== deviceId) others.push({ start: this.starts.startOf(other), cursor });
    }
    const at = Date.now();
    for (const [after, through] of uncovered(from, upTo, others)) {
      this.groups.acknowledged(after, through);
      for (const [peer, clientIds] of this.store.incomingBetween(after, through)) this.delivered.add(peer, clientIds, at);
    }
  }

  /**
   * Write the device cursors now. Delivered receipts still gathering go to the durable outbox in
   * the same commit first (a stored cursor past them would never derive them again), and are
   * sent from there right after.
   */
  persistCursors(now: number): void {
    if (this.delivered.held) {
      this.receipts.enqueue(this.delivered.take());
      void this.flushReceipts();
    }
    this.cursors.persist(now);
  }

  /**
   * A connection is closing: keep what its device acknowledged. A connection that acked nothing
   * past its device's recorded start has nothing to keep (the start is not an acknowledgement).
   */
  recordCursor(state: ConnectionState): void {
    if (!state.unacknowledged) this.cursors.record(state.deviceId, state.acked);
  }

  /**
   * Apply a delivered/read receipt from `by` to messages this user sent (named by client id).
   * Idempotent. With read receipts off this user sees no one's reads (reciprocity), so read
   * receipts are dropped; they are not kept for later either.
   */
  applyReceipts(by: string, status: ReceiptStatus, clientIds: string[], at: number): void {
    if (this.#closed || (status === 'read' && !this.settings.privacy.readReceipts)) return;
    const advanced = this.store.advanceOutgoing(this.self(), by, clientIds, status);
    if (advanced.length < clientIds.length) {
      this.outgoing.holdEarly({ peer: by, status, clientIds, at }, new Set(advanced.map((m) => m.clientId)));
    }
    const now = Date.now();
    const entries: StoredEntry[] = [];
    // Many coalesced acks can name thousands of messages; keep each receipt frame small.
    for (let i = 0; i < advanced.length; i += RECEIPT_MAX_IDS) {
      const messageIds = advanced.slice(i, i + RECEIPT_MAX_IDS).map((m) => m.id);
      entries.push(this.store.append({ type: 'receipt', status, by, messageIds, at }, now));
    }
    this.publish(entries);
  }

  async flushReceipts(): Promise<void> {
    const [allSent, allGroupSent] = await Promise.all([this.receipts.flush(), this.groups.flushReceipts()]);
    if (!allSent || !allGroupSent) await this.scheduleAlarm(Date.now() + RECEIPT_RETRY_MS);
  }

  // ------------------------------------------------------------------ alarm: retention, retries, presence, summaries

  async alarm(): Promise<void> {
    const now = Date.now();
    this.persistCursors(now);
    this.store.pruneBefore(now - this.#retentionMs);
    await this.presence.update(now);
    const summary = this.presence.liveSockets(now).length === 0 ? this.notifier.takeSummary(this.self(), now) : null;
    if (summary) await this.#enqueuePushes([summary]);
    const [allSent, allGroupSent] = await Promise.all([this.receipts.flush(), this.groups.flushReceipts()]);
    // Alarms also fire for receipt retries and presence checks: the archive looks only when due.
    if (now >= readMeta(this.ctx.storage.sql, 'archive_next_at')) await this.historyTick(now);
    await this.scheduleAlarm(allSent && allGroupSent ? null : now + RECEIPT_RETRY_MS);
  }

  /**
   * Move history down the tiers as of `now`: the next batch past the hot window to the archive
   * queue, and (daily) warm rows past the cold threshold to R2. A failure is logged and retried
   * at the next check; it never stops the rest of the alarm. Callable directly so tests move the clock.
   */
  async historyTick(now: number, options: { forceCold?: boolean } = {}): Promise<{ sent: number; cold: { chunks: number; rows: number } }> {
    let sent = 0;
    let cold = { chunks: 0, rows: 0 };
    try {
      sent = await this.history.archive(now);
      cold = await this.history.cold(now, options.forceCold);
    } catch (error) {
      console.error('history archive step failed; the next check retries', error);
    }
    writeMeta(this.ctx.storage.sql, 'archive_next_at', sent > 0 ? now + 1_000 : this.history.nextCheckAt(now));
    return { sent, cold };
  }

  async #ensureAlarm(): Promise<void> {
    if (this.#alarmSet) return;
    this.#alarmSet = true;
    if ((await this.ctx.storage.getAlarm()) === null) await this.scheduleAlarm(null);
  }

  /**
   * Next alarm: the earliest of the oldest entry's expiry, a requested retry, the next ghost
   * check (only while someone watches this user's presence) and a due push summary.
   */
  async scheduleAlarm(retryAt: number | null): Promise<void> {
    if (this.#closed) return;
    const now = Date.now();
    const oldest = this.store.oldestCreatedAt();
    const expiry = oldest === null ? null : oldest + this.#retentionMs;
    // History: when the last check said to look again (before any check: when the oldest entry leaves the hot window).
    const archiveAt = readMeta(this.ctx.storage.sql, 'archive_next_at') || (oldest === null ? null : oldest + this.history.config.hotMs);
    const next = [expiry, retryAt, this.presence.checkAt(now), this.notifier.summaryDueAt(now), archiveAt].filter((t): t is number => t !== null);
    this.#alarmSet = next.length > 0;
    if (next.length > 0) await this.ctx.storage.setAlarm(Math.min(...next));
  }

  /** Make sure the alarm fires by `at` (never postpones one that is due earlier). */
  async wakeBy(at: number | null): Promise<void> {
    if (at === null || this.#closed) return;
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) {
      await this.ctx.storage.setAlarm(at);
      this.#alarmSet = true;
    }
  }

  /** Connected devices and mailbox depth for GET /v1/metrics: written when they changed since the last report. */
  #reportGauges(now: number, connections: number): void {
    const depth = this.store.depth();
    const key = `${connections}/${depth}`;
    if (key === this.#reported) return;
    this.#reported = key;
    this.ctx.waitUntil(reportMailboxGauges(this.env.DB, this.self(), { connections, depth }, now).catch(() => undefined));
  }

  /** Rows kept in this object, for the operators' history gauge (reported when an archive batch moved some). */
  #reportHot(hot: number): void {
    this.ctx.waitUntil(reportMailboxGauges(this.env.DB, this.self(), { connections: this.connections.all().length, depth: this.store.depth(), hot }, Date.now()).catch(() => undefined));
  }

  // ------------------------------------------------------------------ push notifications

  /** Messages arrived: if no device is connected, push (or hold for a summary). Never delays the delivery. */
  pushIfAway(arrivals: readonly Arrival[], now: number): void {
    if (arrivals.length === 0 || this.presence.liveSockets(now).length > 0) return;
    const { jobs, held } = this.notifier.arrived(this.self(), arrivals, now);
    if (jobs.length > 0) void this.#enqueuePushes(jobs);
    // What was held instead (muted chat, quiet hours) needs the alarm for its summary.
    if (held) void this.wakeBy(this.notifier.summaryDueAt(now)).catch(() => undefined);
  }

  #groupArrived(group: string, entries: readonly GroupEntry[]): void {
    const self = this.self();
    const arrivals: Arrival[] = [];
    for (const entry of entries) {
      if (entry.type !== 'message' || entry.message.from === self) continue;
      const { id, from, body } = entry.message;
      arrivals.push({ conversation: { kind: 'group', id: group }, messageId: id, from, body });
    }
    this.pushIfAway(arrivals, Date.now());
  }

  /** See UserMailbox.largeGroupNotice. */
  largeGroupNotice(group: string, message: GroupMessage, count: number): void {
    // The group sends notices only to its current members; this mailbox may not have the switch's copy yet.
    if (message.from === this.self()) return;
    // A queue may deliver a job twice: one push per notice (notices of a group come in gseq order).
    if (message.gseq <= (this.#noticed.get(group) ?? 0)) return;
    this.#noticed.set(group, message.gseq);
    const { id, from, body } = message;
    this.pushIfAway([{ conversation: { kind: 'group', id: group }, messageId: id, from, body, count }], Date.now());
  }

  async #enqueuePushes(jobs: PushJob[]): Promise<void> {
    try {
      await this.env.PUSH.sendBatch(jobs.map((body) => ({ body })));
    } catch (error) {
      // A push is best effort: the message itself is stored and waits in the mailbox.
      console.error('push enqueue failed', error);
    }
  }

  // ------------------------------------------------------------------ calls to other objects

  /** Store messages at the recipient's object. A deleted account's mailbox answers null: forgotten, refused. */
  async #deliverTo(recipient: string, messages: Message[]): Promise<StoredMessage[]> {
    if (!(await this.userExists(recipient))) throw new FrameError('recipient_not_found');
    const stored = await mailboxOf(this.env, recipient).deliver(messages);
    if (stored === null) {
      this.#knownUsers.delete(recipient);
      throw new FrameError('recipient_not_found');
    }
    return stored;
  }

  /**
   * Whether a group exists: one this mailbox received, or one the D1 mirror knows (a group just
   * created reaches its creator's mailbox after its creator may already post). Remembered once
   * known (groups are never deleted), so posting to a group costs no look-up after the first.
   */
  async groupExists(groupId: string): Promise<boolean> {
    if (this.#knownGroups.has(groupId)) return true;
    if (!this.groupInbox.knows(groupId) && !(await groupExists(this.env.DB, groupId))) return false;
    this.#knownGroups.add(groupId);
    return true;
  }

  /**
   * Whether an account exists: asked of D1 once per user, then remembered. An account deleted
   * since is forgotten when its mailbox refuses a delivery (#deliverTo); other calls to it
   * (typing) are dropped there.
   */
  async userExists(userId: string): Promise<boolean> {
    if (this.#knownUsers.has(userId)) return true;
    if (!(await userExists(this.env.DB, userId))) return false;
    this.#knownUsers.add(userId);
    return true;
  }

  /** Apply an action at the other party's mailbox; false when that account was deleted (no copy left there). */
  async #deliverAction(peer: string, record: DirectActionRecord): Promise<boolean> {
    if (!(await this.userExists(peer))) return false;
    const applied = await mailboxOf(this.env, peer).applyDirectAction(record);
    if (!applied) this.#knownUsers.delete(peer);
    return applied;
  }

  async #applyAtSender(receipt: Receipt): Promise<void> {
    await mailboxOf(this.env, receipt.peer).applyReceipts(this.self(), receipt.status, receipt.clientIds, receipt.at);
  }
}
