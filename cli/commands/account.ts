/**
 * Account commands: login, logout, whoami, profile.
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { MessengerApi, MessengerError } from '../../client/index.ts';
import type { Profile, SessionResponse } from '../../client/index.ts';
import { OTP_LENGTH } from '../../protocol/index.ts';
import type { PendingLogin, Session } from '../config.ts';
import type { CommandContext, CommandSpec } from '../context.ts';
import { CliError, EXIT, usageError } from '../errors.ts';
import { formatTime, formatWait, plural } from '../format.ts';
import { checkPhone } from '../resolve.ts';
import { apiFor, sessionApi } from '../session.ts';
import { DirectoryOutboxStore } from '../stores.ts';

const CODE_PATTERN = new RegExp(`^[0-9]{${OTP_LENGTH}}$`);

/** `messenger login <phone> --code <code>`, with --server when it was given (the pending login is per server). */
function codeCommand(ctx: CommandContext, phone: string): string {
  const server = ctx.args.string('server') === undefined ? '' : ` --server ${ctx.server}`;
  return `messenger login ${phone} --code <code>${server}`;
}

/** Ask for the code on the terminal; without one, explain how to pass it in a later run. */
async function promptForCode(ctx: CommandContext, phone: string, expiresAt: number): Promise<string> {
  if (ctx.stdin.isTTY !== true) {
    throw new CliError(
      'code_required',
      `A code was sent to ${phone}; within ${formatWait(expiresAt - Date.now())} run \`${codeCommand(ctx, phone)}\``,
      EXIT.auth,
    );
  }
  const prompt = createInterface({ input: ctx.stdin, output: process.stderr, terminal: true });
  try {
    const answer = await prompt.question(`Code sent to ${phone}: `, { signal: ctx.signal });
    return answer.trim();
  } finally {
    prompt.close();
  }
}

function checkCode(code: string): void {
  if (!CODE_PATTERN.test(code)) throw usageError(`The code has ${OTP_LENGTH} digits, not ${JSON.stringify(code)}`);
}

function digitsOf(phone: string): string {
  return phone.replace(/[^0-9]/g, '');
}

/**
 * The code request a `login <phone> --code` run completes: requested for this number (in any
 * notation) on this server by an earlier `login <phone>`, and not expired.
 */
function pendingLoginFor(ctx: CommandContext, typed: string): PendingLogin {
  const pending = ctx.settings.pendingLogin;
  const digits = digitsOf(typed);
  if (pending === undefined || pending.server !== ctx.server || (digitsOf(pending.phone) !== digits && digitsOf(pending.typed) !== digits)) {
    throw new CliError('no_code_requested', `No code was requested for ${typed} on ${ctx.server} from this computer: run \`messenger login ${typed}\` first`, EXIT.auth);
  }
  if (pending.expiresAt <= Date.now()) {
    forgetPendingLogin(ctx);
    throw new CliError('otp_expired', `The code for ${pending.phone} has expired: run \`messenger login ${typed}\` for a new one`, EXIT.auth);
  }
  return pending;
}

/** Keep a code request for a later `login --code` run (the session, if any, stays as it is). */
function rememberPendingLogin(ctx: CommandContext, pending: PendingLogin): void {
  const { pendingLogin: _previous, ...rest } = ctx.settings;
  ctx.config.save({ ...rest, pendingLogin: pending });
}

function forgetPendingLogin(ctx: CommandContext): void {
  const { pendingLogin: _previous, ...rest } = ctx.config.load();
  ctx.config.save(rest);
}

/** Revoke the previous login of this config folder (best effort) and drop its local state. */
async function retirePreviousSession(ctx: CommandContext, previous: Session): Promise<void> {
  const unsent = new DirectoryOutboxStore(join(ctx.config.deviceDir(previous.deviceId), 'outbox')).load().length;
  if (unsent > 0) ctx.out.warn(`${plural(unsent, 'unsent message')} of the previous login (${previous.phone}) discarded`);
  try {
    await new MessengerApi({ baseUrl: previous.server, token: previous.token, timeoutMs: 5_000 }).logout();
  } catch {
    // Already expired or revoked, or another server: nothing more to do.
  }
  ctx.config.removeDeviceState(previous.deviceId);
}

/** Exchange the code; a code that can no longer work also ends the pending login. */
async function verify(ctx: CommandContext, phone: string, code: string, challenge: string): Promise<SessionResponse> {
  const deviceName = ctx.args.string('device') ?? `cli on ${hostname()}`.slice(0, 64);
  try {
    return await apiFor(ctx).verifyOtp({ phone, code, challenge, deviceName, platform: 'cli' });
  } catch (error) {
    if (error instanceof MessengerError && (error.code === 'otp_expired' || error.code === 'otp_attempts_exceeded')) forgetPendingLogin(ctx);
    throw error;
  }
}

export const login: CommandSpec = {
  name: 'login',
  args: '<phone>',
  summary: 'log in with your phone number (a development server fills in the code)',
  details: [
    'Requests a one-time code for <phone> and logs this computer in as a new device.',
    'A development server (SMS provider "dev") returns the code, and the CLI uses it.',
    'Otherwise it asks for the code, or (without a terminal) remembers the request so that a',
    'second run, `login <phone> --code <code>`, completes it.',
  ],
  options: {
    code: { type: 'string', valueName: 'CODE', description: 'the code you received for the last `login <phone>` (requests none)' },
    device: { type: 'string', valueName: 'NAME', description: 'device name shown in your device list (default "cli on <hostname>")' },
    name: { type: 'string', valueName: 'NAME', description: 'also set your display name' },
  },
  minArgs: 1,
  maxArgs: 1,
  examples: [
    'messenger login +4915112345678',
    'messenger login +4915112345678 --server https://chat.example.com',
    'messenger login +4915112345678 --code 123456     # completes the previous `login +4915112345678`',
  ],
  json: '{"userId","deviceId","phone","server","newUser","usedDevCode"}',
  async run(ctx) {
    const typed = checkPhone(ctx.args.positionals[0]!);
    let code = ctx.args.string('code');
    if (code !== undefined) checkCode(code);
    let usedDevCode = false;
    let phone: string;
    let challenge: string;
    if (code === undefined) {
      ctx.out.progress(`Requesting a code for ${typed}…`);
      const otp = await apiFor(ctx).requestOtp(typed);
      phone = otp.phone;
      challenge = otp.challenge;
      if (otp.devCode !== undefined) {
        code = otp.devCode;
        usedDevCode = true;
        ctx.out.note(`Development server: using the code it returned (${code})`);
      } else {
        // Saved first: without a terminal (or after Ctrl-C) a later `--code` run completes it.
        rememberPendingLogin(ctx, { server: ctx.server, phone, typed, challenge, expiresAt: otp.expiresAt });
        code = await promptForCode(ctx, phone, otp.expiresAt);
      }
    } else {
      ({ phone, challenge } = pendingLoginFor(ctx, typed));
    }
    checkCode(code);
    const response = await verify(ctx, phone, code, challenge);
    const me = await apiFor(ctx, response.token).me();
    const previous = ctx.settings.session;
    if (previous !== undefined && previous.deviceId !== response.deviceId) await retirePreviousSession(ctx, previous);
    const session: Session = {
      server: ctx.server,
      token: response.token,
      userId: response.userId,
      deviceId: response.deviceId,
      phone: me.phone ?? phone,
      expiresAt: response.expiresAt,
    };
    ctx.config.save({ server: ctx.server, session });
    const name = ctx.args.string('name');
    const profile = name === undefined ? me : await apiFor(ctx, response.token).updateMe({ displayName: name });
    const result = { userId: session.userId, deviceId: session.deviceId, phone: session.phone, server: ctx.server, newUser: response.newUser, usedDevCode };
    ctx.out.result(result, () => [
      `Logged in as ${profile.displayName || session.phone}${profile.displayName ? ` (${session.phone})` : ''}${response.newUser ? ' — new account' : ''}`,
      ctx.out.style.dim(`user ${session.userId} · device ${session.deviceId} · ${ctx.server}`),
    ]);
  },
};

export const logout: CommandSpec = {
  name: 'logout',
  args: '',
  summary: 'log this computer out (revokes this device on the server)',
  minArgs: 0,
  maxArgs: 0,
  examples: ['messenger logout'],
  json: '{"loggedOut": true, "userId", "revoked": boolean}',
  async run(ctx) {
    const session = ctx.settings.session;
    if (session === undefined) {
      ctx.out.result({ loggedOut: false, userId: null, revoked: false }, () => 'You were not logged in');
      return;
    }
    let revoked = true;
    try {
      await new MessengerApi({ baseUrl: session.server, token: session.token, timeoutMs: 5_000 }).logout();
    } catch (error) {
      const deadToken = error instanceof MessengerError && ['token_invalid', 'token_expired', 'device_revoked', 'unauthorized'].includes(error.code);
      if (!deadToken) {
        revoked = false;
        ctx.out.warn(`Could not reach ${session.server} to revoke this device; it stays in your device list until its token expires`);
      }
    }
    const unsent = new DirectoryOutboxStore(join(ctx.config.deviceDir(session.deviceId), 'outbox')).load().length;
    if (unsent > 0) ctx.out.warn(`${plural(unsent, 'unsent message')} discarded`);
    ctx.config.removeDeviceState(session.deviceId);
    ctx.config.save({ server: session.server });
    ctx.out.result({ loggedOut: true, userId: session.userId, revoked }, () => `Logged out ${session.phone}`);
  },
};

function profileLines(ctx: CommandContext, profile: Profile, session: Session): string[] {
  const { style } = ctx.out;
  const title = profile.displayName ? `${style.bold(profile.displayName)} (${profile.phone ?? session.phone})` : style.bold(profile.phone ?? session.phone);
  const lines = [title];
  if (profile.about) lines.push(profile.about);
  lines.push(style.dim(`user ${profile.userId} · device ${session.deviceId}`));
  lines.push(style.dim(`${ctx.server} · session valid until ${formatTime(session.expiresAt)}`));
  return lines;
}

function profileJson(ctx: CommandContext, profile: Profile, session: Session): Record<string, unknown> {
  return {
    userId: profile.userId,
    deviceId: session.deviceId,
    phone: profile.phone ?? session.phone,
    displayName: profile.displayName,
    about: profile.about,
    server: ctx.server,
    expiresAt: session.expiresAt,
  };
}

export const whoami: CommandSpec = {
  name: 'whoami',
  args: '',
  summary: 'show who you are logged in as',
  minArgs: 0,
  maxArgs: 0,
  examples: ['messenger whoami', 'messenger whoami --json'],
  json: '{"userId","deviceId","phone","displayName","about","server","expiresAt"}',
  async run(ctx) {
    const { api, session } = sessionApi(ctx);
    const profile = await api.me();
    ctx.out.result(profileJson(ctx, profile, session), () => profileLines(ctx, profile, session));
  },
};

export const profile: CommandSpec = {
  name: 'profile',
  args: '',
  summary: 'show or change your display name and about text',
  options: {
    name: { type: 'string', valueName: 'NAME', description: 'new display name' },
    about: { type: 'string', valueName: 'TEXT', description: 'new about text' },
  },
  minArgs: 0,
  maxArgs: 0,
  examples: ['messenger profile', 'messenger profile --name "Ann Lee" --about "climbing"'],
  json: 'as whoami',
  async run(ctx) {
    const { api, session } = sessionApi(ctx);
    const displayName = ctx.args.string('name');
    const about = ctx.args.string('about');
    const profile =
      displayName === undefined && about === undefined
        ? await api.me()
        : await api.updateMe({ ...(displayName === undefined ? {} : { displayName }), ...(about === undefined ? {} : { about }) });
    ctx.out.result(profileJson(ctx, profile, session), () => profileLines(ctx, profile, session));
  },
};
