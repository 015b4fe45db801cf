/**
 * Black-box test clients: real SDK instances against the real local server, each with a log
 * of what it received so tests can assert on order, loss and duplicates.
 */
import { MessengerClient, type MessageReceived, type ReceiptFrame } from '../../client/index.ts';

export { nextPhone } from './phones.ts';

export type TestClient = MessengerClient & {
  received: MessageReceived[];
  receipts: ReceiptFrame[];
  /** Every socket the SDK opened, newest last. */
  sockets: WebSocket[];
};

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
