/**
 * What a user's frames cost: the per-device and per-user budgets of protocol/rate-limits.ts as
 * the user's object applies them, over TokenBuckets (the counting), SendGate (a refused send is
 * never overtaken) and TypingGate (repeats are free, everything else pays). Refusals are
 * `rate_limited` FrameErrors with `retryAfterMs`; typing over its budget is dropped silently.
 * All in memory for frames: no storage write and no call is added to a message.
 */
import { RESUME_ENTRIES_PER_TOKEN, type BucketName, type TypingState } from '../../protocol/index.ts';
import { TypingGate } from '../typing.ts';
import { TokenBuckets, bucketLimits, type Charge, type Spent } from './budgets.ts';
import { FrameError } from './frame-error.ts';
import { SendGate } from './send-gate.ts';

const SEND_COST: readonly Charge[] = [
  { name: 'send_device', cost: 1 },
  { name: 'send_user', cost: 1 },
];
/** A group message also needs the sender's delivery budget not to be empty (it is charged per member afterwards). */
const GROUP_SEND_CHECK: readonly Charge[] = [...SEND_COST, { name: 'group_deliveries_user', cost: 1 }];
const TYPING_COST: readonly Charge[] = [
  { name: 'typing_conversation', cost: 1 },
  { name: 'typing_device', cost: 1 },
];
const deliveries = (cost: number): Charge[] => [{ name: 'group_deliveries_user', cost }];

export class FrameLimits {
  readonly #budgets: TokenBuckets;
  readonly #sendGate = new SendGate();
  readonly #typing = new TypingGate();

  /** `overrides`: the deployment's RATE_LIMITS variable; `sql`: where stored (hourly, daily) budgets persist. */
  constructor(overrides: unknown, sql: SqlStorage) {
    this.#budgets = new TokenBuckets({ limits: bucketLimits(overrides), sql });
  }

  /** A 1:1 `send` from `device`: one send token of the device and of the user, or `rate_limited`. */
  send(device: string, clientId: string): void {
    this.#inOrder(device, clientId, () => this.#budgets.spend(SEND_COST, { device }));
  }

  /**
   * A `group_send`: a send token, and a group-delivery budget that is not empty. The deliveries
   * themselves are charged by `groupPosted` once the group says how many members it reached.
   */
  groupSend(device: string, clientId: string): void {
    this.#inOrder(device, clientId, () => {
      const spent = this.#budgets.check(GROUP_SEND_CHECK, { device });
      if (spent.ok) this.#budgets.charge(SEND_COST, { device });
      return spent;
    });
  }

  /**
   * The same check again in the group's posting turn, after the previous post to that group was
   * charged (a debt then refuses this one).
   */
  groupAdmit(device: string, clientId: string): void {
    const spent = this.#budgets.check(deliveries(1));
    if (!spent.ok) this.#sendGate.refused(device, clientId, spent.retryAfterMs, Date.now());
    this.#refuseUnless(spent);
  }

  /** The group stored the message for `audience` members: charge them (the budget may go below zero). */
  groupPosted(audience: number): void {
    this.#budgets.charge(deliveries(audience));
  }

  /** Whether a typing frame is relayed: repeats and noise are dropped free, the rest pay or are dropped. */
  typing(device: string, conversation: string, state: TypingState): boolean {
    const subject = { device, conversation };
    return this.#typing.allow(`${device}:${conversation}`, state, Date.now(), () => this.#budgets.spend(TYPING_COST, subject).ok);
  }

  /** A non-empty `presence_watch` (each asks every watched user's object). */
  presenceWatch(device: string): void {
    this.#refuseUnless(this.#budgets.spend([{ name: 'presence_watch_device', cost: 1 }], { device }));
  }

  /** A `group_pull` (each reads up to GROUP_PULL_MAX entries of a large group's log). */
  groupPull(device: string): void {
    this.#refuseUnless(this.#budgets.spend([{ name: 'group_pull_device', cost: 1 }], { device }));
  }

  /** A `mark_unread` (each is a mailbox entry for every device of the user). */
  chatMarker(device: string): void {
    this.#refuseUnless(this.#budgets.spend([{ name: 'chat_marker_device', cost: 1 }], { device }));
  }

  /**
   * A `resume` that sends `replayed` entries again: one token per RESUME_ENTRIES_PER_TOKEN of
   * them, at least one (what costs the server is the bytes a replay sends, not the frame).
   */
  resume(device: string, replayed: number): void {
    const cost = Math.max(1, Math.ceil(replayed / RESUME_ENTRIES_PER_TOKEN));
    this.#refuseUnless(this.#budgets.spend([{ name: 'resume_device', cost }], { device }));
  }

  /** Take from one or several buckets, all or nothing (the Worker's routes, through the object's RPC). */
  spend(charges: readonly Charge[], device?: string): Spent {
    return this.#budgets.spend(charges, { device });
  }

  /** Take whatever the bucket holds (a cost known only after the work; may leave a debt). */
  charge(name: BucketName, cost: number, device?: string): void {
    this.#budgets.charge([{ name, cost }], { device });
  }

  /** A send's budget check, behind the device's earlier refused send if there is one. */
  #inOrder(device: string, clientId: string, attempt: () => Spent): void {
    const now = Date.now();
    const behind = this.#sendGate.waitBehind(device, clientId, now);
    if (behind !== null) {
      throw new FrameError('rate_limited', 'An earlier message of this device is waiting for the rate limit; send it first, then this one', behind);
    }
    const spent = attempt();
    if (spent.ok) this.#sendGate.passed(device, clientId);
    else this.#sendGate.refused(device, clientId, spent.retryAfterMs, now);
    this.#refuseUnless(spent);
  }

  #refuseUnless(spent: Spent): void {
    if (spent.ok) return;
    const what = this.#budgets.limits[spent.limit].what;
    throw new FrameError('rate_limited', `Rate limit reached (${what}); retry in ${spent.retryAfterMs} ms`, spent.retryAfterMs);
  }
}
