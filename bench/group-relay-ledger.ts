/**
 * The ledger of the bare relay's group (bench/group-relay.ts): every group message the bench
 * sends through the relay, until each connected member other than the sender has it, measured
 * like the messenger's group ledger (bench/group-ledger.ts): send -> first member, send -> last
 * member, group msg/s inside the window. The relay has no log, so instead of gseq order it checks
 * that each member gets each message exactly once (duplicates, also after a message was complete),
 * nobody outside the group gets it (misrouted), and the sender gets its own echo (the relay's
 * group object pushes to the sender too, as the messenger's does).
 */
import type { ClientSink } from './clients.ts';
import { GroupPhase, phaseFigures, type PhaseFigures } from './group-ledger.ts';

/** A relay group phase: the messenger's counters plus the relay's own checks. */
export class RelayGroupPhase extends GroupPhase {
  /** A member got a message it already had (or the sender a second echo). */
  duplicates = 0;
  /** A client outside the group got a message. */
  misrouted = 0;
  /** Senders that got their own message back. */
  echoes = 0;
}

export type RelayGroupPhaseResult = PhaseFigures & {
  /** Not received by every connected member by the end of the drain. */
  incomplete: number;
  /** Member deliveries still missing for those. */
  missingDeliveries: number;
  duplicates: number;
  misrouted: number;
  /** Messages whose sender never got its echo. */
  missingEchoes: number;
};

type Pending = { id: string; phase: RelayGroupPhase; sender: number; t0: number; waiting: Set<number>; echoed: boolean; first: boolean };

export class RelayGroupLedger implements ClientSink {
  readonly #pending = new Map<string, Pending>();
  /** Complete messages (every member and the sender's echo), for telling late duplicates from strays. */
  readonly #retired = new Map<string, RelayGroupPhase>();
  #counter = 0;
  /** Frames with an id this ledger never issued, and any non-`send` callback: expected 0. */
  unattributed = 0;

  /** `connected`: the clients (by index) that are the group's members. */
  constructor(private readonly connected: ReadonlySet<number>) {}

  /** Record a send; returns the client id to put in the frame. */
  send(phase: GroupPhase, _group: string, sender: number, t0: number): string {
    if (!(phase instanceof RelayGroupPhase)) throw new Error('the relay ledger takes RelayGroupPhase phases');
    const id = `r${(++this.#counter).toString(36)}`;
    const waiting = new Set(this.connected);
    waiting.delete(sender);
    this.#pending.set(id, { id, phase, sender, t0, waiting, echoed: false, first: false });
    phase.sent++;
    return id;
  }

  /** The relay forwarded a `send` frame with client id `id` to client `recipient`. */
  delivered(id: string, recipient: number, now: number): void {
    const pending = this.#pending.get(id);
    if (!pending) {
      const phase = this.#retired.get(id);
      if (!phase) this.unattributed++;
      else if (this.connected.has(recipient)) phase.duplicates++;
      else phase.misrouted++;
      return;
    }
    const phase = pending.phase;
    if (recipient === pending.sender) {
      if (pending.echoed) phase.duplicates++;
      else {
        pending.echoed = true;
        phase.echoes++;
      }
      this.#retireIfDone(pending);
      return;
    }
    if (!pending.waiting.delete(recipient)) {
      if (this.connected.has(recipient)) phase.duplicates++;
      else phase.misrouted++;
      return;
    }
    if (now <= phase.windowEnd) phase.deliveriesInWindow++;
    if (!pending.first) {
      pending.first = true;
      phase.firstMember.add(now - pending.t0);
    }
    if (pending.waiting.size > 0) return;
    phase.completed++;
    if (now <= phase.windowEnd) phase.completedInWindow++;
    phase.lastMember.add(now - pending.t0);
    this.#retireIfDone(pending);
    phase.onSettled?.();
  }

  // The relay sends nothing but `hello` and forwarded `send` frames.
  sentAck(): void {
    this.unattributed++;
  }

  receipt(): void {
    this.unattributed++;
  }

  failed(): void {
    this.unattributed++;
  }

  result(phase: RelayGroupPhase): RelayGroupPhaseResult {
    const windowMs = Math.min(phase.windowEnd, performance.now()) - phase.windowStart;
    let incomplete = 0;
    let missingDeliveries = 0;
    let missingEchoes = 0;
    for (const p of this.#pending.values()) {
      if (p.phase !== phase) continue;
      if (p.waiting.size > 0) {
        incomplete++;
        missingDeliveries += p.waiting.size;
      }
      if (!p.echoed) missingEchoes++;
    }
    return {
      ...phaseFigures(phase, windowMs),
      incomplete,
      missingDeliveries,
      duplicates: phase.duplicates,
      misrouted: phase.misrouted,
      missingEchoes,
    };
  }

  /** Forget a message everyone (the sender's echo included) has; remember its phase for late duplicates. */
  #retireIfDone(pending: Pending): void {
    if (pending.waiting.size > 0 || !pending.echoed) return;
    this.#pending.delete(pending.id);
    this.#retired.set(pending.id, pending.phase);
  }
}
