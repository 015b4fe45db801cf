/**
 * The bare relay: the ceiling the messenger is measured against, on the same runtime and the
 * same Durable Object topology (one object per user, holding that user's WebSocket through the
 * Hibernation API). A frame from A names its recipient in `to`; A's object passes the text by
 * RPC to B's object, which writes it verbatim to B's socket. No storage, no acks, no receipts,
 * no validation beyond reading `to`.
 *
 *   GET /connect?user=NAME   (WebSocket upgrade) -> first frame {"type":"hello"}
 *   client -> {"type":"send","id":"...","to":"OTHER","body":{...}} -> OTHER receives it as is
 */
import { DurableObject } from 'cloudflare:workers';

type RelayEnv = { RELAY: DurableObjectNamespace<RelayUser> };

const HELLO = '{"type":"hello"}';

function relayOf(env: RelayEnv, user: string): DurableObjectStub<RelayUser> {
  return env.RELAY.get(env.RELAY.idFromName(user));
}

export class RelayUser extends DurableObject<RelayEnv> {
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get('Upgrade') !== 'websocket') return new Response('expected a WebSocket upgrade', { status: 426 });
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1]);
    pair[1].send(HELLO);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  override async webSocketMessage(_ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (typeof message !== 'string') return;
    let to: unknown;
    try {
      to = (JSON.parse(message) as { to?: unknown }).to;
    } catch {
      return;
    }
    // Heartbeats and anything without a recipient are ignored.
    if (typeof to === 'string') await relayOf(this.env, to).push(message);
  }

  /** RPC from the sender's object: write the frame to this user's socket(s). */
  async push(frame: string): Promise<void> {
    for (const ws of this.ctx.getWebSockets()) {
      try {
        ws.send(frame);
      } catch {
        // Socket mid-close: the relay drops, like any fire-and-forget relay.
      }
    }
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, 'closing');
    } catch {
      // Already closed.
    }
  }
}

export default {
  async fetch(request, env): Promise<Response> {
    const url = new URL(request.url);
    const user = url.searchParams.get('user');
    if (url.pathname !== '/connect' || !user) return new Response('GET /connect?user=NAME (WebSocket upgrade)', { status: 404 });
    return relayOf(env, user).fetch(request);
  },
} satisfies ExportedHandler<RelayEnv>;
