/**
 * The CLI's configuration folder: `config.json` (server, session, and a login waiting for its
 * code or its PIN, mode 0600) and per-device state (the `listen` cursor and the outbox of unsent
 * messages).
 *
 *   $MESSENGER_CONFIG_DIR, else $XDG_CONFIG_HOME/edge-messenger, else ~/.config/edge-messenger
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { DeviceIdSchema, OtpChallengeSchema, PinChallengeSchema, RefreshTokenSchema, UserIdSchema } from '../protocol/index.ts';
import { CliError, EXIT, usageError } from './errors.ts';

export const DEFAULT_SERVER = 'http://127.0.0.1:8787';

const SessionSchema = z.object({
  server: z.string(),
  token: z.string().min(1),
  /**
   * Renews `token` (single use: every renewal writes the next one here). Absent in sessions
   * saved before tokens were renewed: they end when their token expires.
   */
  refreshToken: RefreshTokenSchema.optional(),
  userId: UserIdSchema,
  deviceId: DeviceIdSchema,
  /** E.164. */
  phone: z.string(),
  /** Token expiry, ms since the epoch (the token is renewed before then). */
  expiresAt: z.number().int(),
});

/**
 * A code was requested and the user will type it in a later `login <phone> --code` run: the
 * verify call needs the challenge of that request, so it is kept here until then.
 */
const PendingLoginSchema = z.object({
  server: z.string(),
  /** The number as the server answered it (E.164). */
  phone: z.string(),
  /** The number as it was typed (another notation of the same number is accepted too). */
  typed: z.string(),
  challenge: OtpChallengeSchema,
  /** When the code stops working, ms since the epoch. */
  expiresAt: z.number().int(),
});

/**
 * The code was right but the account has a two-step PIN: a later `login <phone> --pin` run (or
 * `pin reset`) needs the challenge the verify call answered.
 */
const PendingPinSchema = z.object({
  server: z.string(),
  phone: z.string(),
  typed: z.string(),
  pinChallenge: PinChallengeSchema,
  /** When the challenge stops working, ms since the epoch. */
  expiresAt: z.number().int(),
  /** Wrong PINs left before waits start, as the verify call said. */
  attemptsLeft: z.number().int(),
  /** When a requested PIN reset takes effect (null: none requested). */
  resetAt: z.number().int().nullable(),
});

const ConfigSchema = z.object({
  /** The server of the last login (the default for every command). */
  server: z.string().optional(),
  session: SessionSchema.optional(),
  pendingLogin: PendingLoginSchema.optional(),
  pendingPin: PendingPinSchema.optional(),
});

/** A logged-in device. */
export type Session = z.infer<typeof SessionSchema>;
export type PendingLogin = z.infer<typeof PendingLoginSchema>;
export type PendingPin = z.infer<typeof PendingPinSchema>;
export type Config = z.infer<typeof ConfigSchema>;

/** The folder holding the config, from the environment. */
export function configDirFrom(env: NodeJS.ProcessEnv): string {
  if (env.MESSENGER_CONFIG_DIR) return env.MESSENGER_CONFIG_DIR;
  const base = env.XDG_CONFIG_HOME ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(base, 'edge-messenger');
}

/**
 * A server URL as given by the user, checked and without trailing slashes.
 *
 * @example
 * normalizeServer('localhost:8787/') // 'http://localhost:8787'
 */
export function normalizeServer(raw: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw usageError(`--server must be a URL such as http://127.0.0.1:8787, not ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw usageError(`--server must be an http:// or https:// URL, not ${JSON.stringify(raw)}`);
  }
  return url.toString().replace(/\/+$/, '');
}

/** Reads and writes config.json and the per-device state folders. */
export class ConfigStore {
  readonly dir: string;
  readonly file: string;

  constructor(dir: string) {
    this.dir = dir;
    this.file = join(dir, 'config.json');
  }

  load(): Config {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new CliError('config_unreadable', `Cannot read ${this.file}: ${(error as Error).message}`, EXIT.failure);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new CliError('config_invalid', `${this.file} is not valid JSON; fix it or delete it and log in again`, EXIT.failure);
    }
    const parsed = ConfigSchema.safeParse(json);
    if (!parsed.success) {
      throw new CliError('config_invalid', `${this.file} has an unexpected shape; delete it and log in again`, EXIT.failure);
    }
    return parsed.data;
  }

  /** Write atomically (temp file, then rename), readable by the user only. */
  save(config: Config): void {
    this.ensureDir(this.dir);
    const temp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(temp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
    chmodSync(temp, 0o600);
    renameSync(temp, this.file);
  }

  /** Where a device keeps its cursor and outbox (created on demand, mode 0700). */
  deviceDir(deviceId: string): string {
    const dir = join(this.dir, 'devices', deviceId);
    this.ensureDir(dir);
    return dir;
  }

  /** Forget a device's cursor and outbox (after logout or a new login). */
  removeDeviceState(deviceId: string): void {
    rmSync(join(this.dir, 'devices', deviceId), { recursive: true, force: true });
  }

  private ensureDir(dir: string): void {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }
}
