/** A fault run's recorded history: what every client tried, was told and received, in observed order. */

/**
 * A conversation as the sender addressed it. A direct message keeps `peer` = its recipient on
 * every copy (the recipient's devices and the sender's other devices alike), like `message.to`.
 */
export type ChatRef = { kind: 'direct'; peer: string } | { kind: 'group'; group: string };

/**
 * Every event has `at`: its position in the history, strictly increasing in the order the driver
 * observed things. The checker reasons only with this order ("B's send started after A's ack"),
 * never with wall-clock time; `time` (ms) is there for humans and latency figures.
 */
interface EventBase {
  at: number;
  time?: number;
}

/**
 * One attempt to send a message: a frame written on one connection. Retries of the same message
 * are further attempts with the same `clientId` (client ids are unique per sender user).
 */
export interface SendEvent extends EventBase {
  type: 'send';
  user: string;
  device: string;
  connection: string;
  chat: ChatRef;
  clientId: string;
  /** A fingerprint of the body (its text, or a hash): what every copy must carry. */
  body: string;
}

/** The server stored the attempt's message (`sent` / `group_sent`). `attempt` is the send's `at`. */
export interface AckEvent extends EventBase {
  type: 'ack';
  attempt: number;
  messageId: string;
  /** The group log position, for group messages. */
  gseq?: number;
}

/** The server answered the attempt with an error frame. A non-retryable one means "not stored". */
export interface ErrorEvent extends EventBase {
  type: 'error';
  attempt: number;
  code: string;
  retryable: boolean;
}

/** The connection died before the attempt was answered: it may or may not have been stored. */
export interface UnknownEvent extends EventBase {
  type: 'unknown';
  attempt: number;
}

export type OutcomeEvent = AckEvent | ErrorEvent | UnknownEvent;

/** A message surfaced on one device (`user` owns `device`), as the application saw it. */
export interface DeliverEvent extends EventBase {
  type: 'deliver';
  user: string;
  device: string;
  chat: ChatRef;
  from: string;
  clientId: string;
  messageId: string;
  body: string;
  /**
   * The entry's seq in the recipient user's mailbox: rises strictly on each device. For an entry
   * of a large group (read diffusion, not a mailbox entry) its gseq, rising strictly per device
   * in that group's `stream`.
   */
  seq: number;
  /** Absent: the mailbox. `log:<group>`: a large group's log. */
  stream?: string;
}

/**
 * A group membership change, confirmed at `at`. It took effect somewhere between `requestedAt`
 * (when the driver asked) and `at`; the checker gives the server that whole window.
 * Initial members are recorded as `joined` when the group is created.
 */
export interface MemberEvent extends EventBase {
  type: 'member';
  group: string;
  user: string;
  change: 'joined' | 'left';
  requestedAt: number;
}

/**
 * A device exists from here on (initial devices are recorded before any send). Only declared
 * devices are owed messages, and only those whose first send attempt came after this event.
 */
export interface DeviceAddedEvent extends EventBase {
  type: 'device_added';
  user: string;
  device: string;
}

export type HistoryEvent = SendEvent | OutcomeEvent | DeliverEvent | MemberEvent | DeviceAddedEvent;

type Fields<E extends HistoryEvent> = Omit<E, 'type' | 'at' | 'time'>;
/** Any event before the recorder places it (distributes over the union, unlike a plain Omit). */
type Unplaced<E extends HistoryEvent = HistoryEvent> = E extends HistoryEvent ? Omit<E, 'at' | 'time'> : never;

/**
 * Appends events with consecutive `at`s. A driver calls it from one event loop, so the order
 * of calls is the order it observed things.
 */
export class HistoryRecorder {
  readonly events: HistoryEvent[] = [];

  /** `now` stamps `time` on each event (e.g. `Date.now`); without it events carry no time. */
  constructor(private readonly now?: () => number) {}

  /** The `at` the next event will get: take it before a membership request, as its `requestedAt`. */
  position(): number {
    return this.events.length;
  }

  deviceAdded(user: string, device: string): void {
    this.push({ type: 'device_added', user, device });
  }

  member(group: string, user: string, change: MemberEvent['change'], requestedAt = this.position()): void {
    this.push({ type: 'member', group, user, change, requestedAt });
  }

  /** Records an attempt; returns its id (its `at`) for the outcome. */
  send(attempt: Fields<SendEvent>): number {
    return this.push({ type: 'send', ...attempt }).at;
  }

  ack(attempt: number, messageId: string, gseq?: number): void {
    this.push(gseq === undefined ? { type: 'ack', attempt, messageId } : { type: 'ack', attempt, messageId, gseq });
  }

  error(attempt: number, code: string, retryable: boolean): void {
    this.push({ type: 'error', attempt, code, retryable });
  }

  unknown(attempt: number): void {
    this.push({ type: 'unknown', attempt });
  }

  deliver(delivery: Fields<DeliverEvent>): void {
    this.push({ type: 'deliver', ...delivery });
  }

  private push(fields: Unplaced): HistoryEvent {
    const event = { ...fields, at: this.events.length } as HistoryEvent;
    if (this.now) event.time = this.now();
    this.events.push(event);
    return event;
  }
}

/** `direct:bob` / `group:g1`: a chat as one string, for map keys and traces. */
export function chatKey(chat: ChatRef): string {
  return chat.kind === 'direct' ? `direct:${chat.peer}` : `group:${chat.group}`;
}

/** One line per event, for traces. */
export function formatEvent(e: HistoryEvent): string {
  const head = `#${e.at}`.padEnd(8);
  switch (e.type) {
    case 'send':
      return `${head}send     ${e.user}/${e.device} on ${e.connection} → ${chatKey(e.chat)} clientId=${e.clientId} body=${JSON.stringify(e.body)}`;
    case 'ack':
      return `${head}ack      attempt #${e.attempt} messageId=${e.messageId}${e.gseq === undefined ? '' : ` gseq=${e.gseq}`}`;
    case 'error':
      return `${head}error    attempt #${e.attempt} ${e.code}${e.retryable ? ' (retryable)' : ''}`;
    case 'unknown':
      return `${head}unknown  attempt #${e.attempt} (connection died)`;
    case 'deliver':
      return `${head}deliver  to ${e.user}/${e.device} seq=${e.seq} from ${e.from} ${chatKey(e.chat)} clientId=${e.clientId} messageId=${e.messageId} body=${JSON.stringify(e.body)}`;
    case 'member':
      return `${head}member   ${e.user} ${e.change} group:${e.group} (requested #${e.requestedAt})`;
    case 'device_added':
      return `${head}device   ${e.user}/${e.device} added`;
  }
}
