/**
 * The parts of one user's mailbox object, wired together, and the services they share:
 * publishing new entries, device acknowledgements and delivered receipts, the alarm (retention,
 * retries, presence checks, push summaries), push notifications, and calls to other objects.
 * The object (../user-mailbox.ts) builds one unless the account was deleted.
 */
import { monotonicFactory } from 'ulid';
import { isMediaBody, RECEIPT_MAX_IDS } from '../../protocol/index.ts';
import { syncBlocks } from '../../db/privacy.ts';
import { readMeta, writeMeta } from '../sqlite-schema.ts';
import type { GroupChat } from '../group-chat.ts';
import type { MailboxGauges } from '../gauge-hub.ts';
import { gaugeHubOf, groupOf, mailboxOf } from '../stubs.ts';
import { BlockList } from './blocks.ts';
import { Connections, type ConnectionState } from './connections.ts';
import { DeviceCursors, uncovered, type Coverage } from './cursors.ts';
import { DeliveredBatch } from './delivered-batch.ts';
import { DeviceStarts } from './device-starts.ts';
import { DirectActions } from './direct-actions.ts';
import { MessageCopies } from './message-copies.ts';
import { Originals, replyQuote } from './references.ts';
import { actionWindows } from '../../lib/message-actions.ts';
import { FrameError } from './frame-error.ts';
import { FrameLimits } from './frame-limits.ts';
import { GroupInbox } from './group-inbox.ts';
import { GroupSync } from './group-sync.ts';
import { LargeGroups } from './large-groups.ts';
import { LargeMarks } from './large-marks.ts';
import { Peers } from './peers.ts';
import { Pushes } from './pushes.ts';
import { HistoryTiers, tierConfig } from './history-tiers.ts';
import { Notifier } from './notifications.ts';
import { admitMedia } from './media-check.ts';
import { OutgoingMessages } from './outgoing.ts';
import { PresenceRelay } from './presence-relay.ts';
import { ReceiptRelay, type ReceiptStatus } from './receipts.ts';
import { migrate } from './schema.ts';
import { UserSettings } from './settings.ts';
import { MailboxStore, type StoredEntry } from './store.ts';
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
  readonly peers: Peers;
  readonly connections: Connections;
  readonly outgoing: OutgoingMessages;
  readonly receipts: ReceiptRelay;
  /** Delivered receipts gathering per sender (up to 500 ms) before one call each. */
  readonly delivered: DeliveredBatch;
  readonly cursors: DeviceCursors;
  readonly starts: DeviceStarts;
  readonly groupInbox: GroupInbox;
  readonly largeMarks: LargeMarks;
  readonly originals: Originals;
  readonly groups: GroupSync;
  readonly largeGroups: LargeGroups;
  readonly blocks: BlockList;
  readonly limits: FrameLimits;
  readonly tickets: UsedTickets;
  readonly settings: UserSettings;
  readonly presence: PresenceRelay;
  readonly notifier: Notifier;
  readonly pushes: Pushes;
  readonly actions: DirectActions;
  readonly copies: MessageCopies;
  readonly history: HistoryTiers;
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
      // The delivered ticks waiting for this recipient ride along (in a conversation, the reply carries them).
      deliver: (to, messages) => this.peers.deliverTo(to, messages, this.delivered.takeFor(to)),
      publish: (entries) => this.publish(entries),
      applyReceipt: (r) => this.applyReceipts(r.peer, r.status, r.clientIds, r.at),
      recorded: (message) => this.publish(this.actions.recorded(message)),
      references: (frame) => ({
        ...(frame.replyTo === undefined ? {} : { replyTo: replyQuote(this.copies, frame.to, frame.replyTo) }),
        ...(frame.forward === undefined ? {} : { forwarded: this.originals.forwardHops(frame.forward, frame.body) }),
      }),
      admitBody: async (sender, to, body) => {
        if (!isMediaBody(body)) return;
        // No grant for an id that names no account (delivery would refuse it anyway).
        if (!(await this.peers.userExists(to))) throw new FrameError('recipient_not_found');
        await admitMedia(this.env.DB, sender, body, { kind: 'user', id: to }, Date.now());
      },
      newId: ulid,
    });
    this.receipts = new ReceiptRelay(ctx.storage.sql, (r) => this.peers.applyAtSender(r));
    this.delivered = new DeliveredBatch({
      send: (r) => this.peers.applyAtSender(r),
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
    this.pushes = new Pushes({
      notifier: this.notifier,
      self: () => this.self(),
      connected: (now) => this.presence.liveSockets(now).length > 0,
      enqueue: async (jobs) => {
        await env.PUSH.sendBatch(jobs.map((body) => ({ body })));
      },
      wakeBy: (at) => this.wakeBy(at),
    });
    this.groupInbox = new GroupInbox(ctx.storage.sql, this.store);
    this.peers = new Peers({ env, self: () => this.self(), groupInbox: this.groupInbox });
    this.largeMarks = new LargeMarks(ctx.storage.sql, this.store);
    this.originals = new Originals({
      copies: () => this.copies,
      groups: this.groupInbox,
      largeGroups: () => this.largeGroups.list().map((g) => g.group),
      visible: (group, id) => this.group(group).visibleMessage(this.self(), id),
    });
    this.groups = new GroupSync({
      inbox: this.groupInbox,
      self: () => this.self(),
      publish: (entries) => this.publish(entries),
      arrived: (group, entries) => this.pushes.groupArrived(group, entries),
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
      moved: (group, head) => this.groups.logMoved(group, head),
    });
    this.actions = new DirectActions({
      sql: ctx.storage.sql,
      store: this.store,
      copies: this.copies,
      self: () => this.self(),
      windows: actionWindows(env),
      publish: (entries) => this.publish(entries),
      deliver: (peer, record) => this.peers.deliverAction(peer, record),
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

  /** Whether the account was deleted (`close`): nothing may be written any more. */
  get closed(): boolean {
    return this.#closed;
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
    if (summary) await this.pushes.send([summary]);
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
    this.#sendGauges({ connections, depth }, now);
  }

  /** Rows kept in this object, for the operators' history gauge (reported when an archive batch moved some). */
  #reportHot(hot: number): void {
    this.#sendGauges({ connections: this.connections.all().length, depth: this.store.depth(), hot }, Date.now());
  }

  /**
   * To this user's gauge hub (durable-objects/gauge-hub.ts), in the background: a lost report is
   * only a stale gauge. Never after the account's deletion (its row there is being forgotten).
   */
  #sendGauges(gauges: MailboxGauges, at: number): void {
    if (this.#closed) return;
    this.ctx.waitUntil(gaugeHubOf(this.env, this.self()).report(this.self(), gauges, at).catch(() => undefined));
  }
}
