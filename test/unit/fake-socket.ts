/**
 * A scriptable stand-in for the standard WebSocket, plus frame builders, for SDK unit tests.
 *
 * The test plays the server: `socket.open()`, `socket.hello()`, `socket.deliver(frame)`,
 * `socket.serverClose(code)`; it inspects what the client wrote with `socket.sent` /
 * `socket.frames()`. Every constructed socket is recorded in `FakeSocket.instances`, so a test can
 * see reconnects (a new instance) and the URL (ticket, cursor) each attempt used.
 *
 * Close events are dispatched synchronously, which is harsher than real sockets (re-entrancy)
 * and keeps tests free of microtask juggling.
 */
import { MessengerClient, type MessengerClientOptions, type SocketCloseEvent, type SocketMessageEvent, type WebSocketLike } from '../../client/index.ts';
import type {
  ClientFrame,
  GroupChange,
  GroupMessage,
  GroupSentFrame,
  GroupTally,
  HelloFrame,
  Message,
  MessageBody,
  ServerFrame,
} from '../../protocol/index.ts';

type AnyListener = (event: unknown) => void;

let ticketCounter = 0;

/**
 * A synchronous connect-ticket source: `ticket-<token>-<n>`, a new n per attempt, so tests see
 * which token each attempt used and that no ticket is reused (and sockets open in the same tick).
 */
export function fakeTicket(token: string): string {
  ticketCounter += 1;
  return `ticket-${token}-${ticketCounter}`;
}

/** A client on FakeSocket with fast, deterministic timing (no jitter), for SDK unit tests. */
export function makeClient(overrides: Partial<MessengerClientOptions> = {}): MessengerClient {
  return new MessengerClient({
    baseUrl: 'http://chat.test',
    token: 'tok',
    connectTicket: fakeTicket,
    WebSocket: FakeSocket,
    heartbeatIntervalMs: 1_000,
    backoff: { baseMs: 250, random: () => 0.5 },
    sendRetry: { baseMs: 100, random: () => 0.5 },
    ...overrides,
  });
}

/** A JSON HTTP response, for stub `fetch` functions. */
export const json = (body: unknown, status = 200): Response =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

export class FakeSocket implements WebSocketLike {
  static instances: FakeSocket[] = [];

  static reset(): void {
    FakeSocket.instances = [];
  }

  /** The most recently constructed socket. */
  static get last(): FakeSocket {
    const socket = FakeSocket.instances.at(-1);
    if (socket === undefined) throw new Error('No FakeSocket was constructed');
    return socket;
  }

  readonly url: string;
  readyState = 0;
  /** Every string the client sent, in order (heartbeat pings included). */
  readonly sent: string[] = [];
  /** Set when the client called close(). */
  closedByClient: { code: number | undefined; reason: string | undefined } | undefined;
  private readonly listeners = new Map<string, AnyListener[]>();

  constructor(url: string) {
    this.url = url;
    FakeSocket.instances.push(this);
  }

  addEventListener(type: 'open', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: SocketMessageEvent) => void): void;
  addEventListener(type: 'close', listener: (event: SocketCloseEvent) => void): void;
  addEventListener(type: 'error', listener: (event: unknown) => void): void;
  addEventListener(type: string, listener: (event: never) => void): void {
    const list = this.listeners.get(type) ?? [];
    list.push(listener as AnyListener);
    this.listeners.set(type, list);
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error(`send() on a socket in readyState ${this.readyState}`);
    this.sent.push(data);
  }

  close(code?: number, reason?: string): void {
    if (this.readyState >= 2) return;
    this.closedByClient = { code, reason };
    this.readyState = 3;
    this.dispatch('close', { code: code ?? 1005, reason: reason ?? '' });
  }

  // ---------------------------------------------------------------- the "server" side

  /** Query parameters of the URL the client connected to. */
  get params(): URLSearchParams {
    return new URL(this.url).searchParams;
  }

  open(): this {
    this.readyState = 1;
    this.dispatch('open', {});
    return this;
  }

  /** Deliver a frame (an object is JSON-encoded; a string is sent verbatim). */
  deliver(frame: ServerFrame | string | Record<string, unknown>): this {
    this.dispatch('message', { data: typeof frame === 'string' ? frame : JSON.stringify(frame) });
    return this;
  }

  /** Open (if needed) and send `hello`. */
  hello(fields: Partial<HelloFrame> = {}): this {
    if (this.readyState === 0) this.open();
    return this.deliver(helloFrame(fields));
  }

  /** The server closes the connection with `code`. */
  serverClose(code: number, reason = ''): this {
    this.readyState = 3;
    this.dispatch('close', { code, reason });
    return this;
  }

  /** Parsed JSON frames the client sent, heartbeat pings excluded unless asked for. */
  frames(options: { includePings?: boolean } = {}): ClientFrame[] {
    return this.sent
      .map((raw) => JSON.parse(raw) as ClientFrame)
      .filter((frame) => options.includePings === true || frame.type !== 'ping');
  }

  framesOfType<T extends ClientFrame['type']>(type: T): Array<Extract<ClientFrame, { type: T }>> {
    return this.frames({ includePings: true }).filter((f): f is Extract<ClientFrame, { type: T }> => f.type === type);
  }

  private dispatch(type: string, event: unknown): void {
    for (const listener of [...(this.listeners.get(type) ?? [])]) listener(event);
  }
}

// -------------------------------------------------------------------- frame builders

/** A valid ULID whose last characters encode `n` (distinct n → distinct ids). */
export function ulid(n: number): string {
  return `01HZX3K5M8N9P0Q1R2S3T4${String(n).padStart(4, '0')}`;
}

export const ME = ulid(1);
export const MY_DEVICE = ulid(2);
export const MY_OTHER_DEVICE = ulid(3);
export const PEER = ulid(10);
export const PEER_DEVICE = ulid(11);
export const GROUP = ulid(20);
export const OTHER_GROUP = ulid(21);

export function helloFrame(fields: Partial<HelloFrame> = {}): HelloFrame {
  return { type: 'hello', userId: ME, deviceId: MY_DEVICE, cursor: 0, head: 0, serverTime: 1_700_000_000_000, ...fields };
}

let messageCounter = 1000;

/** A `message` mailbox frame; by default an incoming text from PEER. */
export function messageFrame(seq: number, fields: Partial<Message> = {}): ServerFrame {
  const body: MessageBody = { kind: 'text', text: `message ${seq}` };
  messageCounter += 1;
  return {
    type: 'message',
    seq,
    message: {
      id: ulid(messageCounter),
      clientId: `c${seq}`,
      from: PEER,
      fromDevice: PEER_DEVICE,
      to: ME,
      sentAt: 1_700_000_000_000 + seq,
      body,
      ...fields,
    },
  };
}

export function receiptFrame(seq: number): ServerFrame {
  return { type: 'receipt', seq, status: 'delivered', by: PEER, messageIds: [ulid(5000 + seq)], at: 1_700_000_000_000 };
}

export function sentFrame(id: string, fields: { to?: string; messageId?: string; duplicate?: boolean } = {}): ServerFrame {
  return {
    type: 'sent',
    id,
    messageId: fields.messageId ?? ulid(7000 + (id.length % 100)),
    to: fields.to ?? PEER,
    sentAt: 1_700_000_000_000,
    duplicate: fields.duplicate ?? false,
  };
}

// -------------------------------------------------------------------- group frame builders

/** A `group_message` mailbox frame; by default a text from PEER in GROUP at gseq = seq. */
export function groupMessageFrame(seq: number, fields: Partial<GroupMessage> = {}): ServerFrame {
  messageCounter += 1;
  return {
    type: 'group_message',
    seq,
    message: {
      id: ulid(messageCounter),
      group: GROUP,
      gseq: seq,
      clientId: `g${seq}`,
      from: PEER,
      fromDevice: PEER_DEVICE,
      sentAt: 1_700_000_000_000 + seq,
      body: { kind: 'text', text: `group message ${seq}` },
      ...fields,
    },
  };
}

/** A `group_event` mailbox frame; by default "PEER added ME" in GROUP. */
export function groupEventFrame(seq: number, change: GroupChange = { kind: 'members_added', members: [ME] }): ServerFrame {
  messageCounter += 1;
  return {
    type: 'group_event',
    seq,
    event: { id: ulid(messageCounter), group: GROUP, gseq: seq, by: PEER, at: 1_700_000_000_000 + seq, change },
  };
}

/** A `group_receipt` mailbox frame with one tally for GROUP. */
export function groupReceiptFrame(seq: number, tally: Partial<GroupTally> = {}): ServerFrame {
  return {
    type: 'group_receipt',
    seq,
    group: GROUP,
    tallies: [{ messageId: ulid(6000 + seq), gseq: 1, of: 3, delivered: 2, read: 1, ...tally }],
    at: 1_700_000_000_000 + seq,
  };
}

/** A `group_read_marker` mailbox frame: another of my devices read GROUP up to `upTo`. */
export function groupReadMarkerFrame(seq: number, upTo: number): ServerFrame {
  return { type: 'group_read_marker', seq, group: GROUP, upTo, at: 1_700_000_000_000 + seq };
}

export function groupSentFrame(
  id: string,
  fields: { group?: string; messageId?: string; gseq?: number; duplicate?: boolean } = {},
): GroupSentFrame {
  return {
    type: 'group_sent',
    id,
    group: fields.group ?? GROUP,
    messageId: fields.messageId ?? ulid(8000 + (id.length % 100)),
    gseq: fields.gseq ?? 1,
    sentAt: 1_700_000_000_000,
    duplicate: fields.duplicate ?? false,
  };
}
