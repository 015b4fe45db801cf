/**
 * Group consent from the invited side: `invites list|accept|decline` (people who may not add you
 * to a group directly invite you instead) and `join <link>` (an invite link an admin shared).
 */
import type { GroupInvite, MessengerApi } from '../../client/index.ts';
import { LinkCodeSchema } from '../../protocol/index.ts';
import type { CommandContext, CommandSpec } from '../context.ts';
import { CliError, EXIT, usageError } from '../errors.ts';
import { formatTime, plural } from '../format.ts';
import { Directory, looksLikeId, pickByName } from '../resolve.ts';
import { sessionApi } from '../session.ts';

/** Pages fetched at most when looking an invite up by title. */
const MAX_INVITE_PAGES = 20;

/** Every invite you have not answered, newest group first. */
async function allInvites(api: MessengerApi): Promise<GroupInvite[]> {
  const invites: GroupInvite[] = [];
  let before: string | undefined;
  for (let page = 0; page < MAX_INVITE_PAGES; page++) {
    const list = await api.invites(before === undefined ? { limit: 200 } : { before, limit: 200 });
    invites.push(...list.invites);
    if (list.nextBefore === null) break;
    before = list.nextBefore;
  }
  return invites;
}

/** The invite meant by `input`: the group's id or (a unique start of) its title. */
async function resolveInvite(api: MessengerApi, input: string): Promise<GroupInvite> {
  const text = input.trim();
  if (text === '') throw usageError('Say which group: its title or id (see `messenger invites`)');
  const invites = await allInvites(api);
  const invite = looksLikeId(text)
    ? invites.find((i) => i.groupId === text.toUpperCase())
    : pickByName(invites, (i) => [i.title], text, 'invites', (i) => i.groupId);
  if (invite === undefined) throw new CliError('invite_not_found', `You have no invite to a group called "${text}" (see \`messenger invites\`)`, EXIT.notFound);
  return invite;
}

export const invitesList: CommandSpec = {
  name: 'invites list',
  args: '',
  summary: 'group invites waiting for your answer',
  details: ['People who may not add you to groups (see `messenger settings privacy --groups`) invite you instead.'],
  minArgs: 0,
  maxArgs: 0,
  examples: ['messenger invites', 'messenger invites --json'],
  json: '{"invites": [{"groupId","title","memberCount","invitedBy","at","invitedByName"}]}',
  async run(ctx) {
    const { api, session } = sessionApi(ctx);
    const invites = await allInvites(api);
    const directory = new Directory(api, session.userId);
    const names = await directory.names(invites.map((i) => i.invitedBy));
    const rows = invites.map((invite, i) => ({ ...invite, invitedByName: names[i]! }));
    const { style } = ctx.out;
    ctx.out.result({ invites: rows }, () =>
      rows.length === 0
        ? 'No invites'
        : rows.map(
            (i) =>
              `${style.bold(i.title)}  ${plural(i.memberCount, 'member')} · invited by ${i.invitedByName} ${style.dim(`[${formatTime(i.at)}] · ${i.groupId}`)}`,
          ),
    );
  },
};

export const invitesAccept: CommandSpec = {
  name: 'invites accept',
  args: '<group>',
  summary: 'join a group you were invited to',
  minArgs: 1,
  maxArgs: 1,
  examples: ['messenger invites accept Climbing'],
  json: 'the group, as for groups create',
  async run(ctx) {
    const { api } = sessionApi(ctx);
    const invite = await resolveInvite(api, ctx.args.positionals[0]!);
    const group = await api.acceptInvite(invite.groupId);
    ctx.out.result(group, () => `You joined "${group.title}" (${plural(group.memberCount, 'member')})`);
  },
};

export const invitesDecline: CommandSpec = {
  name: 'invites decline',
  args: '<group>',
  summary: 'turn a group invite down',
  minArgs: 1,
  maxArgs: 1,
  examples: ['messenger invites decline "Cheap watches"'],
  json: '{"declined": groupId, "title"}',
  async run(ctx) {
    const { api } = sessionApi(ctx);
    const invite = await resolveInvite(api, ctx.args.positionals[0]!);
    await api.declineInvite(invite.groupId);
    ctx.out.result({ declined: invite.groupId, title: invite.title }, () => `Declined the invite to "${invite.title}"`);
  },
};

/** The code of an invite link (`https://…/#join/<code>`) or a bare code. */
export function linkCode(input: string): string {
  const text = input.trim();
  const code = /#join\/([A-Za-z0-9_-]+)\/?$/.exec(text)?.[1] ?? text;
  if (!LinkCodeSchema.safeParse(code).success) {
    throw new CliError('usage', `"${input}" is not an invite link; it looks like https://…/#join/<22 characters>`, EXIT.usage);
  }
  return code;
}

/** The web link of an invite code on `server`. */
export function linkUrl(ctx: CommandContext, code: string): string {
  return `${ctx.server}/#join/${code}`;
}

export const join: CommandSpec = {
  name: 'join',
  args: '<link>',
  summary: 'join a group through an invite link (or ask to, when admins approve joins)',
  options: { preview: { type: 'boolean', description: 'only show which group the link leads to' } },
  minArgs: 1,
  maxArgs: 1,
  examples: ['messenger join https://chat.example.com/#join/AbCdEfGhIjKlMnOpQrStUv', 'messenger join AbCdEfGhIjKlMnOpQrStUv --preview'],
  json: '{"status":"joined","group"} | {"status":"requested","groupId"} | with --preview: {"groupId","title","description","memberCount","approval"}',
  async run(ctx) {
    const code = linkCode(ctx.args.positionals[0]!);
    const { api } = sessionApi(ctx);
    const preview = await api.linkPreview(code);
    if (ctx.args.flag('preview')) {
      ctx.out.result(preview, () => [
        `${ctx.out.style.bold(preview.title)}  ${plural(preview.memberCount, 'member')}${preview.approval ? ' · an admin approves who joins' : ''}`,
        ...(preview.description === '' ? [] : [preview.description]),
      ]);
      return;
    }
    const result = await api.joinByLink(code);
    ctx.out.result(result, () =>
      result.status === 'joined'
        ? `You joined "${result.group.title}" (${plural(result.group.memberCount, 'member')})`
        : `Asked to join "${preview.title}"; an admin of the group decides`,
    );
  },
};
