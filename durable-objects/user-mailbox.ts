/**
 * UserMailbox: the Durable Object of one user. It holds the user's device WebSockets
 * (Hibernation API), the user's ordered mailbox and history, and delivery state. It only adapts
 * lifecycle hooks and RPC entry points; the mailbox logic lives in ./mailbox/.
 *
 * Path of a 1:1 message: device -> sender's object (`send` frame) -> recipient's object
 * (`deliver` RPC, stored) -> sender's object stores its copy -> `sent` to the device. The
 * recipient's devices ack, which becomes a `delivered` receipt back to the sender's object.
 *
 * A deleted account's object (`wipe`) keeps only a tombstone: it stores nothing, refuses
 * connections and deliveries, and answers every other call as an empty mailbox would.
 */
import { DurableObject } from 'cloudflare:workers';
import { countCosts } from '../lib/cost-counters.ts';
import { FAULT_LOG_PREFIX, faultInjectionOn } from '../lib/faults.ts';
import {
  CLOSE_CODES,
  HEARTBEAT_PING,
  HEARTBEAT_PONG,
  type AccountEvent,
  type BlockList as BlockListBody,
  type BucketName,
  type ConversationList,
  type ConversationRef,
  type GroupEntry,
  type GroupMessage,
  type GroupHistoryPage,
  type GroupTally,
  type HistoryPage,
  type SearchPage,
  type SearchQuery,
  type Message,
  type Presence,
  type Settings,
  type SettingsUpdate,
  type StarredPage,
  type TypingState,
} from '../protocol/index.ts';
import type { Charge, Spent } from './mailbox/budgets.ts';
import { MailboxCore } from './mailbox/core.ts';
import { DeviceFrames, refused } from './mailbox/device-frames.ts';
import { AccountDevices, type DeviceAdded, type GroupHistoryQuery } from './mailbox/devices.ts';
import type { DirectActionRecord } from './mailbox/direct-actions.ts';
import { previewOf } from './mailbox/push-job.ts';
import { Inbound, type GroupInvite, type RidingDelivered } from './mailbox/inbound.ts';
import type { ViewerRelation } from './mailbox/presence.ts';
import { PrivacyControls } from './mailbox/privacy.ts';
import type { ReceiptStatus } from './mailbox/receipts.ts';
import type { StoredMessage } from './mailbox/store.ts';
import { isWiped, wipeStorage } from './mailbox/tombstone.ts';
import type { LivePush } from './group/delivery.ts';
import { groupOf } from './stubs.ts';

export { CONNECT_HEADERS } from './mailbox/device-frames.ts';

/** The parts of a live mailbox, by the seam each serves. */
type Live = { core: MailboxCore; frames: DeviceFrames; inbound: Inbound; devices: AccountDevices; privacy: PrivacyControls };

export class UserMailbox extends DurableObject<Env> {
  /** Null once the account was deleted (checked before any table is touched, so none is recreated). */
  #live: Live | null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // Local bench only (LOCAL_COST_COUNTERS, lib/cost-counters.ts): otherwise `counted` is `ctx`.
    const counted = countCosts('mailbox', this, ctx, env);
    if (isWiped(counted.storage.sql)) {
      this.#live = null;
      return;
    }
    const core = new MailboxCore(counted, env);
    this.#live = { core, frames: new DeviceFrames(core), inbound: new Inbound(core), devices: new AccountDevices(core), privacy: new PrivacyControls(core) };
    // Answered by the runtime itself: heartbeats never wake a hibernated object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(HEARTBEAT_PING, HEARTBEAT_PONG));
  }

  // ------------------------------------------------------------------ connection lifecycle

  override async fetch(request: Request): Promise<Response> {
    return this.#live ? this.#live.frames.connect(request) : refused('device_revoked');
  }

  override async webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    if (this.#live) return this.#live.frames.message(ws, raw);
    try {
      ws.close(CLOSE_CODES.account_deleted, 'account deleted');
    } catch {
      // Already closing.
    }
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    if (this.#live) return this.#live.frames.closed(ws, code);
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, 'closing');
    } catch {
      // Already closed.
    }
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.webSocketClose(ws, 1006);
  }

  override async alarm(): Promise<void> {
    await this.#live?.core.alarm();
  }

  // ------------------------------------------------------------------ RPC: what other objects hand to this user

  /**
   * Store messages sent to this user (in order) and push them to connected devices; see
   * Inbound.deliver (gathered with deliveries arriving during the previous commit into one).
   * Null when the account was deleted: the sender reports `recipient_not_found`. `receipt`: the
   * sender's delivered receipt for messages this user sent them, applied in the same commit.
   */
  async deliver(messages: Message[], receipt?: RidingDelivered): Promise<StoredMessage[] | null> {
    return this.#live ? this.#live.inbound.deliverGathered(messages, receipt) : null;
  }

  /**
   * The other party of a 1:1 chat acted on one of its messages (see DirectActions): applied to
   * this user's copy, idempotent. False when the account was deleted (no copy to change).
   */
  async applyDirectAction(record: DirectActionRecord): Promise<boolean> {
    if (!this.#live) return false;
    // An action on an archived message brings this user's copy back first.
    await this.#live.core.history.ensureHot(`d:${record.actor}`, record.target.id);
    this.#live.inbound.applyDirectAction(record);
    return true;
  }

  /**
   * What a push may show of message `messageId` now: its preview, or null when it was deleted
   * (for everyone or by this user) or never stored here. The push consumer asks before sending a
   * notification with a preview, so a message recalled while its push waited is not shown.
   */
  async pushPreview(messageId: string, conversation?: ConversationRef): Promise<string | null> {
    const core = this.#live?.core;
    if (!core) return null;
    const direct = core.copies.messageById(messageId);
    let message = direct && !direct.hidden ? direct.message : core.groupInbox.copies.findMessage(messageId)?.message;
    // A large group's message has no copy here: the group has it (as far as this user may see).
    if (message === undefined && conversation?.kind === 'group') {
      message = (await groupOf(this.env, conversation.id).visibleMessage(core.self(), messageId)) ?? undefined;
    }
    return message === undefined || message.body.kind === 'deleted' ? null : previewOf(message.body);
  }

  /** This user's starred messages (1:1 and groups), newest first. */
  async starred(before: number | undefined, limit: number, deviceId?: string): Promise<StarredPage> {
    return (await this.#live?.devices.starred(before, limit, deviceId)) ?? { messages: [], nextBefore: null };
  }

  /** Apply a delivered/read receipt from `by` to messages this user sent (named by client id). Idempotent. */
  async applyReceipts(by: string, status: ReceiptStatus, clientIds: string[], at: number): Promise<void> {
    this.#live?.core.applyReceipts(by, status, clientIds, at);
  }

  /** Store a fan-out delivery of a group's entries (dropped for a deleted account). */
  async deliverGroup(group: string, entries: GroupEntry[]): Promise<number> {
    if (!this.#live) return 0;
    // Updates (reactions, edits, deletions) of archived messages bring this user's copies back first.
    for (const entry of entries) {
      if (entry.type === 'update') await this.#live.core.history.ensureHot(`g:${group}`, entry.update.message.id);
    }
    return this.#live.inbound.deliverGroup(group, entries);
  }

  /**
   * New entries of a large group (read diffusion) for this user's connected devices: forwarded,
   * not stored. Whether a device was connected (if not, the group stops pushing to this user).
   */
  async groupLive(group: string, push: LivePush): Promise<boolean> {
    return this.#live?.core.largeGroups.live(group, push) ?? false;
  }

  /** This user joined `group` after it became large (from gseq `from`): nothing of it is copied here; devices pull it. */
  async largeGroupJoined(group: string, from: number): Promise<void> {
    await this.#live?.core.largeGroups.became(group, from);
  }

  /**
   * A large group's push notice (`count` new messages, the newest `message`): this user had no
   * connected device when they were pushed live. Pushed (or held for a summary) as any group
   * message would be (the group sends it only to current members); ignored for their own message.
   */
  async largeGroupNotice(group: string, message: GroupMessage, count: number): Promise<void> {
    this.#live?.core.pushes.largeGroupNotice(group, message, count);
  }

  /** New delivered / read counts of this user's messages in `group`. */
  async groupTallies(group: string, tallies: GroupTally[]): Promise<void> {
    this.#live?.inbound.groupTallies(group, tallies);
  }

  /** Someone is typing to this user (`group` null) or in one of their groups. */
  async typingNotice(from: string, group: string | null, state: TypingState): Promise<void> {
    this.#live?.inbound.typingNotice(from, group, state);
  }

  /** Someone invited this user to a group: a `group_invite` entry, unless this user blocked the inviter. */
  async groupInvited(invite: GroupInvite): Promise<void> {
    this.#live?.inbound.groupInvited(invite);
  }

  // ------------------------------------------------------------------ RPC: pages (device-scoped)

  /** This user's chat list (1:1 and groups), most recent first, as `deviceId` may see it. */
  async conversations(before: number | undefined, limit: number, deviceId?: string): Promise<ConversationList> {
    return (await this.#live?.devices.conversations(before, limit, deviceId)) ?? { conversations: [], nextBefore: null };
  }

  /** Whether `peer` ever wrote to this user in a 1:1 chat (then `peer`'s number is theirs to see). */
  async heardFrom(peer: string): Promise<boolean> {
    return this.#live?.core.store.heardFrom(peer) ?? false;
  }

  /** A page of this user's conversation with `peer`, newest first, as `deviceId` may see it. */
  async history(peer: string, before: number | undefined, limit: number, deviceId?: string): Promise<HistoryPage> {
    return this.#live?.devices.history(peer, before, limit, deviceId) ?? { messages: [], nextBefore: null };
  }

  /** A page of `group` as this user received it, newest first, as `deviceId` may see it. */
  async groupHistory(group: string, query: GroupHistoryQuery, deviceId?: string): Promise<GroupHistoryPage | null> {
    return (await this.#live?.devices.groupHistory(group, query, deviceId)) ?? null;
  }

  /** Search this user's history (every tier), as `deviceId` may see it; charges `search_user` first. */
  async search(query: SearchQuery, deviceId?: string): Promise<SearchPage | Extract<Spent, { ok: false }>> {
    const live = this.#liveOrThrow();
    const spent = live.core.limits.spend([{ name: 'search_user', cost: 1 }], deviceId);
    if (!spent.ok) return spent;
    return live.devices.search(query, deviceId);
  }

  // ------------------------------------------------------------------ RPC: history tiers

  /**
   * The history shard stored archive batch `batch` (the queue consumer calls this after its D1
   * write): the rows that did not change since they left are dropped here. Returns how many,
   * or null for a deleted account.
   */
  async historyArchived(batch: number, rows: Array<{ seq: number; digest: string }>): Promise<number | null> {
    // Null: the account was deleted meanwhile, so the consumer removes what it just wrote.
    return this.#live ? this.#live.core.history.archived(batch, rows) : null;
  }

  /** What the alarm does for history, as of `now`; callable directly so tests can move the clock. */
  async historyTick(now: number = Date.now(), forceCold = false): Promise<{ sent: number; cold: { chunks: number; rows: number } }> {
    return this.#live ? this.#live.core.historyTick(now, { forceCold }) : { sent: 0, cold: { chunks: 0, rows: 0 } };
  }

  // ------------------------------------------------------------------ RPC: the account and its devices

  /** A login created a device: tell the other devices, record where it starts and its history floor. */
  async deviceAdded(input: DeviceAdded): Promise<void> {
    this.#live?.devices.deviceAdded(input);
  }

  /** An account event (PIN changes, reset requests) for every device. */
  async accountEvent(event: AccountEvent): Promise<void> {
    this.#live?.devices.accountEvent(event);
  }

  /** A device logged out or was revoked: close its socket, forget it, tell the other devices. */
  async revokeDevice(deviceId: string): Promise<void> {
    this.#live?.devices.revokeDevice(deviceId);
  }

  /**
   * The account is being deleted: watchers stop seeing it, every socket is closed
   * (`account_deleted`), all storage and the alarm go, and a tombstone stays. Idempotent.
   */
  async wipe(): Promise<void> {
    const live = this.#live;
    if (!live) return;
    this.#live = null;
    live.core.presence.vanish();
    live.core.close();
    await wipeStorage(this.ctx, Date.now());
  }

  // ------------------------------------------------------------------ RPC: blocks, presence, settings

  async block(userId: string): Promise<void> {
    this.#live?.privacy.block(userId);
  }

  async unblock(userId: string): Promise<void> {
    await this.#live?.privacy.unblock(userId);
  }

  /** This user added `userId` to their contacts (`true`) or removed them: open presence views follow at once. */
  async contactChanged(userId: string, isContact: boolean): Promise<void> {
    await this.#live?.privacy.contactChanged(userId, isContact);
  }

  async blocked(): Promise<BlockListBody> {
    return this.#live?.privacy.blocked() ?? { blocked: [] };
  }

  /**
   * This user's presence as `viewer` may see it (`relation`: the viewer's side, decided by the
   * viewer's object). With `watch`, the viewer is also told of every change it may see from now on.
   */
  async presenceFor(viewer: string, relation: ViewerRelation, watch: boolean): Promise<Presence> {
    return this.#live ? this.#live.privacy.presenceFor(viewer, relation, watch) : { userId: this.ctx.id.name ?? '', online: false, lastSeen: null };
  }

  /**
   * Evaluate presence as of `at` (default now): ghost connections are closed and watchers told.
   * What the alarm does; callable directly so tests can move the clock. Returns whether online.
   */
  async checkPresence(at: number = Date.now()): Promise<boolean> {
    return this.#live ? this.#live.privacy.checkPresence(at) : false;
  }

  /** A watched user's presence changed: tell the connections that watch them. False when none does (stop telling us). */
  async presenceNotice(presence: Presence): Promise<boolean> {
    return this.#live?.privacy.presenceNotice(presence) ?? false;
  }

  /** `target`'s presence as this user may see it (GET /v1/users/:id/presence); null for an unknown user. */
  async presenceOf(target: string): Promise<Presence | null> {
    return this.#live ? this.#live.privacy.presenceOf(target) : null;
  }

  async settings(): Promise<Settings> {
    return this.#liveOrThrow().privacy.settings();
  }

  async updateSettings(update: SettingsUpdate): Promise<Settings> {
    return this.#liveOrThrow().privacy.updateSettings(update);
  }

  async mute(conversation: ConversationRef, until: number | null): Promise<Settings> {
    return this.#liveOrThrow().privacy.mute(conversation, until);
  }

  async unmute(conversation: ConversationRef): Promise<Settings> {
    return this.#liveOrThrow().privacy.unmute(conversation);
  }

  // ------------------------------------------------------------------ RPC: budgets (for the Worker's routes)

  /**
   * Take `cost` tokens from one of this user's buckets (`deviceId` for per-device ones), or
   * none when it has too few; the refusal says how long until it has.
   *
   * @example
   * await mailboxOf(env, userId).spend('group_create_user', 1) // { ok: true }
   */
  async spend(name: BucketName, cost: number, deviceId?: string): Promise<Spent> {
    return this.spendAll([{ name, cost }], deviceId);
  }

  /**
   * Take from several buckets at once, all or nothing (one action with several costs). A
   * deleted account keeps no budgets: it is let through, and what it asked for is refused
   * where it would be stored (here, or in D1, where the account is gone).
   */
  async spendAll(charges: Charge[], deviceId?: string): Promise<Spent> {
    return this.#live ? this.#live.core.limits.spend(charges, deviceId) : { ok: true };
  }

  /** Take `cost` tokens whatever the bucket holds (a cost only known after the work; may leave a debt). */
  async charge(name: BucketName, cost: number, deviceId?: string): Promise<void> {
    this.#live?.core.limits.charge(name, cost, deviceId);
  }

  /** Whether this user is in `group` (as far as their mailbox knows). */
  async knowsGroup(group: string): Promise<boolean> {
    return this.#live?.core.groupInbox.knows(group) ?? false;
  }

  /** Health figures for this mailbox (all zero for a deleted account). */
  async stats(): Promise<{ head: number; depth: number; connections: number; pendingReceipts: number }> {
    const core = this.#live?.core;
    if (!core) return { head: 0, depth: 0, connections: 0, pendingReceipts: 0 };
    return { head: core.store.head, depth: core.store.depth(), connections: core.connections.all().length, pendingReceipts: core.receipts.pending() };
  }

  /**
   * Local fault injection only (lib/faults.ts): reset this object as an eviction or a crash
   * would: its memory goes, work in flight fails, writes not yet committed are lost, sockets
   * drop. Does nothing unless fault injection is on.
   */
  async faultEvict(): Promise<void> {
    if (!faultInjectionOn(this.env)) return;
    console.warn(`${FAULT_LOG_PREFIX} mailbox evicted`);
    this.ctx.abort('evicted by fault injection');
  }

  /**
   * The live parts, for calls only the user's own authenticated requests make: after deletion
   * those requests are refused before reaching here (the device is gone), so one that raced
   * the deletion fails rather than store anything.
   */
  #liveOrThrow(): Live {
    if (!this.#live) throw new Error('account deleted');
    return this.#live;
  }
}
