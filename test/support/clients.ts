/**
 * Black-box test clients: real SDK instances against the real local server, each with a log
 * of what it received so tests can assert on order, loss and duplicates.
 */
import {
  MessengerApi,
  MessengerClient,
  connectUrl,
  type GroupChange,
  type GroupHistoryItem,
  type GroupReadMarkerFrame,
  type GroupReceiptFrame,
  type GroupSentFrame,
  type GroupTally,
  type StoredBody,
  type MessageReceived,
  type ReceiptFrame,
  type SendFailed,
} from '../../client/index.ts';

export { nextPhone } from './phones.ts';

export type TestClient = MessengerClient & {
  received: MessageReceived[];
  receipts: ReceiptFrame[];
  /** Every socket the SDK opened, newest last. */
  sockets: WebSocket[];
};

/**
 * The WebSocket URL for a raw test socket of `token`'s device: with a fresh single-use connect
 * ticket (`POST /v1/connect/ticket`), as the SDK does; the token itself never goes in a URL.
 *
 * @example
 * const ws = new WebSocket(await connectUrlFor(server.baseUrl, client.currentToken!));
 */
export async function connectUrlFor(baseUrl: string, token: string, cursor?: number): Promise<string> {
  const { ticket } = await new MessengerApi({ baseUrl, token }).connectTicket();
  return connectUrl(baseUrl, ticket, cursor);
}

/** Cut the client's current socket from under it, as a network blip would. */
export function dropConnection(client: TestClient): void {
  client.sockets.at(-1)?.close(4000, 'test: simulated network loss');
}

/** A logged-in SDK client (new device) that records what it receives. Fast timings for tests. */
export async function device(baseUrl: string, phone: string, deviceName = 'e2e'): Promise<TestClient> {
  const sockets: WebSocket[] = [];
  // The SDK takes a WebSocket constructor; this one remembers its instances so tests can cut them.
  class TrackedWebSocket extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      sockets.push(this);
    }
  }
  const client = new MessengerClient({
    baseUrl,
    WebSocket: TrackedWebSocket,
    device: { deviceName, platform: 'cli' },
    backoff: { baseMs: 50, capMs: 1_000 },
    heartbeatIntervalMs: 5_000,
  }) as TestClient;
  client.sockets = sockets;
  client.received = [];
  client.receipts = [];
  client.on('message', (m) => client.received.push(m));
  client.on('receipt', (r) => client.receipts.push(r));
  await client.login(phone);
  return client;
}

/** Poll until `check` passes or time runs out (then let its assertion error surface). */
export async function eventually(check: () => void, timeoutMs = 10_000, stepMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, stepMs));
    }
  }
}

/** Texts of messages a client received from `from`, in arrival order. */
export function textsFrom(client: TestClient, from: string): string[] {
  return client.received
    .filter((m) => m.message.from === from)
    .map((m) => (m.message.body.kind === 'text' ? m.message.body.text : `<${m.message.body.kind}>`));
}

/** Assert that `check` keeps passing for the whole of `ms` (a bounded "nothing else happens"). */
export async function stays(check: () => void, ms: number, stepMs = 25): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    check();
    if (Date.now() >= deadline) return;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** A message body as short text (`<kind>` for non-text bodies). */
export function bodyText(body: StoredBody): string {
  return body.kind === 'text' ? body.text : `<${body.kind}>`;
}

/** One group log entry as a client saw it: where it sits in the group (gseq) and in the mailbox (seq). */
export type SeenGroupEntry =
  | { kind: 'message'; group: string; gseq: number; seq: number; id: string; clientId: string; from: string; text: string; own: boolean }
  | { kind: 'event'; group: string; gseq: number; seq: number; id: string; by: string; change: GroupChange };

/** What a client received of groups, in arrival order. */
export type GroupRecord = {
  /** `group_message` and `group_event` entries of every group, interleaved as they arrived. */
  entries: SeenGroupEntry[];
  receipts: GroupReceiptFrame[];
  readMarkers: GroupReadMarkerFrame[];
  sent: GroupSentFrame[];
  failed: SendFailed[];
};

/** Record a client's group events (attach before `connect()` to see everything). */
export function recordGroups(client: MessengerClient): GroupRecord {
  const record: GroupRecord = { entries: [], receipts: [], readMarkers: [], sent: [], failed: [] };
  client.on('group_message', ({ message, seq, own }) =>
    record.entries.push({
      kind: 'message',
      group: message.group,
      gseq: message.gseq,
      seq,
      id: message.id,
      clientId: message.clientId,
      from: message.from,
      text: bodyText(message.body),
      own,
    }),
  );
  client.on('group_event', ({ event, seq }) =>
    record.entries.push({ kind: 'event', group: event.group, gseq: event.gseq, seq, id: event.id, by: event.by, change: event.change }),
  );
  client.on('group_receipt', (r) => record.receipts.push(r));
  client.on('group_read_marker', (m) => record.readMarkers.push(m));
  client.on('group_sent', (s) => record.sent.push(s));
  client.on('failed', (f) => {
    if (f.group !== undefined) record.failed.push(f);
  });
  return record;
}

/** The entries of one group a client received, in arrival order. */
export function entriesOf(record: GroupRecord, group: string): SeenGroupEntry[] {
  return record.entries.filter((e) => e.group === group);
}

/** The newest tally per message id from a sender's `group_receipt` frames (they are running totals). */
export function latestTallies(record: GroupRecord, group: string): Map<string, GroupTally> {
  const latest = new Map<string, GroupTally>();
  for (const r of record.receipts) if (r.group === group) for (const t of r.tallies) latest.set(t.messageId, t);
  return latest;
}

/** A client's whole mailbox copy of a group through `groupHistory`, oldest first (pages through it). */
export async function fullGroupHistory(client: MessengerClient, group: string, limit = 200): Promise<GroupHistoryItem[]> {
  const items: GroupHistoryItem[] = [];
  let before: number | undefined;
  for (let page = 0; page < 1_000; page++) {
    const result = await client.groupHistory(group, before === undefined ? { limit } : { before, limit });
    items.push(...result.entries);
    if (result.nextBefore === null) return items.reverse();
    before = result.nextBefore;
  }
  throw new Error('group history did not end after 1,000 pages');
}
