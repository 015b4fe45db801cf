/**
 * The live connections of one user: one hibernatable WebSocket per device, each with its delivery
 * state in the socket attachment so it survives hibernation (the object may be evicted between
 * any two frames; the sockets stay open).
 *
 * Delivery is per connection and contiguous: a connection receives seq n+1 only after n. Live
 * entries go out at once to connections that are caught up; a connection that is behind (a
 * resume, or more than DELIVERY_WINDOW unacked) is refilled from storage as it acks.
 */
import { DELIVERY_WINDOW } from '../../protocol/index.ts';
import type { MailboxStore, StoredEntry } from './store.ts';

/** Per-connection state, stored in the WebSocket attachment. */
export type ConnectionState = {
  userId: string;
  deviceId: string;
  /** Highest seq the device acknowledged on this connection (or its starting cursor). */
  acked: number;
  /** Highest seq sent on this connection. */
  sent: number;
  connectedAt: number;
  /** Users whose presence this connection watches (`presence_watch`). */
  watching?: string[];
  /**
   * Set while `acked` is only the device's recorded start (a device registered by `deviceAdded`
   * that has not acknowledged anything yet): nothing is recorded for it until it acks.
   */
  unacknowledged?: boolean;
};

export class Connections {
  // Deserialising an attachment costs a structured clone; keep a cache for the object's lifetime.
  readonly #cache = new WeakMap<WebSocket, ConnectionState>();

  constructor(private readonly ctx: DurableObjectState) {}

  /** Register a newly accepted socket, tagged with its device id. */
  accept(ws: WebSocket, state: ConnectionState): void {
    this.ctx.acceptWebSocket(ws, [state.deviceId]);
    this.save(ws, state);
  }

  all(): WebSocket[] {
    return this.ctx.getWebSockets();
  }

  /** Send an ephemeral frame (typing, presence) to every connection, or those `which` selects. */
  broadcast(frame: unknown, which?: (state: ConnectionState) => boolean): number {
    return this.broadcastText(JSON.stringify(frame), which);
  }

  /** `broadcast` of a frame already encoded (a large group's live push comes as text). */
  broadcastText(text: string, which?: (state: ConnectionState) => boolean): number {
    let reached = 0;
    for (const ws of this.all()) {
      const state = this.state(ws);
      if (!state || (which && !which(state))) continue;
      if (trySend(ws, text)) reached++;
    }
    return reached;
  }

  ofDevice(deviceId: string): WebSocket[] {
    return this.ctx.getWebSockets(deviceId);
  }

  state(ws: WebSocket): ConnectionState | null {
    const cached = this.#cache.get(ws);
    if (cached) return cached;
    const restored = ws.deserializeAttachment() as ConnectionState | null;
    if (restored) this.#cache.set(ws, restored);
    return restored;
  }

  save(ws: WebSocket, state: ConnectionState): void {
    this.#cache.set(ws, state);
    ws.serializeAttachment(state);
  }

  /** Send freshly appended entries (in seq order) to every connection that is caught up. */
  pushLive(entries: readonly StoredEntry[]): void {
    if (entries.length === 0) return;
    for (const ws of this.all()) {
      const state = this.state(ws);
      if (!state) continue;
      let sent = state.sent;
      for (const entry of entries) {
        if (entry.seq !== sent + 1 || entry.seq - state.acked > DELIVERY_WINDOW) break;
        if (!trySend(ws, entry.text)) break;
        sent = entry.seq;
      }
      if (sent !== state.sent) this.save(ws, { ...state, sent });
    }
  }

  /** Send stored entries after `state.sent`, up to the window, to one connection. */
  refill(ws: WebSocket, store: MailboxStore): void {
    const state = this.state(ws);
    if (!state) return;
    const room = DELIVERY_WINDOW - (state.sent - state.acked);
    if (room <= 0 || state.sent >= store.head) return;
    let sent = state.sent;
    for (const entry of store.range(state.sent, room)) {
      if (!trySend(ws, entry.text)) break;
      sent = entry.seq;
    }
    if (sent !== state.sent) this.save(ws, { ...state, sent });
  }

  /**
   * Send `text`, a frame that carries entry `seq` (a `sent` answer holding the sender's own copy),
   * in place of that entry, when the entry is what this connection would get live next (caught
   * up: `sent === seq - 1`, and within the window). Its `sent` moves to `seq`, so `pushLive`
   * skips the entry there and acks and resumes count it like any entry. Returns whether it went;
   * when not, the entry reaches this connection as usual (live or by refill).
   */
  sendInPlaceOf(ws: WebSocket, seq: number, text: string): boolean {
    const state = this.state(ws);
    if (!state || state.sent !== seq - 1 || seq - state.acked > DELIVERY_WINDOW) return false;
    if (!trySend(ws, text)) return false;
    this.save(ws, { ...state, sent: seq });
    return true;
  }

  /** Send a frame that is not part of the mailbox (hello, sent, error). */
  sendDirect(ws: WebSocket, frame: unknown): void {
    trySend(ws, JSON.stringify(frame));
  }

  /**
   * Close every connection of a device (revocation, replacement). With `forget`, the sockets
   * lose their state first, so their close events record nothing (a revoked device's cursor
   * must not come back).
   */
  closeDevice(deviceId: string, code: number, reason: string, { forget }: { forget: boolean }): void {
    for (const ws of this.ofDevice(deviceId)) {
      if (forget) {
        this.#cache.delete(ws);
        ws.serializeAttachment(null);
      }
      try {
        ws.close(code, reason);
      } catch {
        // Already closing: nothing to do.
      }
    }
  }
}

/** A socket can be mid-close when we write; that is not an error for the writer. */
function trySend(ws: WebSocket, text: string): boolean {
  try {
    ws.send(text);
    return true;
  } catch {
    return false;
  }
}
