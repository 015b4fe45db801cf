/**
 * The WebSocket implementation for the SDK: Node 22's global `WebSocket`, or on Node 20 (which
 * has none without a flag) the `ws` package, whose `addEventListener` delivers text frames as
 * strings like the standard one.
 *
 * The CLI exits right after its work, so it keeps track of its sockets and waits (briefly) for
 * them to finish closing: the last ack and the close handshake must reach the server, or the
 * sender would not get its "delivered" tick.
 */
import type { WebSocketConstructor, WebSocketLike } from '../client/index.ts';

export interface Sockets {
  /** The constructor to hand to the SDK. */
  WebSocket: WebSocketConstructor;
  /** Resolves when every socket made so far is closed, or after `timeoutMs`. */
  allClosed(timeoutMs: number): Promise<void>;
}

async function baseImpl(): Promise<WebSocketConstructor> {
  const native = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (native !== undefined) return native;
  const { WebSocket } = await import('ws');
  // Without compression a send is written at once rather than after an asynchronous deflate.
  return class extends WebSocket {
    constructor(url: string) {
      super(url, { perMessageDeflate: false });
    }
  } as unknown as WebSocketConstructor;
}

const CLOSED = 3;

export async function createSockets(): Promise<Sockets> {
  const Base = await baseImpl();
  const live = new Set<WebSocketLike>();
  class TrackedWebSocket extends Base {
    constructor(url: string) {
      super(url);
      live.add(this);
      this.addEventListener('close', () => live.delete(this));
    }
  }
  return {
    WebSocket: TrackedWebSocket,
    async allClosed(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline && [...live].some((socket) => socket.readyState !== CLOSED)) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
  };
}
