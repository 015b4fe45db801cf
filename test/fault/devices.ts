/**
 * SDK devices whose every send attempt, answer and delivery goes into a HistoryRecorder: attempts
 * and answers are read off the socket itself (each frame written or received, per connection),
 * deliveries off the SDK's 'message' / 'group_message' events (after its own dedup), and a
 * socket can be killed without a close frame, as a dead network would.
 */
import WebSocket from 'ws';
import { MessengerClient } from '../../client/index.ts';
import type { MessageBody, WebSocketConstructor, WebSocketLike } from '../../client/index.ts';
import type { ChatRef, HistoryRecorder } from './history.ts';
import { DeliveryTamper, type Delivery, type TamperMode, type TamperRecord } from './tamper.ts';

/** The text a body stands for in the history (its fingerprint). */
function bodyPrint(body: { kind: string; text?: unknown }): string {
  return body.kind === 'text' && typeof body.text === 'string' ? body.text : `<${body.kind}>`;
}

/** Frames this file reads; anything else passes through unread. */
type Outgoing = { type?: string; id?: string; to?: string; group?: string; body?: MessageBody };
type Incoming = { type?: string; id?: string | null; messageId?: string; gseq?: number; code?: string; retryable?: boolean; seq?: number; cursor?: number };

export interface RecordedDeviceOptions {
  /**
   * A deliberately broken client (see tamper.ts): once in the run, drop, duplicate or swap
   * deliveries before the application sees them. Only for proving the checker can fail.
   */
  tamper?: TamperMode;
}

/** What stale-cursor reconnects did on one device. */
export interface StaleCursorStats {
  /** Sockets opened announcing a cursor older than what the SDK had already processed. */
  connects: number;
  /** Of those, how many the server greeted (hello) from the stale cursor or further back. */
  greeted: number;
  /** Mailbox frames the server sent again on them (seq at or below the SDK's real cursor). */
  resent: number;
}

function parse<T>(data: unknown): T | undefined {
  try {
    return JSON.parse(typeof data === 'string' ? data : String(data)) as T;
  } catch {
    return undefined; // the heartbeat and its answer are not JSON
  }
}

/** One user's device in a fault run. */
export class RecordedDevice {
  readonly client: MessengerClient;
  /** Sockets opened so far; the newest is the live one (or the one being opened). */
  private readonly sockets: WebSocket[] = [];
  /** clientId → `at` of its latest attempt that has no outcome yet, per connection. */
  private readonly open = new Map<string, Map<string, number>>();
  /** clientId → its latest attempt and whether that attempt has an outcome. */
  private readonly latest = new Map<string, { at: number; answered: boolean; acked: boolean }>();
  userId = '';
  deviceId = '';
  /** How many entries further back than its real cursor the next socket will announce (one socket only). */
  private rewindNext: number | undefined;
  /** connection → the SDK's real cursor when that socket was opened with a stale one. */
  private readonly staleConnections = new Map<string, number>();
  readonly stale: StaleCursorStats = { connects: 0, greeted: 0, resent: 0 };
  private readonly tamper: DeliveryTamper | undefined;

  constructor(
    readonly label: string,
    baseUrl: string,
    private readonly rec: HistoryRecorder,
    options: RecordedDeviceOptions = {},
  ) {
    // A held swap is surfaced as it came after a second: the drain waits for it like any delivery.
    if (options.tamper) this.tamper = new DeliveryTamper(options.tamper, (d) => this.rec.deliver(d), 1_000);
    this.client = new MessengerClient({
      baseUrl,
      WebSocket: this.socketClass(),
      device: { deviceName: label, platform: 'cli' },
      backoff: { baseMs: 50, capMs: 1_000 },
      heartbeatIntervalMs: 2_000,
      requestTimeoutMs: 5_000,
    });
  }

  /** Log in (a new device of `phone`) and declare it; does not connect. */
  async login(phone: string): Promise<void> {
    await this.client.login(phone);
    this.userId = this.client.userId ?? '';
    this.deviceId = this.client.deviceId ?? '';
    this.rec.deviceAdded(this.userId, this.deviceId);
    this.recordDeliveries();
    // An echo can confirm a send whose own answer died with its socket: that is an ack too.
    this.client.on('sent', (f) => this.ackFromSdk(f.id, f.messageId));
    this.client.on('group_sent', (f) => this.ackFromSdk(f.id, f.messageId, f.gseq));
  }

  /** Cut the live socket without a close frame (the server and the SDK only see the TCP drop). */
  kill(): boolean {
    const socket = this.sockets.at(-1);
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    socket.terminate();
    return true;
  }

  /**
   * A stale-cursor reconnect: close, then (after `delayMs`) connect again, the first socket
   * announcing a cursor `back` entries older than what the SDK has processed and acked (close()
   * flushes its last ack), as a client whose stored cursor lags would. The server must send
   * those entries again and the SDK must drop them: the application still sees every message
   * exactly once. (The SDK reads
   * its CursorStore once per client and never moves its cursor back, so rewinding a store
   * would not reach the socket: the rewind is applied to the connect URL instead.)
   * False (and nothing done) when the SDK has no cursor yet.
   */
  reconnectStale(back: number, delayMs: number): boolean {
    if (this.client.cursor === undefined || this.client.cursor === 0) return false;
    this.client.close();
    this.rewindNext = Math.max(1, back);
    setTimeout(() => void this.client.connect().catch(() => undefined), delayMs);
    return true;
  }

  /** What the tamper did, once it fired. */
  tampered(): TamperRecord | undefined {
    const fired = this.tamper?.fired;
    return fired && { ...fired, label: this.label };
  }

  /** Surfaces a delivery the tamper still holds (before the final check). */
  flushTamper(): void {
    this.tamper?.flush();
  }

  /** Unconfirmed sends in the SDK's outbox. */
  pending(): number {
    return this.client.pending().length;
  }

  private recordDeliveries(): void {
    const surface = (delivery: Delivery) => (this.tamper ? this.tamper.push(delivery) : this.rec.deliver(delivery));
    this.client.on('message', ({ message, seq }) => {
      const chat: ChatRef = { kind: 'direct', peer: message.to };
      surface({ user: this.userId, device: this.deviceId, chat, from: message.from, clientId: message.clientId, messageId: message.id, body: bodyPrint(message.body), seq });
    });
    this.client.on('group_message', ({ message, seq }) => {
      const chat: ChatRef = { kind: 'group', group: message.group };
      surface({ user: this.userId, device: this.deviceId, chat, from: message.from, clientId: message.clientId, messageId: message.id, body: bodyPrint(message.body), seq });
    });
    // A large group's entries after its switch to read diffusion: ordered by gseq, per group.
    this.client.on('group_log_entry', ({ group, gseq, entry }) => {
      if (entry.type !== 'message') return;
      const { message } = entry;
      const chat: ChatRef = { kind: 'group', group };
      surface({ user: this.userId, device: this.deviceId, chat, from: message.from, clientId: message.clientId, messageId: message.id, body: bodyPrint(message.body), seq: gseq, stream: `log:${group}` });
    });
  }

  /** The SDK's connect URL, with its cursor moved back if a stale reconnect asked for it. */
  private staleUrl(url: string, connection: string): string {
    const back = this.rewindNext;
    if (back === undefined) return url;
    this.rewindNext = undefined;
    const parsed = new URL(url);
    const cursor = Number(parsed.searchParams.get('cursor'));
    if (!Number.isSafeInteger(cursor) || cursor <= 0) return url;
    parsed.searchParams.set('cursor', String(Math.max(0, cursor - back)));
    this.staleConnections.set(connection, cursor);
    this.stale.connects++;
    return parsed.toString();
  }

  /** Counts what the server sent again on a stale socket. */
  private staleFrame(connection: string, frame: Incoming): void {
    const real = this.staleConnections.get(connection);
    if (real === undefined) return;
    if (frame.type === 'hello' && typeof frame.cursor === 'number' && frame.cursor < real) this.stale.greeted++;
    else if (typeof frame.seq === 'number' && frame.seq <= real) this.stale.resent++;
  }

  private ackFromSdk(clientId: string, messageId: string, gseq?: number): void {
    const latest = this.latest.get(clientId);
    if (!latest || latest.answered) return; // already recorded from the socket (or no attempt to hang it on)
    latest.answered = true;
    latest.acked = true;
    for (const attempts of this.open.values()) attempts.delete(clientId);
    this.rec.ack(latest.at, messageId, gseq);
  }

  /** A WebSocket class for the SDK whose instances report to this device. */
  private socketClass(): WebSocketConstructor {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the class below is constructed by the SDK
    const device = this;
    return class RecordedSocket implements WebSocketLike {
      private readonly ws: WebSocket;
      private readonly connection: string;
      constructor(url: string) {
        this.connection = `${device.label}#${device.sockets.length + 1}`;
        this.ws = new WebSocket(device.staleUrl(url, this.connection));
        device.sockets.push(this.ws);
        device.open.set(this.connection, new Map());
        // Added before the SDK's listeners, so answers are recorded before the SDK reacts to them.
        this.ws.addEventListener('message', (event) => device.answer(this.connection, event.data));
        this.ws.addEventListener('close', () => device.died(this.connection));
      }
      get readyState(): number {
        return this.ws.readyState;
      }
      send(data: string): void {
        device.attempt(this.connection, data);
        this.ws.send(data);
      }
      close(code?: number, reason?: string): void {
        this.ws.close(code, reason);
      }
      addEventListener(type: 'open' | 'message' | 'close' | 'error', listener: (event: never) => void): void {
        this.ws.addEventListener(type, listener as () => void);
      }
    };
  }

  private attempt(connection: string, data: string): void {
    const frame = parse<Outgoing>(data);
    if (!frame || (frame.type !== 'send' && frame.type !== 'group_send') || !frame.id || !frame.body) return;
    const chat: ChatRef = frame.type === 'send' ? { kind: 'direct', peer: frame.to ?? '' } : { kind: 'group', group: frame.group ?? '' };
    const at = this.rec.send({ user: this.userId, device: this.deviceId, connection, chat, clientId: frame.id, body: bodyPrint(frame.body) });
    this.open.get(connection)?.set(frame.id, at);
    this.latest.set(frame.id, { at, answered: false, acked: false });
  }

  private answer(connection: string, data: unknown): void {
    const frame = parse<Incoming>(data);
    if (frame) this.staleFrame(connection, frame);
    if (!frame || typeof frame.id !== 'string') return;
    if (frame.type !== 'sent' && frame.type !== 'group_sent' && frame.type !== 'error') return;
    const attempts = this.open.get(connection);
    const at = attempts?.get(frame.id);
    if (at === undefined) return;
    attempts?.delete(frame.id);
    const latest = this.latest.get(frame.id);
    if (latest?.at === at) latest.answered = true;
    if (frame.type === 'error') this.rec.error(at, frame.code ?? 'unknown', frame.retryable ?? false);
    else this.rec.ack(at, frame.messageId ?? '', frame.gseq);
  }

  private died(connection: string): void {
    const attempts = this.open.get(connection);
    if (!attempts) return;
    for (const [clientId, at] of attempts) {
      this.rec.unknown(at);
      const latest = this.latest.get(clientId);
      if (latest?.at === at) latest.answered = true;
    }
    this.open.delete(connection);
  }
}
