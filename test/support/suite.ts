/**
 * The frame of a black-box test file: one real local server for the file (started before its
 * tests, with the generous timeout a busy machine needs), and every SDK client the tests open,
 * closed before the server stops.
 */
import { afterAll, beforeAll } from 'vitest';
import type { MessengerClient } from '../../client/index.ts';
import { device, type TestClient } from './clients.ts';
import { SERVER_HOOK_MS, startServer, type LocalServer, type StartOptions } from './server.ts';

export type ServerSuite = {
  /** The file's server (after beforeAll). */
  server: () => LocalServer;
  /** Close `client` when the file ends. */
  track: <C extends MessengerClient>(client: C) => C;
  /** A logged-in device of `phone`, connected, closed when the file ends. */
  online: (phone: string, name?: string) => Promise<TestClient>;
};

/**
 * @example
 * const suite = serverSuite();
 * it('…', async () => { const alice = await suite.online(nextPhone()); … });
 */
export function serverSuite(options: StartOptions = {}): ServerSuite {
  let server: LocalServer | undefined;
  const open: MessengerClient[] = [];

  beforeAll(async () => {
    server = await startServer(undefined, options);
  }, SERVER_HOOK_MS);

  afterAll(async () => {
    for (const c of open) c.close();
    await server?.dispose();
  });

  const current = (): LocalServer => {
    if (server === undefined) throw new Error('the server has not started');
    return server;
  };
  const track = <C extends MessengerClient>(client: C): C => {
    open.push(client);
    return client;
  };
  return {
    server: current,
    track,
    online: async (phone, name = 'e2e') => {
      const client = track(await device(current().baseUrl, phone, name));
      await client.connect();
      return client;
    },
  };
}
