/**
 * The login shared by every CLI process of one config folder: config.json's session, renewed
 * (access token + single-use refresh token) under a lock, so that concurrent commands never
 * present the same refresh token twice (the server would take that for a stolen token and log
 * the device out).
 *
 * A command that needs a new token takes `refresh.lock` in the config folder, reads config.json
 * again, and uses a session another command renewed meanwhile if there is one; only otherwise it
 * asks the server, and saves the answer before letting go of the lock.
 */
import { closeSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { MessengerApi, MessengerError, REFRESH_MARGIN_MS, SessionKeeper, toStoredSession } from '../client/index.ts';
import type { StoredSession } from '../client/index.ts';
import type { ConfigStore, Session } from './config.ts';
import { isAlive } from './stores.ts';
import type { CommandContext } from './context.ts';

/** How long an HTTP request may take. */
export const REQUEST_TIMEOUT_MS = 15_000;
/** A lock older than this is left over by a process that died while renewing. */
const LOCK_STALE_MS = REQUEST_TIMEOUT_MS * 2;
/** Give up waiting for another process's renewal after this long. */
const LOCK_WAIT_MS = REQUEST_TIMEOUT_MS * 2;

/** The SDK's view of a config session; null for one saved without a refresh token. */
export function storedOf(session: Session): StoredSession | null {
  if (session.refreshToken === undefined) return null;
  const { token, refreshToken, expiresAt, userId, deviceId } = session;
  return { token, refreshToken, expiresAt, userId, deviceId };
}

/** Renewals of this process, one after the other (the lock file only keeps other processes out). */
let localTurn: Promise<unknown> = Promise.resolve();

/** Run `work` holding `refresh.lock` of the config folder (and this process's turn). */
export function withRefreshLock<T>(config: ConfigStore, work: () => Promise<T>): Promise<T> {
  const run = localTurn.then(() => holdingFileLock(config, work));
  localTurn = run.catch(() => undefined);
  return run;
}

async function holdingFileLock<T>(config: ConfigStore, work: () => Promise<T>): Promise<T> {
  mkdirSync(config.dir, { recursive: true, mode: 0o700 });
  const file = join(config.dir, 'refresh.lock');
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    let fd: number | undefined;
    try {
      fd = openSync(file, 'wx', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (fd !== undefined) {
      try {
        writeSync(fd, String(process.pid));
      } finally {
        closeSync(fd);
      }
      try {
        return await work();
      } finally {
        try {
          unlinkSync(file);
        } catch {
          // Already gone (taken over as stale): nothing to release.
        }
      }
    }
    if (lockIsStale(file)) {
      try {
        unlinkSync(file);
      } catch {
        // Another process removed it first.
      }
      continue;
    }
    if (Date.now() > deadline) {
      throw new MessengerError('unavailable', `Another messenger command has been renewing this login for too long (${file}); try again`, { status: 0 });
    }
    await new Promise((resolve) => setTimeout(resolve, 25 + Math.random() * 25));
  }
}

function lockIsStale(file: string): boolean {
  try {
    const pid = Number(readFileSync(file, 'utf8'));
    if (Number.isSafeInteger(pid) && pid > 0 && !isAlive(pid)) return true;
    return Date.now() - statSync(file).mtimeMs > LOCK_STALE_MS;
  } catch {
    return false; // gone meanwhile: the next open decides
  }
}

/**
 * Renew `current` for every process of this config folder: adopt what another command renewed
 * meanwhile, else ask the server and save the answer (all under the lock).
 */
export function refreshShared(ctx: CommandContext, current: StoredSession): Promise<StoredSession> {
  return withRefreshLock(ctx.config, async () => {
    const saved = ctx.config.load().session;
    if (saved === undefined || saved.deviceId !== current.deviceId || saved.refreshToken === undefined) {
      // Logged out, or logged in again as another device, by another command.
      throw new MessengerError('refresh_invalid', 'This login was ended by another messenger command');
    }
    const latest = storedOf(saved)!;
    if (latest.refreshToken !== current.refreshToken && latest.expiresAt - Date.now() > REFRESH_MARGIN_MS) return latest;
    const api = new MessengerApi({ baseUrl: saved.server, timeoutMs: REQUEST_TIMEOUT_MS });
    const renewed = toStoredSession(await api.refresh(latest.refreshToken));
    const config = ctx.config.load();
    ctx.config.save({ ...config, session: { ...saved, ...renewed } });
    return renewed;
  });
}

/**
 * The session ended for good (refresh refused, device logged out): forget it, unless another
 * command already logged in again as another device.
 */
export function forgetEndedSession(ctx: CommandContext, deviceId: string): void {
  const config = ctx.config.load();
  if (config.session?.deviceId !== deviceId) return;
  const { session: _ended, ...rest } = config;
  ctx.config.save(rest);
  ctx.config.removeDeviceState(deviceId);
}

/** The session keeper of `session`, renewing through {@link refreshShared}. */
export function keeperFor(ctx: CommandContext, session: Session): SessionKeeper {
  const stored = storedOf(session);
  return new SessionKeeper({
    ...(stored === null ? { token: session.token } : { session: stored }),
    refresh: (current) => refreshShared(ctx, current),
    onEnded: () => forgetEndedSession(ctx, session.deviceId),
  });
}

const keepers = new WeakMap<CommandContext, SessionKeeper>();

/** One keeper per command (its API calls share it). */
export function commandKeeper(ctx: CommandContext, session: Session): SessionKeeper {
  let keeper = keepers.get(ctx);
  if (keeper === undefined) {
    keeper = keeperFor(ctx, session);
    keepers.set(ctx, keeper);
  }
  return keeper;
}
