/**
 * Group consent from the admins' side: invite links (`groups link create|show|revoke`), requests
 * to join through a link that needs approval (`groups requests|approve|decline-request`), and
 * withdrawing an invite (`groups withdraw`).
 */
import type { GroupLink } from '../../client/index.ts';
import type { CommandContext, CommandSpec } from '../context.ts';
import { formatTime } from '../format.ts';
import { Directory, resolveGroup, resolvePeer } from '../resolve.ts';
import { sessionApi } from '../session.ts';
import { linkUrl } from './invites.ts';

function linkJson(ctx: CommandContext, link: GroupLink): GroupLink & { url: string } {
  return { ...link, url: linkUrl(ctx, link.code) };
}

function linkLines(ctx: CommandContext, link: GroupLink, title: string): string[] {
  return [
    linkUrl(ctx, link.code),
    ctx.out.style.dim(`"${title}" · ${link.approval ? 'an admin approves who joins (see messenger groups requests)' : 'anyone with the link joins'} · created ${formatTime(link.createdAt)}`),
  ];
}

export const groupsLinkCreate: CommandSpec = {
  name: 'groups link create',
  args: '<group>',
  summary: "create the group's invite link, replacing the old one (admins)",
  options: { approval: { type: 'boolean', description: 'joining through the link only asks; an admin approves' } },
  minArgs: 1,
  maxArgs: 1,
  examples: ['messenger groups link create Climbing', 'messenger groups link create Climbing --approval'],
  json: '{"groupId","code","approval","createdBy","createdAt","url"}',
  async run(ctx) {
    const { api } = sessionApi(ctx);
    const ref = await resolveGroup(api, ctx.args.positionals[0]!);
    const link = await api.createLink(ref.groupId, { approval: ctx.args.flag('approval') });
    ctx.out.result(linkJson(ctx, link), () => [`Invite link of "${ref.title}":`, ...linkLines(ctx, link, ref.title)]);
  },
};

export const groupsLinkShow: CommandSpec = {
  name: 'groups link show',
  args: '<group>',
  summary: "the group's invite link (admins)",
  minArgs: 1,
  maxArgs: 1,
  examples: ['messenger groups link show Climbing'],
  json: '{"link": {"groupId","code","approval","createdBy","createdAt","url"} | null}',
  async run(ctx) {
    const { api } = sessionApi(ctx);
    const ref = await resolveGroup(api, ctx.args.positionals[0]!);
    const link = await api.groupLink(ref.groupId);
    ctx.out.result({ link: link === null ? null : linkJson(ctx, link) }, () =>
      link === null ? `"${ref.title}" has no invite link (create one: messenger groups link create ${ref.groupId})` : linkLines(ctx, link, ref.title),
    );
  },
};

export const groupsLinkRevoke: CommandSpec = {
  name: 'groups link revoke',
  args: '<group>',
  summary: "revoke the group's invite link: it stops working (admins)",
  minArgs: 1,
  maxArgs: 1,
  examples: ['messenger groups link revoke Climbing'],
  json: '{"revoked": groupId}',
  async run(ctx) {
    const { api } = sessionApi(ctx);
    const ref = await resolveGroup(api, ctx.args.positionals[0]!);
    await api.revokeLink(ref.groupId);
    ctx.out.result({ revoked: ref.groupId }, () => `The invite link of "${ref.title}" no longer works`);
  },
};

export const groupsRequests: CommandSpec = {
  name: 'groups requests',
  args: '<group>',
  summary: 'requests to join through the invite link, waiting for approval (admins)',
  minArgs: 1,
  maxArgs: 1,
  examples: ['messenger groups requests Climbing'],
  json: '{"requests": [{"userId","at","name"}]}',
  async run(ctx) {
    const { api, session } = sessionApi(ctx);
    const ref = await resolveGroup(api, ctx.args.positionals[0]!);
    const { requests } = await api.joinRequests(ref.groupId);
    const names = await new Directory(api, session.userId).names(requests.map((r) => r.userId));
    const rows = requests.map((request, i) => ({ ...request, name: names[i]! }));
    ctx.out.result({ requests: rows }, () =>
      rows.length === 0
        ? `Nobody is waiting to join "${ref.title}"`
        : rows.map((r) => `${r.name}  ${ctx.out.style.dim(`[${formatTime(r.at)}] · approve: messenger groups approve ${ref.groupId} ${r.userId}`)}`),
    );
  },
};

/** A command about one user and one group, answered by the updated group or nothing. */
function requestCommand(spec: {
  name: string;
  summary: string;
  example: string;
  json: string;
  apply: (ctx: CommandContext, groupId: string, userId: string) => Promise<unknown>;
  headline: (name: string, title: string) => string;
}): CommandSpec {
  return {
    name: spec.name,
    args: '<group> <user>',
    summary: spec.summary,
    details: ['<user> is a user id (as `groups requests` shows it), a phone number or a contact name. Admins only.'],
    minArgs: 2,
    maxArgs: 2,
    examples: [spec.example],
    json: spec.json,
    async run(ctx) {
      const [groupInput, userInput] = ctx.args.positionals;
      const { api, session } = sessionApi(ctx);
      const ref = await resolveGroup(api, groupInput!);
      const user = await resolvePeer(api, new Directory(api, session.userId), userInput!);
      const answer = await spec.apply(ctx, ref.groupId, user.userId);
      ctx.out.result(answer ?? { groupId: ref.groupId, userId: user.userId }, () => spec.headline(user.name, ref.title));
    },
  };
}

export const groupsApprove = requestCommand({
  name: 'groups approve',
  summary: 'let someone who asked to join in (admins)',
  example: 'messenger groups approve Climbing 01KDM4…',
  json: 'the updated group, as for groups create',
  apply: (ctx, groupId, userId) => sessionApi(ctx).api.approveRequest(groupId, userId),
  headline: (name, title) => `${name} joined "${title}"`,
});

export const groupsDeclineRequest = requestCommand({
  name: 'groups decline-request',
  summary: 'turn down a request to join (admins)',
  example: 'messenger groups decline-request Climbing 01KDM4…',
  json: '{"groupId","userId"}',
  apply: (ctx, groupId, userId) => sessionApi(ctx).api.declineRequest(groupId, userId),
  headline: (name, title) => `Turned down ${name}'s request to join "${title}"`,
});

export const groupsWithdraw = requestCommand({
  name: 'groups withdraw',
  summary: 'withdraw a pending invite (admins)',
  example: 'messenger groups withdraw Climbing +4915112345678',
  json: 'the updated group, as for groups create',
  apply: (ctx, groupId, userId) => sessionApi(ctx).api.withdrawInvite(groupId, userId),
  headline: (name, title) => `Withdrew the invite of ${name} to "${title}"`,
});
