/**
 * Helpers for runtime tests: sign users up through the real HTTP API and open real WebSockets
 * through the Worker, with a frame inbox that waits for what a test expects.
 */
import { SELF } from 'cloudflare:test';
import {
  parseServerFrame,
  PATHS,
  SessionResponseSchema,
  VerifyResponseSchema,
  type ClientFrame,
  type ServerFrame,
  type SessionResponse,
  type VerifyResponse,
} from '../../protocol/index.ts';

export const BASE = 'http://messenger.test';

export { nextPhone } from '../support/phones.ts';

export async function api(path: string, init: RequestInit & { token?: string } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.token) headers.set('Authorization', `Bearer ${init.token}`);
  if (init.body && !headers.has('Content-Type')) headers.set('Content-Type', 'application/json');
  return SELF.fetch(`${BASE}${path}`, { ...init, headers });
}

let clients = 0;

/**
 * A client address of its own for each sign-up, so per-IP limits (on in runtime tests) never
 * throttle tests that sign up many users. Only a header value: nothing is sent anywhere.
 */
export function nextClientIp(): string {
  clients += 1;
  return `2001:db8:${(clients >> 16).toString(16)}:${(clients & 0xffff).toString(16)}::1`;
}

/**
 * Request a code and verify it (dev provider): the answer is a session, or the request for the
 * PIN when the account has one.
 */
export async function verifyLogin(phone: string, deviceName = 'test', platform?: string): Promise<VerifyResponse> {
  const headers = { 'CF-Connecting-IP': nextClientIp() };
  const otp = await api(PATHS.requestOtp, { method: 'POST', body: JSON.stringify({ phone }), headers });
  if (otp.status !== 200) throw new Error(`otp request failed: ${otp.status} ${await otp.text()}`);
  const { devCode, phone: e164, challenge } = (await otp.json()) as { devCode: string; phone: string; challenge: string };
  const verify = await api(PATHS.verifyOtp, {
    method: 'POST',
    body: JSON.stringify({ phone: e164, code: devCode, challenge, deviceName, ...(platform ? { platform } : {}) }),
    headers,
  });
  if (verify.status !== 200) throw new Error(`verify failed: ${verify.status} ${await verify.text()}`);
  return VerifyResponseSchema.parse(await verify.json());
}

/** Log in through OTP (dev provider) and return the session (for accounts without a PIN). */
export async function login(phone: string, deviceName = 'test'): Promise<SessionResponse> {
  const answer = await verifyLogin(phone, deviceName);
  if ('pinRequired' in answer) throw new Error('login: this account has a PIN (use verifyLogin and POST /v1/auth/pin)');
  return answer;
}

/** Renew a session with its refresh token (own client address); the raw response, for refusals. */
export function refreshRaw(refreshToken: string): Promise<Response> {
  return api(PATHS.refresh, {
    method: 'POST',
    body: JSON.stringify({ refreshToken }),
    headers: { 'CF-Connecting-IP': nextClientIp() },
  });
}

/** Renew a session; throws unless it worked. */
export async function refresh(session: Pick<SessionResponse, 'refreshToken'>): Promise<SessionResponse> {
  const res = await refreshRaw(session.refreshToken);
  if (res.status !== 200) throw new Error(`refresh failed: ${res.status} ${await res.text()}`);
  return SessionResponseSchema.parse(await res.json());
}

export class TestSocket {
  readonly frames: ServerFrame[] = [];
  closed: { code: number; reason: string } | null = null;
  #waiters: Array<() => void> = [];

  constructor(readonly ws: WebSocket) {
    ws.addEventListener('message', (event) => {
      const parsed = parseServerFrame(event.data as string);
      if (!parsed.ok) throw new Error(`server sent an invalid frame: ${parsed.error.message}: ${String(event.data)}`);
      this.frames.push(parsed.frame);
      this.#wake();
    });
    ws.addEventListener('close', (event) => {
      this.closed = { code: event.code, reason: event.reason };
      this.#wake();
    });
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  send(frame: ClientFrame | string): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Wait until `count` frames match, return them. */
  async waitFor<T extends ServerFrame>(
    predicate: (frame: ServerFrame) => frame is T,
    count = 1,
    timeoutMs = 3_000,
  ): Promise<T[]> {
    // performance.now(), not Date.now(): tests that freeze Date (limits.test.ts) still get a bounded wait.
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.frames.filter(predicate);
      if (found.length >= count) return found.slice(0, count);
      if (performance.now() > deadline) {
        throw new Error(`timed out waiting for ${count} frames; have ${JSON.stringify(this.frames).slice(0, 2000)}`);
      }
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  async waitClosed(timeoutMs = 3_000): Promise<{ code: number; reason: string }> {
    const deadline = performance.now() + timeoutMs;
    while (!this.closed) {
      if (performance.now() > deadline) throw new Error('timed out waiting for close');
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
    return this.closed;
  }

  of<K extends ServerFrame['type']>(type: K): Extract<ServerFrame, { type: K }>[] {
    return this.frames.filter((f): f is Extract<ServerFrame, { type: K }> => f.type === type);
  }

  close(): void {
    try {
      this.ws.close(1000, 'test done');
    } catch {
      // already closed
    }
  }
}

export function isType<K extends ServerFrame['type']>(type: K) {
  return (frame: ServerFrame): frame is Extract<ServerFrame, { type: K }> => frame.type === type;
}

/** A fresh single-use connect ticket for the session's device. */
export async function ticketFor(session: SessionResponse): Promise<string> {
  const res = await api(PATHS.connectTicket, { method: 'POST', token: session.token });
  if (res.status !== 200) throw new Error(`ticket request failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { ticket: string }).ticket;
}

/** Open a WebSocket as the session's device (with a fresh ticket); waits for `hello`. */
export async function connect(session: SessionResponse, cursor?: number): Promise<TestSocket> {
  const url = new URL(`${BASE}${PATHS.connect}`);
  url.searchParams.set('ticket', await ticketFor(session));
  if (cursor !== undefined) url.searchParams.set('cursor', String(cursor));
  const res = await SELF.fetch(url, { headers: { Upgrade: 'websocket' } });
  if (res.status !== 101 || !res.webSocket) throw new Error(`connect failed: ${res.status} ${await res.text()}`);
  res.webSocket.accept();
  const socket = new TestSocket(res.webSocket);
  await socket.waitFor(isType('hello'));
  return socket;
}

/** Ack everything received so far on this socket. */
export function ackAll(socket: TestSocket): number {
  // A `sent` with `seq` carries the sender's copy: that entry counts too.
  const seqs = socket.frames.flatMap((f) => ('seq' in f && f.seq !== undefined ? [f.seq] : []));
  const upTo = Math.max(0, ...seqs);
  socket.send({ type: 'ack', upTo });
  return upTo;
}

export function text(t: string) {
  return { kind: 'text' as const, text: t };
}
