/**
 * The operators' API: endpoints authenticated with the server's METRICS_TOKEN instead of a
 * user's token (delivery metrics, and what the local push sink recorded).
 */
import { MetricsSchema, PATHS, SinkPushListSchema } from '../protocol/index.ts';
import type { Metrics, SinkPushList } from '../protocol/index.ts';
import { makeTransport, sendRequest } from './transport.ts';
import type { FetchLike, Transport } from './transport.ts';

/** Query of {@link OperatorApi.sinkPushes}. */
export interface SinkPushQuery {
  /** Only pushes to this user. */
  userId?: string;
  /** Only pushes with an id above this (for polling: the last id seen). */
  after?: number;
  /** Most pushes to return, 1..500 (server default 100). */
  limit?: number;
}

/** Options for {@link OperatorApi}. */
export interface OperatorApiOptions {
  /** Server origin (plus optional path prefix). */
  baseUrl: string;
  /** The operators' token (the server's METRICS_TOKEN), or a function returning it. Not a user's token. */
  token: string | (() => string | undefined);
  fetch?: FetchLike;
  /** Abort a request after this many ms and report `unavailable`. Default 15 000. */
  timeoutMs?: number;
}

/**
 * The operators' endpoints, authenticated with the server's METRICS_TOKEN instead of a user's
 * token: delivery metrics, and what the local push sink recorded (PUSH_MODE=sink only; meant for
 * development and tests). Errors are {@link MessengerError}s, as for {@link MessengerApi}.
 *
 * @example
 * const ops = new OperatorApi({ baseUrl: 'http://127.0.0.1:8787', token: 'dev-only-metrics-token' });
 * const { push, connections } = await ops.metrics();
 * const { pushes } = await ops.sinkPushes({ userId: bobId });
 */
export class OperatorApi {
  readonly baseUrl: string;
  private readonly transport: Transport;

  constructor(options: OperatorApiOptions) {
    const token = options.token;
    this.transport = makeTransport(options, typeof token === 'function' ? token : () => token, 'No operator token (METRICS_TOKEN) given');
    this.baseUrl = this.transport.baseUrl;
  }

  /** GET /v1/metrics: queue backlogs, dead letters, push outcomes, connected devices, mailbox depth. */
  metrics(signal?: AbortSignal): Promise<Metrics> {
    return sendRequest(this.transport, { method: 'GET', path: PATHS.metrics, auth: true, schema: MetricsSchema, signal });
  }

  /**
   * GET /v1/push/sink: pushes the local sink recorded, oldest first (`not_found` unless the server
   * runs with PUSH_MODE=sink).
   *
   * @example
   * let after = 0;
   * const { pushes } = await ops.sinkPushes({ userId, after, limit: 50 });
   * after = pushes.at(-1)?.id ?? after;
   */
  sinkPushes(query: SinkPushQuery = {}, signal?: AbortSignal): Promise<SinkPushList> {
    const params = new URLSearchParams();
    if (query.userId !== undefined) params.set('userId', query.userId);
    if (query.after !== undefined) params.set('after', String(query.after));
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    const qs = params.toString();
    const path = PATHS.pushSink + (qs === '' ? '' : `?${qs}`);
    return sendRequest(this.transport, { method: 'GET', path, auth: true, schema: SinkPushListSchema, signal });
  }
}

