/**
 * `account devices|revoke|delete`: the devices logged in to your account, logging one out, and
 * deleting the account for good.
 */
import type { Device } from '../../client/index.ts';
import type { CommandContext, CommandSpec } from '../context.ts';
import { CliError, EXIT, usageError } from '../errors.ts';
import { formatTime } from '../format.ts';
import { checkPhone } from '../resolve.ts';
import { sessionApi } from '../session.ts';

function deviceLine(ctx: CommandContext, device: Device): string {
  const { style } = ctx.out;
  const seen = device.lastSeenAt === null ? 'never connected' : `last seen ${formatTime(device.lastSeenAt)}`;
  const name = `${device.name || device.platform}${device.current ? style.green(' (this device)') : ''}`;
  return `${style.bold(name)}  ${style.dim(`${device.platform} · logged in ${formatTime(device.createdAt)} · ${seen} · ${device.deviceId}`)}`;
}

export const accountDevices: CommandSpec = {
  name: 'account devices',
  args: '',
  summary: 'the devices logged in to your account',
  minArgs: 0,
  maxArgs: 0,
  examples: ['messenger account devices'],
  json: '{"devices": [{"deviceId","name","platform","createdAt","lastSeenAt","current"}]}',
  async run(ctx) {
    const { api } = sessionApi(ctx);
    const list = await api.devices();
    ctx.out.result(list, () => list.devices.map((device) => deviceLine(ctx, device)));
  },
};

export const accountRevoke: CommandSpec = {
  name: 'account revoke',
  args: '<device>',
  summary: 'log one of your devices out (its id, or a unique start of its name)',
  details: ['A device logged in less than a day ago without the PIN cannot log older devices out.'],
  minArgs: 1,
  maxArgs: 1,
  examples: ['messenger account revoke 01KDM4…', 'messenger account revoke "old laptop"'],
  json: '{"revoked": deviceId}',
  async run(ctx) {
    const { api, session } = sessionApi(ctx);
    const wanted = ctx.args.positionals[0]!.trim();
    const { devices } = await api.devices();
    const lower = wanted.toLocaleLowerCase();
    const byId = devices.filter((d) => d.deviceId === wanted.toUpperCase());
    const matches = byId.length > 0 ? byId : devices.filter((d) => d.name.toLocaleLowerCase().startsWith(lower));
    if (matches.length === 0) throw new CliError('device_not_found', `You have no device called "${wanted}" (see \`messenger account devices\`)`, EXIT.notFound);
    if (matches.length > 1) throw usageError(`"${wanted}" matches ${matches.length} devices; use the id instead (${matches.map((d) => d.deviceId).join(', ')})`);
    const device = matches[0]!;
    if (device.deviceId === session.deviceId) throw usageError('That is this device: use `messenger logout`');
    await api.revokeDevice(device.deviceId);
    ctx.out.result({ revoked: device.deviceId }, () => `Logged out ${device.name || device.deviceId}`);
  },
};

export const accountDelete: CommandSpec = {
  name: 'account delete',
  args: '',
  summary: 'delete your account for good (needs --confirm <your phone number>)',
  details: [
    'Deletes your profile, devices, contacts, blocks, push registrations, messages and group',
    'memberships (groups see that you left). Your number is free again. Cannot be undone.',
    'A device logged in less than a day ago without the PIN cannot do this.',
  ],
  options: { confirm: { type: 'string', valueName: 'PHONE', description: "your account's phone number, to confirm" } },
  minArgs: 0,
  maxArgs: 0,
  examples: ['messenger account delete --confirm +4915112345678'],
  json: '{"deleted": userId, "phone"}',
  async run(ctx) {
    const confirm = ctx.args.string('confirm');
    const { api, session } = sessionApi(ctx);
    if (confirm === undefined) {
      throw usageError(`This deletes your account and everything in it for good; to go ahead run \`messenger account delete --confirm ${session.phone}\``);
    }
    await api.deleteAccount(checkPhone(confirm));
    ctx.config.removeDeviceState(session.deviceId);
    const { session: _deleted, ...rest } = ctx.config.load();
    ctx.config.save(rest);
    ctx.out.result({ deleted: session.userId, phone: session.phone }, () => `Deleted the account of ${session.phone}; this computer is logged out`);
  },
};
