/**
 * The bare relay: the ceiling the messenger is measured against, on the same runtime and the
 * same Durable Object topology (one object per user, holding that user's WebSocket through the
 * Hibernation API). A frame from A names its recipient in `to`; A's object passes the text by
 * RPC to B's object, which writes it verbatim to B's socket. No storage, no acks, no receipts,
 * no validation beyond reading `to` (or `group`).
 *
 * The durable relay (the cost scenario's floor for storing, bench/cost-relay.ts): a 1:1 frame
 * carrying `"store": true` is stored as one row by the recipient's object before it writes the
 * frame to the socket (the runtime holds the RPC's answer until that commit), then as one row by
 * the sender's object: the least a messenger that keeps both copies durably must do, and nothing
 * else (no ids, no order, no acks, no history, no search).
 *
 * Groups (the group scenario's yardstick, bench/group-relay.ts): a frame naming `group` instead
 * of `to` is passed by RPC to that group's object, which holds the member list in memory only
 * (set by the bench, lost if the object is evicted) and calls `push` on every member's object,
 * the sender's included, awaiting each, at most GROUP_CONCURRENCY calls in flight in the object
 * (the shape of the messenger's live fan-out, durable-objects/group/delivery.ts: a pool of
 * workers taking the next member; here one pool across all the messages in flight).
 *
 *   GET /connect?user=NAME   (WebSocket upgrade) -> first frame {"type":"hello"}
 *   client -> {"type":"send","id":"...","to":"OTHER","body":{...}} -> OTHER receives it as is
 *   client -> {"type":"send","id":"...","to":"OTHER","store":true,...} -> the same, stored in both objects
 *   client -> {"type":"send","id":"...","group":"G","store":true,...} -> the same, stored once by the group's
 *             object and then by each member's object before its socket write
 *   POST /group?name=G  body: JSON array of user names -> 204 (400 if not such an array)
 *   client -> {"type":"send","id":"...","group":"G","body":{...}} -> every member of G receives it as is
 */
import { DurableObject } from 'cloudflare:workers';

type RelayEnv = { RELAY: DurableObjectNamespace<RelayUser>; RELAY_GROUP: DurableObjectNamespace<RelayGroup> };

const HELLO = '{"type":"hello"}';

/** Member calls in flight at once in a group object (the messenger's DEFAULT_LIVE_CONCURRENCY). */
const GROUP_CONCURRENCY = 256;

function relayOf(env: RelayEnv, user: string): DurableObjectStub<RelayUser> {
  return env.RELAY.get(env.RELAY.idFromName(user));
}

function groupOf(env: RelayEnv, name: string): DurableObjectStub<RelayGroup> {
  return env.RELAY_GROUP.get(env.RELAY_GROUP.idFromName(name));
}

export class RelayUser extends DurableObject<RelayEnv> {
  /** The durable relay's table exists (created on the first frame stored). */
  #logReady = false;

  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get('Upgrade') !== 'websocket') return new Response('expected a WebSocket upgrade', { status: 426 });
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1]);
    pair[1].send(HELLO);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  override async webSocketMessage(_ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (typeof message !== 'string') return;
    let frame: { to?: unknown; group?: unknown; store?: unknown };
    try {
      frame = JSON.parse(message) as { to?: unknown; group?: unknown; store?: unknown };
    } catch {
      return;
    }
    // Heartbeats and anything without a recipient are ignored.
    if (typeof frame.to === 'string' && frame.store === true) {
      await relayOf(this.env, frame.to).storeAndPush(message);
      this.#keep(message);
    } else if (typeof frame.to === 'string') await relayOf(this.env, frame.to).push(message);
    else if (typeof frame.group === 'string') await groupOf(this.env, frame.group).fanOut(message, frame.store === true);
  }

  /** RPC from the sender's object (durable relay): store the frame, then write it to this user's socket(s). */
  async storeAndPush(frame: string): Promise<void> {
    this.#keep(frame);
    await this.push(frame);
  }

  /** One row per frame, committed with the turn that writes it. */
  #keep(frame: string): void {
    this.#logReady = keepRow(this.ctx.storage.sql, frame, this.#logReady);
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

/** The durable relay's storage: one row per frame in a `log` table created on first use (returns that it exists). */
function keepRow(sql: SqlStorage, frame: string, ready: boolean): true {
  if (!ready) sql.exec('CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY, frame TEXT NOT NULL)');
  sql.exec('INSERT INTO log (frame) VALUES (?)', frame);
  return true;
}

/**
 * One message's fan-out: its frame, whether each member stores it (durable relay), the members it
 * goes to, the next one to call, the calls not yet finished.
 */
type FanOut = { frame: string; store: boolean; members: readonly string[]; next: number; left: number; done: () => void };

export class RelayGroup extends DurableObject<RelayEnv> {
  #members: readonly string[] = [];
  /** Fan-outs with members not yet called, oldest first. */
  readonly #queue: FanOut[] = [];
  /** Member calls not yet started, over the whole queue. */
  #unstarted = 0;
  #workers = 0;
  #logReady = false;

  /** RPC from the Worker (POST /group): the member list, replacing the previous one. */
  setMembers(members: string[]): number {
    this.#members = [...members];
    return this.#members.length;
  }

  /** RPC from the sender's object: push `frame` to every member; resolves when every call has. */
  fanOut(frame: string, store = false): Promise<void> {
    if (this.#members.length === 0) return Promise.resolve();
    // Durable relay: the group keeps the message once (its log), then every member's object a copy.
    if (store) this.#logReady = keepRow(this.ctx.storage.sql, frame, this.#logReady);
    return new Promise<void>((done) => {
      this.#queue.push({ frame, store, members: this.#members, next: 0, left: this.#members.length, done });
      this.#unstarted += this.#members.length;
      // A new worker starts its first call before it yields, so each one started here takes one.
      while (this.#workers < GROUP_CONCURRENCY && this.#unstarted > 0) {
        this.#workers++;
        void this.#work();
      }
    });
  }

  /** A worker: call the next member of the oldest fan-out, awaiting each call, until nothing is left to call. */
  async #work(): Promise<void> {
    for (let job = this.#queue[0]; job; job = this.#queue[0]) {
      const member = job.members[job.next++]!;
      this.#unstarted--;
      if (job.next === job.members.length) this.#queue.shift();
      try {
        const stub = relayOf(this.env, member);
        await (job.store ? stub.storeAndPush(job.frame) : stub.push(job.frame));
      } catch {
        // The member's object could not be reached: the relay drops, like any fire-and-forget relay.
      }
      if (--job.left === 0) job.done();
    }
    this.#workers--;
  }
}

/** POST /group?name=G with a JSON array of user names: that group's members. */
async function setGroup(request: Request, env: RelayEnv, name: string): Promise<Response> {
  let members: unknown;
  try {
    members = await request.json();
  } catch {
    return new Response('body must be a JSON array of user names', { status: 400 });
  }
  if (!Array.isArray(members) || !members.every((m): m is string => typeof m === 'string' && m.length > 0)) {
    return new Response('body must be a JSON array of user names', { status: 400 });
  }
  await groupOf(env, name).setMembers(members);
  return new Response(null, { status: 204 });
}

export default {
  async fetch(request, env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === '/group') {
      const name = url.searchParams.get('name');
      if (request.method !== 'POST' || !name) return new Response('POST /group?name=G with a JSON array of user names', { status: 400 });
      return setGroup(request, env, name);
    }
    const user = url.searchParams.get('user');
    if (url.pathname !== '/connect' || !user) return new Response('GET /connect?user=NAME (WebSocket upgrade)', { status: 404 });
    return relayOf(env, user).fetch(request);
  },
} satisfies ExportedHandler<RelayEnv>;
