/**
 * The logged-in session: the API with its token, and a connected SDK client with the CLI's
 * persistent outbox (and for `listen` its own cursor).
 *
 * One device has one WebSocket: a newer connection closes the older one with `replaced`. Short
 * commands (`send`) take the connection for a moment; a long-running `chat` or `listen` of the
 * same login takes it back a few seconds later (see `keepConnected`).
 */
import { join } from 'node:path';
import { MessengerApi, MessengerClient, MessengerError } from '../client/index.ts';
import type { HelloFrame, StateChange } from '../client/index.ts';
import { REQUEST_TIMEOUT_MS, commandKeeper, forgetEndedSession, refreshShared, storedOf } from './auth.ts';
import type { Session } from './config.ts';
import type { CommandContext } from './context.ts';
import { CliError, EXIT } from './errors.ts';
import { useNamesCache } from './resolve.ts';
import { DirectoryOutboxStore, FileCursorStore, FileLargeGroupCursorStore, NamesCache, SessionLock } from './stores.ts';
import { createSockets } from './websocket.ts';

/** How long to wait for the server's hello. */
export const CONNECT_TIMEOUT_MS = 15_000;
/** How long to let the socket finish closing (last ack, close handshake) before exiting. */
const SOCKET_CLOSE_WAIT_MS = 1_000;

/** The session of config.json, for the server this command talks to. */
export function currentSession(ctx: CommandContext): Session {
  const session = ctx.settings.session;
  if (session === undefined) {
    throw new CliError('not_logged_in', 'Not logged in: run `messenger login <phone>` first', EXIT.auth);
  }
  if (session.server !== ctx.server) {
    throw new CliError(
      'not_logged_in',
      `Not logged in on ${ctx.server} (you are logged in on ${session.server}): run \`messenger login <phone> --server ${ctx.server}\``,
      EXIT.auth,
    );
  }
  return session;
}

/** Refuse `userId` when it is the logged-in user ("You cannot send messages to yourself"). */
export function assertNotSelf(ctx: CommandContext, userId: string, what: string): void {
  if (userId === currentSession(ctx).userId) throw new CliError('self_reference', `You cannot ${what} yourself`, EXIT.usage);
}

/** The HTTP API without a session (logging in), or with a bare token. */
export function apiFor(ctx: CommandContext, token?: string): MessengerApi {
  return new MessengerApi({ baseUrl: ctx.server, timeoutMs: REQUEST_TIMEOUT_MS, ...(token === undefined ? {} : { token }) });
}

const namesCaches = new WeakMap<CommandContext, NamesCache>();

/** The names cache of this login's device (one per command; written when the command ends). */
export function namesCache(ctx: CommandContext, session: Session = currentSession(ctx)): NamesCache {
  let cache = namesCaches.get(ctx);
  if (cache === undefined) {
    const created = new NamesCache(ctx.config.deviceDir(session.deviceId));
    namesCaches.set(ctx, created);
    ctx.defer(() => created.flush());
    cache = created;
  }
  return cache;
}

/**
 * The API of the logged-in session (throws `not_logged_in` without one). Its token renews
 * itself, shared with every other command of this login (see auth.ts).
 */
export function sessionApi(ctx: CommandContext): { api: MessengerApi; session: Session } {
  const session = currentSession(ctx);
  const api = new MessengerApi({ baseUrl: ctx.server, timeoutMs: REQUEST_TIMEOUT_MS, tokens: commandKeeper(ctx, session) });
  useNamesCache(api, namesCache(ctx, session));
  return { api, session };
}

/** Reject with `onTimeout()` unless `promise` settles within `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export interface ConnectOptions {
  /** `listen` resumes from its own saved cursor; other commands from the server's record. */
  savedCursor?: boolean;
  timeoutMs?: number;
  /** Called with the client before it connects: subscribe here to see every event. */
  prepare?: (client: MessengerClient) => void;
}

export interface Connected {
  client: MessengerClient;
  session: Session;
  hello: HelloFrame;
  outbox: DirectoryOutboxStore;
}

/**
 * A connected client for the session (closed when the command ends). Checks the token over HTTP
 * first: a dead token or an unreachable server is reported at once and precisely.
 */
export async function connect(ctx: CommandContext, options: ConnectOptions = {}): Promise<Connected> {
  const session = currentSession(ctx);
  const deviceDir = ctx.config.deviceDir(session.deviceId);
  const outbox = new DirectoryOutboxStore(join(deviceDir, 'outbox'));
  const sockets = await createSockets();
  // Cleanups run last-registered first: close the client, then let the close finish.
  ctx.defer(() => sockets.allClosed(SOCKET_CLOSE_WAIT_MS));
  const keeper = commandKeeper(ctx, session);
  const stored = keeper.session ?? storedOf(session);
  const client = new MessengerClient({
    baseUrl: ctx.server,
    ...(stored === null ? { token: session.token } : { session: stored, refreshSession: (current) => refreshShared(ctx, current) }),
    WebSocket: sockets.WebSocket,
    outboxStore: outbox,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
    device: { platform: 'cli' },
    ...(options.savedCursor ? { cursorStore: new FileCursorStore(deviceDir) } : {}),
    // Large groups are pulled from a gseq cursor per group (their entries are not replayed by the
    // mailbox): the commands share one, so no run pulls a group again from its switch; `listen`
    // keeps its own, as it does its mailbox cursor, starting where the others were (as its mailbox
    // cursor starts at the server's record).
    largeGroupCursorStore: options.savedCursor
      ? new FileLargeGroupCursorStore(join(deviceDir, 'large-groups.json'), join(deviceDir, 'large-groups-seen.json'))
      : new FileLargeGroupCursorStore(join(deviceDir, 'large-groups-seen.json')),
  });
  ctx.defer(() => client.close());
  useNamesCache(client.api, namesCache(ctx, session));
  client.on('session_ended', () => forgetEndedSession(ctx, session.deviceId));
  options.prepare?.(client);
  await client.api.me();
  ctx.out.progress(`Connecting to ${ctx.server}…`);
  const hello = await withTimeout(
    client.connect(),
    options.timeoutMs ?? CONNECT_TIMEOUT_MS,
    () => new MessengerError('unavailable', 'No answer from the server', { status: 0 }),
  );
  return { client, session, hello, outbox };
}

/** Whether a state change is the server handing this device's connection to a newer one. */
export function isReplaced(change: StateChange): boolean {
  return change.state === 'closed' && change.error?.code === 'replaced';
}

export interface KeepConnectedOptions {
  /** Wait before taking the connection back, ms (doubles while it keeps being taken, up to maxDelayMs). */
  delayMs: number;
  maxDelayMs: number;
  /** Called when the connection was taken over and will be taken back after `delayMs`. */
  onTakenOver?: (delayMs: number) => void;
  /** Called when the server ended the connection for good (logged out, token expired, ...). */
  onClosed?: (error: MessengerError) => void;
}

/**
 * Take the connection back whenever another command of the same login took it over. Returns a
 * function that stops doing so.
 */
export function keepConnected(client: MessengerClient, options: KeepConnectedOptions): () => void {
  let delay = options.delayMs;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const offState = client.on('state', (change) => {
    if (stopped) return;
    if (change.state === 'open') {
      delay = options.delayMs;
      return;
    }
    if (change.state !== 'closed') return;
    if (!isReplaced(change)) {
      // Without an error it is our own close(); with one, the server ended the session.
      if (change.error !== undefined) options.onClosed?.(change.error);
      return;
    }
    options.onTakenOver?.(delay);
    const wait = delay + Math.random() * 250;
    delay = Math.min(options.maxDelayMs, delay * 2);
    timer = setTimeout(() => {
      if (!stopped) void client.connect();
    }, wait);
  });
  return () => {
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
    offState();
  };
}

/**
 * Wait for `promise` while the client stays usable: rejects with the server's reason if the
 * session ends for good (logged out, token expired), or with `onTimeout()` after `timeoutMs`.
 */
export function whileConnected<T>(client: MessengerClient, promise: Promise<T>, timeoutMs: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const cleanup = (): void => {
      offState();
      clearTimeout(timer);
    };
    const offState = client.on('state', (change) => {
      if (change.state !== 'closed' || change.error === undefined || isReplaced(change)) return;
      cleanup();
      reject(change.error);
    });
    const timer = setTimeout(() => {
      cleanup();
      reject(onTimeout());
    }, timeoutMs);
    promise.then(
      (value) => {
        cleanup();
        resolve(value);
      },
      (error: unknown) => {
        cleanup();
        reject(error);
      },
    );
  });
}

/**
 * Hold this device's session lock until the command ends, or refuse to start when another
 * `chat` or `listen` of the same login is running (they would keep taking the connection from
 * each other).
 */
export function holdSessionLock(ctx: CommandContext, session: Session, command: string): void {
  const lock = new SessionLock(ctx.config.deviceDir(session.deviceId));
  const holder = lock.acquire(command);
  if (holder !== null) {
    throw new CliError(
      'busy',
      `Another \`messenger ${holder.command}\` (pid ${holder.pid}) is already connected with this login; stop it first, or log in a second device with its own MESSENGER_CONFIG_DIR`,
      EXIT.refused,
    );
  }
  ctx.defer(() => lock.release());
}
