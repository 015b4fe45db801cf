/**
 * `settings show|privacy`: your privacy and notification settings, and changing who sees your
 * presence and about, who may add you to groups, and read receipts.
 */
import type { PrivacySettings, Settings } from '../../client/index.ts';
import type { CommandContext, CommandSpec } from '../context.ts';
import { usageError } from '../errors.ts';
import { formatTime, plural } from '../format.ts';
import { sessionApi } from '../session.ts';

const AUDIENCES = ['everyone', 'contacts', 'nobody'] as const;

/** `value` if it is one of `allowed` (case-insensitive), else a usage error naming them. */
function choice<T extends string>(option: string, value: string, allowed: readonly T[]): T {
  const found = allowed.find((a) => a === value.trim().toLowerCase());
  if (found === undefined) throw usageError(`--${option} must be ${allowed.join(', ').replace(/, ([^,]*)$/, ' or $1')}, not ${JSON.stringify(value)}`);
  return found;
}

/** The privacy fields the options ask to change. */
function privacyUpdate(ctx: CommandContext): Partial<PrivacySettings> {
  const update: Partial<PrivacySettings> = {};
  const lastSeen = ctx.args.string('last-seen');
  if (lastSeen !== undefined) update.lastSeen = choice('last-seen', lastSeen, AUDIENCES);
  const online = ctx.args.string('online');
  if (online !== undefined) update.online = choice('online', online, ['everyone', 'same-as-last-seen'] as const) === 'everyone' ? 'everyone' : 'same_as_last_seen';
  const receipts = ctx.args.string('read-receipts');
  if (receipts !== undefined) update.readReceipts = choice('read-receipts', receipts, ['on', 'off'] as const) === 'on';
  const groups = ctx.args.string('groups');
  if (groups !== undefined) update.groups = choice('groups', groups, AUDIENCES);
  const profile = ctx.args.string('profile');
  if (profile !== undefined) update.profile = choice('profile', profile, AUDIENCES);
  return update;
}

function audience(value: string): string {
  return value === 'contacts' ? 'my contacts' : value;
}

function settingsLines(ctx: CommandContext, settings: Settings): string[] {
  const { style } = ctx.out;
  const { privacy, notifications, mutes } = settings;
  const quiet = notifications.quietHours;
  return [
    style.bold('Privacy'),
    `  last seen          ${audience(privacy.lastSeen)}`,
    `  online             ${privacy.online === 'everyone' ? 'everyone' : 'same as last seen'}`,
    `  read receipts      ${privacy.readReceipts ? 'on' : 'off (you neither send nor see them)'}`,
    `  add me to groups   ${audience(privacy.groups)}${privacy.groups === 'everyone' ? '' : style.dim(' (others can only invite you)')}`,
    `  about visible to   ${audience(privacy.profile)}`,
    style.bold('Notifications'),
    `  previews           ${notifications.previews ? 'on' : 'off'}`,
    `  quiet hours        ${quiet === null ? 'off' : `${quiet.start}-${quiet.end} (${quiet.timeZone})`}`,
    `  muted chats        ${mutes.length === 0 ? 'none' : mutes.map((m) => `${m.conversation.kind} ${m.conversation.id} ${m.until === null ? 'always' : `until ${formatTime(m.until)}`}`).join(', ')}`,
  ];
}

export const settingsShow: CommandSpec = {
  name: 'settings show',
  args: '',
  summary: 'your privacy and notification settings',
  minArgs: 0,
  maxArgs: 0,
  examples: ['messenger settings', 'messenger settings show --json'],
  json: '{"privacy": {"lastSeen","online","readReceipts","groups","profile"}, "notifications": {...}, "mutes": [...]}',
  async run(ctx) {
    const { api } = sessionApi(ctx);
    const settings = await api.settings();
    ctx.out.result(settings, () => settingsLines(ctx, settings));
  },
};

export const settingsPrivacy: CommandSpec = {
  name: 'settings privacy',
  args: '',
  summary: 'change who sees your presence and about, who may add you to groups, read receipts',
  details: [
    '"contacts" means the people in your contacts. Someone you blocked never sees your presence',
    'or about and can never add you to a group, whatever these say. Anyone who may not add you to',
    'a group can only invite you (see `messenger invites`).',
  ],
  options: {
    'last-seen': { type: 'string', valueName: 'WHO', description: 'who sees your last seen: everyone, contacts or nobody' },
    online: { type: 'string', valueName: 'WHO', description: 'who sees you online: everyone or same-as-last-seen' },
    'read-receipts': { type: 'string', valueName: 'on|off', description: 'send and receive read receipts (reciprocal)' },
    groups: { type: 'string', valueName: 'WHO', description: 'who may add you to groups: everyone, contacts or nobody' },
    profile: { type: 'string', valueName: 'WHO', description: 'who sees your about: everyone, contacts or nobody' },
  },
  minArgs: 0,
  maxArgs: 0,
  examples: [
    'messenger settings privacy --groups contacts --profile nobody',
    'messenger settings privacy --read-receipts off',
    'messenger settings privacy --last-seen nobody --online same-as-last-seen',
  ],
  json: 'all settings after the change, as for settings show',
  async run(ctx) {
    const update = privacyUpdate(ctx);
    const changed = Object.keys(update).length;
    if (changed === 0) throw usageError('Say what to change, e.g. --groups contacts (see `messenger settings privacy --help`)');
    const { api } = sessionApi(ctx);
    const settings = await api.updateSettings({ privacy: update });
    ctx.out.result(settings, () => [`Changed ${plural(changed, 'privacy setting')}`, ...settingsLines(ctx, settings)]);
  },
};
