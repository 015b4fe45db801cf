/**
 * `pin status|set|remove|reset`: the account's two-step verification PIN. Setting, changing and
 * removing it need a logged-in device (one that entered the PIN, or older than a day); `reset`
 * is for a login that asked for the PIN and nobody remembers it.
 */
import { MessengerError } from '../../client/index.ts';
import type { CommandContext, CommandSpec } from '../context.ts';
import { CliError, EXIT } from '../errors.ts';
import { formatTime } from '../format.ts';
import { askSecret, canPrompt } from '../prompt.ts';
import { apiFor, sessionApi } from '../session.ts';
import { checkPin, forgetPending, pendingPinOf } from './login.ts';

/** The value of `--<option>`, else typed on the terminal (twice when `confirm`), else a usage error. */
async function pinOption(ctx: CommandContext, option: string, question: string, confirm = false): Promise<string> {
  const given = ctx.args.string(option);
  if (given !== undefined) return checkPin(given, `--${option}`);
  if (!canPrompt(ctx)) throw new CliError('usage', `Pass the PIN with --${option} <PIN> (no terminal to ask on)`, EXIT.usage);
  const pin = checkPin(await askSecret(ctx, question));
  if (confirm && (await askSecret(ctx, 'Once more: ')) !== pin) throw new CliError('usage', 'The two PINs differ; nothing was changed', EXIT.usage);
  return pin;
}

export const pinStatus: CommandSpec = {
  name: 'pin status',
  args: '',
  summary: 'whether your account has a two-step verification PIN',
  minArgs: 0,
  maxArgs: 0,
  examples: ['messenger pin status'],
  json: '{"enabled": boolean, "resetAt": ms|null}',
  async run(ctx) {
    const { api } = sessionApi(ctx);
    const status = await api.pinStatus();
    ctx.out.result(status, () => [
      status.enabled ? 'Two-step verification PIN: on (a new login asks for it)' : 'Two-step verification PIN: off (set one: messenger pin set)',
      ...(status.resetAt === null ? [] : [ctx.out.style.yellow(`A PIN reset was requested: it takes effect ${formatTime(status.resetAt)} unless you change the PIN before`)]),
    ]);
  },
};

export const pinSet: CommandSpec = {
  name: 'pin set',
  args: '',
  summary: 'set or change the two-step verification PIN',
  details: [
    'A new login on another device then needs the PIN (and only a login that entered it sees the',
    'messages from before it). Changing it needs the current PIN. Asks on the terminal, or takes',
    '--pin (and --current).',
  ],
  options: {
    pin: { type: 'string', valueName: 'PIN', description: 'the new PIN (6 digits)' },
    current: { type: 'string', valueName: 'PIN', description: 'the current PIN, when changing it' },
  },
  minArgs: 0,
  maxArgs: 0,
  examples: ['messenger pin set', 'messenger pin set --pin 246810', 'messenger pin set --pin 135790 --current 246810'],
  json: '{"enabled": true, "changed": boolean}',
  async run(ctx) {
    const { api } = sessionApi(ctx);
    let current = ctx.args.string('current');
    if (current !== undefined) checkPin(current, '--current');
    else if (ctx.args.string('pin') === undefined && canPrompt(ctx) && (await api.pinStatus()).enabled) {
      current = await pinOption(ctx, 'current', 'Current PIN: ');
    }
    const pin = await pinOption(ctx, 'pin', 'New PIN (6 digits): ', true);
    await api.setPin({ pin, ...(current === undefined ? {} : { currentPin: current }) });
    const changed = current !== undefined;
    ctx.out.result({ enabled: true, changed }, () =>
      changed ? 'Two-step verification PIN changed' : 'Two-step verification PIN set: a new login now asks for it',
    );
  },
};

export const pinRemove: CommandSpec = {
  name: 'pin remove',
  args: '',
  summary: 'turn the two-step verification PIN off',
  options: { current: { type: 'string', valueName: 'PIN', description: 'the current PIN' } },
  minArgs: 0,
  maxArgs: 0,
  examples: ['messenger pin remove', 'messenger pin remove --current 246810'],
  json: '{"enabled": false}',
  async run(ctx) {
    const { api } = sessionApi(ctx);
    const current = await pinOption(ctx, 'current', 'Current PIN: ');
    await api.removePin(current);
    ctx.out.result({ enabled: false }, () => 'Two-step verification PIN removed: a new login needs only the code');
  },
};

export const pinReset: CommandSpec = {
  name: 'pin reset',
  args: '',
  summary: 'forgot the PIN: ask for a reset (takes effect after 7 days)',
  details: [
    'For a `login` that asked for the PIN. The account\'s devices are told at once; unless the PIN',
    'is changed from one of them, the reset takes effect after the waiting period, and then',
    '`messenger login <phone>` works without the PIN.',
  ],
  minArgs: 0,
  maxArgs: 0,
  examples: ['messenger login +4915112345678   # asks for the PIN', 'messenger pin reset'],
  json: '{"phone","resetAt"}',
  async run(ctx) {
    const pending = pendingPinOf(ctx);
    if (pending === undefined) {
      throw new CliError(
        'no_pin_requested',
        `No login on ${ctx.server} is waiting for a PIN: run \`messenger login <phone>\` first; when it asks for the PIN, run \`messenger pin reset\``,
        EXIT.auth,
      );
    }
    let resetAt: number;
    try {
      ({ resetAt } = await apiFor(ctx).requestPinReset(pending.pinChallenge));
    } catch (error) {
      if (error instanceof MessengerError && error.code === 'pin_challenge_invalid') forgetPending(ctx);
      throw error;
    }
    ctx.out.result({ phone: pending.phone, resetAt }, () => [
      `PIN reset requested for ${pending.phone}: it takes effect ${formatTime(resetAt)}`,
      ctx.out.style.dim(`The account's devices were told. After that, \`messenger login ${pending.phone}\` works without the PIN.`),
    ]);
  },
};
