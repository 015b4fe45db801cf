/**
 * `login`: the code (from a development server, typed on the terminal, or passed with --code in
 * a second run) and, for an account with a two-step PIN, the PIN (typed, or --pin, also in a
 * later run). A step that waits for the user is kept in config.json until the next run.
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { MessengerApi, MessengerError, isPinRequired } from '../../client/index.ts';
import type { SessionResponse, VerifyResponse } from '../../client/index.ts';
import { OTP_LENGTH, PIN_LENGTH } from '../../protocol/index.ts';
import { REQUEST_TIMEOUT_MS, keeperFor } from '../auth.ts';
import type { PendingLogin, PendingPin, Session } from '../config.ts';
import type { CommandContext, CommandSpec } from '../context.ts';
import { CliError, EXIT, usageError } from '../errors.ts';
import { formatTime, formatWait, plural } from '../format.ts';
import { ask, askSecret, canPrompt } from '../prompt.ts';
import { checkPhone } from '../resolve.ts';
import { apiFor } from '../session.ts';
import { DirectoryOutboxStore } from '../stores.ts';

const CODE_PATTERN = new RegExp(`^[0-9]{${OTP_LENGTH}}$`);
const PIN_PATTERN = new RegExp(`^[0-9]{${PIN_LENGTH}}$`);
/** Wrong PINs typed on a terminal before the command gives up (the server counts them too). */
const PIN_PROMPTS = 3;

/** ` --server <url>` when it was given (pending steps are per server), else ''. */
function serverOption(ctx: CommandContext): string {
  return ctx.args.string('server') === undefined ? '' : ` --server ${ctx.server}`;
}

function checkCode(code: string): void {
  if (!CODE_PATTERN.test(code)) throw usageError(`The code has ${OTP_LENGTH} digits, not ${JSON.stringify(code)}`);
}

/** A PIN has PIN_LENGTH digits (checked before anything is sent). */
export function checkPin(pin: string, what = 'The PIN'): string {
  if (!PIN_PATTERN.test(pin)) throw usageError(`${what} has ${PIN_LENGTH} digits`);
  return pin;
}

function digitsOf(phone: string): string {
  return phone.replace(/[^0-9]/g, '');
}

/** Whether `pending` was made for `typed` (any notation) on this server. */
function isFor(ctx: CommandContext, pending: { server: string; phone: string; typed: string }, typed: string): boolean {
  const digits = digitsOf(typed);
  return pending.server === ctx.server && (digitsOf(pending.phone) === digits || digitsOf(pending.typed) === digits);
}

/** Ask for the code on the terminal; without one, explain how to pass it in a later run. */
async function promptForCode(ctx: CommandContext, phone: string, expiresAt: number): Promise<string> {
  if (!canPrompt(ctx)) {
    throw new CliError(
      'code_required',
      `A code was sent to ${phone}; within ${formatWait(expiresAt - Date.now())} run \`messenger login ${phone} --code <code>${serverOption(ctx)}\``,
      EXIT.auth,
    );
  }
  return ask(ctx, `Code sent to ${phone}: `);
}

/**
 * The code request a `login <phone> --code` run completes: requested for this number (in any
 * notation) on this server by an earlier `login <phone>`, and not expired.
 */
function pendingLoginFor(ctx: CommandContext, typed: string): PendingLogin {
  const pending = ctx.settings.pendingLogin;
  if (pending === undefined || !isFor(ctx, pending, typed)) {
    throw new CliError('no_code_requested', `No code was requested for ${typed} on ${ctx.server} from this computer: run \`messenger login ${typed}\` first`, EXIT.auth);
  }
  if (pending.expiresAt <= Date.now()) {
    forgetPending(ctx);
    throw new CliError('otp_expired', `The code for ${pending.phone} has expired: run \`messenger login ${typed}\` for a new one`, EXIT.auth);
  }
  return pending;
}

/** Keep a code request for a later `login --code` run (the session, if any, stays as it is). */
function rememberPendingLogin(ctx: CommandContext, pending: PendingLogin): void {
  const { pendingLogin: _login, pendingPin: _pin, ...rest } = ctx.config.load();
  ctx.config.save({ ...rest, pendingLogin: pending });
}

/** The code was used and the PIN is asked for: keep its challenge for `login --pin` or `pin reset`. */
function rememberPendingPin(ctx: CommandContext, pending: PendingPin): void {
  const { pendingLogin: _login, pendingPin: _pin, ...rest } = ctx.config.load();
  ctx.config.save({ ...rest, pendingPin: pending });
}

/** Forget the login waiting for its code or PIN. */
export function forgetPending(ctx: CommandContext): void {
  const { pendingLogin: _login, pendingPin: _pin, ...rest } = ctx.config.load();
  ctx.config.save(rest);
}

/** The login of this computer waiting for its PIN (for `typed` when given), if it has not expired. */
export function pendingPinOf(ctx: CommandContext, typed?: string): PendingPin | undefined {
  const pending = ctx.settings.pendingPin;
  if (pending === undefined || pending.server !== ctx.server || pending.expiresAt <= Date.now()) return undefined;
  if (typed !== undefined && !isFor(ctx, pending, typed)) return undefined;
  return pending;
}

/** Revoke the previous login of this config folder (best effort) and drop its local state. */
async function retirePreviousSession(ctx: CommandContext, previous: Session): Promise<void> {
  const unsent = new DirectoryOutboxStore(join(ctx.config.deviceDir(previous.deviceId), 'outbox')).load().length;
  if (unsent > 0) ctx.out.warn(`${plural(unsent, 'unsent message')} of the previous login (${previous.phone}) discarded`);
  try {
    await new MessengerApi({ baseUrl: previous.server, tokens: keeperFor(ctx, previous), timeoutMs: 5_000 }).logout();
  } catch {
    // Already expired or revoked, or another server: nothing more to do.
  }
  ctx.config.removeDeviceState(previous.deviceId);
}

/** Exchange the code; a code that can no longer work also ends the pending login. */
async function verify(ctx: CommandContext, phone: string, code: string, challenge: string): Promise<VerifyResponse> {
  const deviceName = ctx.args.string('device') ?? `cli on ${hostname()}`.slice(0, 64);
  try {
    return await apiFor(ctx).verifyOtp({ phone, code, challenge, deviceName, platform: 'cli' });
  } catch (error) {
    if (error instanceof MessengerError && (error.code === 'otp_expired' || error.code === 'otp_attempts_exceeded')) forgetPending(ctx);
    throw error;
  }
}

/** "(5 wrong PINs left before waits)" / "(a PIN reset takes effect on …)". */
function pinHint(pending: PendingPin): string {
  if (pending.resetAt !== null) return ` (a PIN reset was requested; it takes effect ${formatTime(pending.resetAt)})`;
  const left = pending.attemptsLeft;
  return left > 0 ? ` (${left} ${left === 1 ? 'try' : 'tries'} before waits start)` : ' (each wrong PIN now locks it for a while)';
}

/** The PIN: --pin, else typed on the terminal, else how to pass it in a later run. */
async function pinFor(ctx: CommandContext, pending: PendingPin, attempt: number): Promise<string> {
  const given = ctx.args.string('pin');
  if (given !== undefined && attempt === 0) return given;
  if (!canPrompt(ctx) || given !== undefined) {
    throw new CliError(
      'pin_required',
      `This account has a two-step verification PIN${pinHint(pending)}; within ${formatWait(pending.expiresAt - Date.now())} run \`messenger login ${pending.phone} --pin <PIN>${serverOption(ctx)}\`, or \`messenger pin reset\` if you forgot it`,
      EXIT.auth,
    );
  }
  const pin = await askSecret(ctx, attempt === 0 ? `Two-step verification PIN${pinHint(pending)}: ` : 'Wrong PIN; try again: ');
  return checkPin(pin);
}

/** Enter the PIN for `pending` (asking again on a terminal after a wrong one). */
async function enterPin(ctx: CommandContext, pending: PendingPin): Promise<SessionResponse> {
  for (let attempt = 0; ; attempt++) {
    const pin = await pinFor(ctx, pending, attempt);
    try {
      const session = await apiFor(ctx).pinLogin({ pinChallenge: pending.pinChallenge, pin });
      return session;
    } catch (error) {
      if (!(error instanceof MessengerError)) throw error;
      if (error.code === 'pin_challenge_invalid') forgetPending(ctx);
      const again = error.code === 'pin_invalid' && canPrompt(ctx) && ctx.args.string('pin') === undefined && attempt + 1 < PIN_PROMPTS;
      if (!again) throw error;
    }
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
    'An account with a two-step verification PIN asks for it next (or takes --pin, also in a',
    'later run); only a login that entered the PIN sees the messages from before it.',
    'The login stays until `logout`: its token is renewed automatically.',
  ],
  options: {
    code: { type: 'string', valueName: 'CODE', description: 'the code you received for the last `login <phone>` (requests none)' },
    pin: { type: 'string', valueName: 'PIN', description: 'the two-step verification PIN, if the account has one' },
    device: { type: 'string', valueName: 'NAME', description: 'device name shown in your device list (default "cli on <hostname>")' },
    name: { type: 'string', valueName: 'NAME', description: 'also set your display name' },
  },
  minArgs: 1,
  maxArgs: 1,
  examples: [
    'messenger login +4915112345678',
    'messenger login +4915112345678 --server https://chat.example.com',
    'messenger login +4915112345678 --code 123456     # completes the previous `login +4915112345678`',
    'messenger login +4915112345678 --pin 246810      # the PIN, when the previous run asked for it',
  ],
  json: '{"userId","deviceId","phone","server","newUser","usedDevCode","withPin","history"}',
  async run(ctx) {
    const typed = checkPhone(ctx.args.positionals[0]!);
    let code = ctx.args.string('code');
    if (code !== undefined) checkCode(code);
    const pinOption = ctx.args.string('pin');
    if (pinOption !== undefined) checkPin(pinOption);
    let usedDevCode = false;
    let phone: string;
    let response: SessionResponse;
    let withPin = false;
    const waitingForPin = code === undefined && pinOption !== undefined ? pendingPinOf(ctx, typed) : undefined;
    if (waitingForPin !== undefined) {
      // The second run of a login that asked for the PIN: the code was used already.
      phone = waitingForPin.phone;
      response = await enterPin(ctx, waitingForPin);
      withPin = true;
    } else {
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
      const answer = await verify(ctx, phone, code, challenge);
      if (isPinRequired(answer)) {
        const pending: PendingPin = {
          server: ctx.server,
          phone,
          typed,
          pinChallenge: answer.pinChallenge,
          expiresAt: answer.expiresAt,
          attemptsLeft: answer.attemptsLeft,
          resetAt: answer.resetAt,
        };
        rememberPendingPin(ctx, pending);
        response = await enterPin(ctx, pending);
        withPin = true;
      } else {
        response = answer;
      }
    }
    const me = await apiFor(ctx, response.token).me();
    const previous = ctx.config.load().session;
    if (previous !== undefined && previous.deviceId !== response.deviceId) await retirePreviousSession(ctx, previous);
    const session: Session = {
      server: ctx.server,
      token: response.token,
      refreshToken: response.refreshToken,
      userId: response.userId,
      deviceId: response.deviceId,
      phone: me.phone ?? phone,
      expiresAt: response.expiresAt,
    };
    ctx.config.save({ server: ctx.server, session });
    const name = ctx.args.string('name');
    const profile =
      name === undefined
        ? me
        : await new MessengerApi({ baseUrl: ctx.server, token: response.token, timeoutMs: REQUEST_TIMEOUT_MS }).updateMe({ displayName: name });
    const result = {
      userId: session.userId,
      deviceId: session.deviceId,
      phone: session.phone,
      server: ctx.server,
      newUser: response.newUser,
      usedDevCode,
      withPin,
      history: response.history,
    };
    ctx.out.result(result, () => [
      `Logged in as ${profile.displayName || session.phone}${profile.displayName ? ` (${session.phone})` : ''}${response.newUser ? ' — new account' : ''}`,
      ...(response.history ? [] : [ctx.out.style.dim('Messages from before this login are not shown on this device (only a login that enters the two-step PIN gets them)')]),
      ctx.out.style.dim(`user ${session.userId} · device ${session.deviceId} · ${ctx.server}`),
    ]);
  },
};
