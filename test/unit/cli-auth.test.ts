/**
 * The CLI's shared login (cli/auth.ts): renewing the token once for every command of a config
 * folder, adopting what another command renewed, and forgetting a login that ended.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { StoredSession } from '../../client/index.ts';
import { forgetEndedSession, refreshShared } from '../../cli/auth.ts';
import { ConfigStore } from '../../cli/config.ts';
import type { Session } from '../../cli/config.ts';
import type { CommandContext } from '../../cli/context.ts';
import { ME, MY_DEVICE, MY_OTHER_DEVICE, json } from './fake-socket.ts';

const SERVER = 'http://chat.test';
const MINUTE = 60_000;

function saved(n: number, expiresAt: number, deviceId = MY_DEVICE): Session {
  return { server: SERVER, token: `token-${n}`, refreshToken: `refresh-token-${n}`.padEnd(20, '0'), userId: ME, deviceId, phone: '+15550000001', expiresAt };
}

function stored(session: Session): StoredSession {
  return { token: session.token, refreshToken: session.refreshToken!, expiresAt: session.expiresAt, userId: session.userId, deviceId: session.deviceId };
}

describe('the CLI shared login', () => {
  let dir: string;
  let config: ConfigStore;
  let ctx: CommandContext;
  const refreshBodies: unknown[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cli-auth-'));
    config = new ConfigStore(dir);
    ctx = { config } as unknown as CommandContext;
    refreshBodies.length = 0;
    vi.stubGlobal('fetch', async (url: string, init?: RequestInit) => {
      expect(url).toBe(`${SERVER}/v1/auth/refresh`);
      refreshBodies.push(JSON.parse(String(init?.body)));
      // Answer a little later, so that concurrent callers really overlap.
      await new Promise((resolve) => setTimeout(resolve, 20));
      const next = saved(refreshBodies.length + 1, Date.now() + 15 * MINUTE);
      return json({ ...stored(next), newUser: false, history: true });
    });
  });

  afterEach(() => {
    vi.unstubAllGlobals();
    rmSync(dir, { recursive: true, force: true });
  });

  it('concurrent renewals of one login ask the server once; every caller gets the renewed session, which is saved', async () => {
    const first = saved(1, Date.now() - 1);
    config.save({ server: SERVER, session: first });
    const results = await Promise.all([refreshShared(ctx, stored(first)), refreshShared(ctx, stored(first)), refreshShared(ctx, stored(first))]);
    expect(refreshBodies).toEqual([{ refreshToken: first.refreshToken }]);
    for (const result of results) expect(result.token).toBe('token-2');
    expect(config.load().session).toMatchObject({ token: 'token-2', refreshToken: saved(2, 0).refreshToken, phone: '+15550000001', server: SERVER });
  });

  it('adopts a session another command renewed meanwhile instead of presenting the spent refresh token', async () => {
    const old = saved(1, Date.now() - 1);
    const renewedElsewhere = saved(7, Date.now() + 10 * MINUTE);
    config.save({ server: SERVER, session: renewedElsewhere });
    await expect(refreshShared(ctx, stored(old))).resolves.toEqual(stored(renewedElsewhere));
    expect(refreshBodies).toEqual([]);
  });

  it('refuses to renew a login that another command ended or replaced, and asks nothing of the server', async () => {
    const mine = saved(1, Date.now() - 1);
    config.save({ server: SERVER });
    await expect(refreshShared(ctx, stored(mine))).rejects.toMatchObject({ code: 'refresh_invalid' });
    config.save({ server: SERVER, session: saved(3, Date.now() + MINUTE, MY_OTHER_DEVICE) });
    await expect(refreshShared(ctx, stored(mine))).rejects.toMatchObject({ code: 'refresh_invalid' });
    expect(refreshBodies).toEqual([]);
    expect(config.load().session?.deviceId).toBe(MY_OTHER_DEVICE);
  });

  it('takes over a lock left by a process that died while renewing', async () => {
    const first = saved(1, Date.now() - 1);
    config.save({ server: SERVER, session: first });
    writeFileSync(join(dir, 'refresh.lock'), '2147483646'); // no such process
    await expect(refreshShared(ctx, stored(first))).resolves.toMatchObject({ token: 'token-2' });
  });

  it('forgets an ended login only if it is still the one in config.json', () => {
    config.save({ server: SERVER, session: saved(1, Date.now(), MY_OTHER_DEVICE) });
    forgetEndedSession(ctx, MY_DEVICE);
    expect(config.load().session?.deviceId).toBe(MY_OTHER_DEVICE);
    forgetEndedSession(ctx, MY_OTHER_DEVICE);
    expect(config.load()).toEqual({ server: SERVER });
  });
});
