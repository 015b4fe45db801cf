/**
 * `groups …`: list, create, info, add, remove, promote, demote, rename, leave, send (`groups chat`
 * is in chat.ts, `groups history` in history.ts; invite links, requests and withdrawing invites
 * in group-links.ts).
 */
import type { Group, MessengerApi } from '../../client/index.ts';
import { GroupIdSchema, HISTORY_MAX_LIMIT } from '../../protocol/index.ts';
import type { CommandContext, CommandSpec } from '../context.ts';
import { usageError } from '../errors.ts';
import { formatTime, listNames, plural } from '../format.ts';
import { Directory, resolveGroup, resolvePeer } from '../resolve.ts';
import type { PeerRef } from '../resolve.ts';
import { sessionApi } from '../session.ts';
import { FILE_DETAILS, FILE_OPTIONS } from '../media.ts';
import { prepareFile, sendFile } from './media.ts';
import { clientIdOption, connectOrQueue, messageText, missingText, sendAndConfirm } from './messages.ts';

async function resolveMembers(api: MessengerApi, directory: Directory, inputs: readonly string[]): Promise<PeerRef[]> {
  return Promise.all(inputs.map((input) => resolvePeer(api, directory, input)));
}

/** The group with each member's display name, for --json. */
async function groupWithNames(group: Group, directory: Directory): Promise<Group & { members: Array<Group['members'][number] & { name: string }> }> {
  const names = await directory.names(group.members.map((m) => m.userId));
  return { ...group, members: group.members.map((member, i) => ({ ...member, name: names[i]! })) };
}

async function groupLines(ctx: CommandContext, group: Group, directory: Directory): Promise<string[]> {
  const { style } = ctx.out;
  const lines = [style.bold(group.title)];
  if (group.description) lines.push(group.description);
  lines.push(`${plural(group.memberCount, 'member')}${group.onlyAdminsSend ? ' · only admins may send' : ''}`);
  const names = await directory.names(group.members.map((m) => m.userId));
  group.members.forEach((member, i) => lines.push(`  ${names[i]}${member.role === 'admin' ? style.dim(' (admin)') : ''}`));
  if (group.invites.length > 0) {
    const invited = await directory.names(group.invites.map((invite) => invite.userId));
    lines.push(`${plural(group.invites.length, 'invite')} not answered yet:`);
    group.invites.forEach((invite, i) => lines.push(`  ${invited[i]}${style.dim(` (invited ${formatTime(invite.at)})`)}`));
  }
  lines.push(style.dim(`id ${group.groupId}`));
  return lines;
}

/**
 * Who of `asked` became a member and who was invited instead (their privacy lets only some
 * people add them; the answer looks the same whoever they are).
 */
function splitAdded(group: Group, asked: readonly PeerRef[]): { added: PeerRef[]; invited: PeerRef[] } {
  const invitedIds = new Set(group.invites.map((invite) => invite.userId));
  return { added: asked.filter((peer) => !invitedIds.has(peer.userId)), invited: asked.filter((peer) => invitedIds.has(peer.userId)) };
}

/** "; invited Bob (they join when they accept)", or '' when nobody was invited. */
function invitedText(invited: readonly PeerRef[], first: boolean): string {
  if (invited.length === 0) return '';
  return `${first ? 'Invited' : '; invited'} ${names(invited)} (they join when they accept)`;
}

/** Print a changed group (create, add, remove, promote, demote, rename). */
async function showGroup(ctx: CommandContext, group: Group, directory: Directory, headline: string): Promise<void> {
  const json = await groupWithNames(group, directory);
  const lines = ctx.out.json ? [] : await groupLines(ctx, group, directory);
  ctx.out.result(json, () => [headline, ...lines.slice(1)]);
}

export const groupsList: CommandSpec = {
  name: 'groups list',
  args: '',
  summary: 'the groups you are in, newest first',
  options: {
    limit: { type: 'string', valueName: 'N', description: 'how many groups (1-200, default 50)' },
    before: { type: 'string', valueName: 'GROUP', description: 'only older than this group id ("nextBefore" of the previous page)' },
  },
  minArgs: 0,
  maxArgs: 0,
  examples: ['messenger groups list', 'messenger groups list --limit 10 --before 01KDM4…'],
  json: '{"groups": [{"groupId","title","role","memberCount"}], "nextBefore": groupId|null}',
  async run(ctx) {
    const { api } = sessionApi(ctx);
    const limit = ctx.args.integer('limit', { min: 1, max: HISTORY_MAX_LIMIT });
    const before = ctx.args.string('before');
    if (before !== undefined && !GroupIdSchema.safeParse(before.toUpperCase()).success) throw usageError(`--before must be a group id, not ${JSON.stringify(before)}`);
    const list = await api.groups({ ...(limit === undefined ? {} : { limit }), ...(before === undefined ? {} : { before: before.toUpperCase() }) });
    ctx.out.result(list, () => {
      if (list.groups.length === 0) return before === undefined ? 'You are in no groups yet (create one: messenger groups create <title> <members...>)' : 'No older groups';
      const lines = list.groups.map(
        (g) => `${ctx.out.style.bold(g.title)}  ${plural(g.memberCount, 'member')}${g.role === 'admin' ? ' · admin' : ''}  ${ctx.out.style.dim(g.groupId)}`,
      );
      if (list.nextBefore !== null) lines.push(ctx.out.style.dim(`(more: messenger groups list --before ${list.nextBefore})`));
      return lines;
    });
  },
};

export const groupsCreate: CommandSpec = {
  name: 'groups create',
  args: '<title> [member...]',
  summary: 'create a group (you become its admin)',
  details: ['Members are phone numbers, user ids or contact names.'],
  options: {
    description: { type: 'string', valueName: 'TEXT', description: 'group description' },
    'admins-only': { type: 'boolean', description: 'only admins may send messages' },
  },
  minArgs: 1,
  maxArgs: Infinity,
  examples: ['messenger groups create Climbing +4915112345678 Bob', 'messenger groups create "Team news" Ann Bob --admins-only'],
  json: 'the group: {"groupId","title","description","picture","onlyAdminsSend","createdBy","createdAt","head","members":[{"userId","role","joinedAt","name"}]}',
  async run(ctx) {
    const [title, ...memberInputs] = ctx.args.positionals;
    const { api, session } = sessionApi(ctx);
    const directory = new Directory(api, session.userId);
    const members = await resolveMembers(api, directory, memberInputs);
    const description = ctx.args.string('description');
    const group = await api.createGroup({
      title: title!,
      members: members.map((m) => m.userId).filter((id) => id !== session.userId),
      ...(description === undefined ? {} : { description }),
      ...(ctx.args.flag('admins-only') ? { onlyAdminsSend: true } : {}),
    });
    const { added, invited } = splitAdded(group, members.filter((m) => m.userId !== session.userId));
    const others = `${added.length === 0 ? '' : ` with ${names(added)}`}${invitedText(invited, false)}`;
    await showGroup(ctx, group, directory, `Created "${group.title}"${others} (id ${group.groupId})`);
  },
};

export const groupsInfo: CommandSpec = {
  name: 'groups info',
  args: '<group>',
  summary: "a group's settings and members",
  minArgs: 1,
  maxArgs: 1,
  examples: ['messenger groups info Climbing'],
  json: 'the group, as for groups create',
  async run(ctx) {
    const { api, session } = sessionApi(ctx);
    const directory = new Directory(api, session.userId);
    const ref = await resolveGroup(api, ctx.args.positionals[0]!);
    const group = await api.group(ref.groupId);
    const lines = ctx.out.json ? [] : await groupLines(ctx, group, directory);
    ctx.out.result(await groupWithNames(group, directory), () => lines);
  },
};

function names(members: readonly PeerRef[]): string {
  return listNames(members.map((m) => m.name));
}

/** A command changing one group's members or settings, answered with the updated group. */
function memberCommand(spec: {
  name: string;
  args: string;
  summary: string;
  maxArgs: number;
  example: string;
  apply: (api: MessengerApi, groupId: string, members: PeerRef[]) => Promise<Group>;
  headline: (group: Group, members: readonly PeerRef[]) => string;
}): CommandSpec {
  return {
    name: spec.name,
    args: spec.args,
    summary: spec.summary,
    details: ['<group> is a title or id; members are phone numbers, user ids or contact names. Admins only.'],
    minArgs: 2,
    maxArgs: spec.maxArgs,
    examples: [spec.example],
    json: 'the updated group, as for groups create',
    async run(ctx) {
      const [groupInput, ...memberInputs] = ctx.args.positionals;
      const { api, session } = sessionApi(ctx);
      const directory = new Directory(api, session.userId);
      const ref = await resolveGroup(api, groupInput!);
      const members = await resolveMembers(api, directory, memberInputs);
      const group = await spec.apply(api, ref.groupId, members);
      await showGroup(ctx, group, directory, spec.headline(group, members));
    },
  };
}

export const groupsAdd = memberCommand({
  name: 'groups add',
  args: '<group> <member...>',
  summary: 'add members (admins)',
  maxArgs: Infinity,
  example: 'messenger groups add Climbing +4915112345678 Cy',
  apply: (api, groupId, members) => api.addGroupMembers(groupId, members.map((m) => m.userId)),
  headline: (group, members) => {
    const { added, invited } = splitAdded(group, members);
    return `${added.length === 0 ? '' : `Added ${names(added)} to "${group.title}"`}${invitedText(invited, added.length === 0)}`;
  },
});

export const groupsRemove = memberCommand({
  name: 'groups remove',
  args: '<group> <member>',
  summary: 'remove a member (admins)',
  maxArgs: 2,
  example: 'messenger groups remove Climbing Cy',
  apply: (api, groupId, [member]) => api.removeGroupMember(groupId, member!.userId),
  headline: (group, members) => `Removed ${names(members)} from "${group.title}"`,
});

export const groupsPromote = memberCommand({
  name: 'groups promote',
  args: '<group> <member>',
  summary: 'make a member an admin (admins)',
  maxArgs: 2,
  example: 'messenger groups promote Climbing Ann',
  apply: (api, groupId, [member]) => api.promoteAdmin(groupId, member!.userId),
  headline: (group, members) => `${names(members)} is now an admin of "${group.title}"`,
});

export const groupsDemote = memberCommand({
  name: 'groups demote',
  args: '<group> <member>',
  summary: 'make an admin a plain member (admins)',
  maxArgs: 2,
  example: 'messenger groups demote Climbing Ann',
  apply: (api, groupId, [member]) => api.demoteAdmin(groupId, member!.userId),
  headline: (group, members) => `${names(members)} is no longer an admin of "${group.title}"`,
});

export const groupsRename: CommandSpec = {
  name: 'groups rename',
  args: '<group> <title...>',
  summary: 'change the title (admins)',
  minArgs: 2,
  maxArgs: Infinity,
  examples: ['messenger groups rename Climbing "Climbing on Fridays"'],
  json: 'the updated group, as for groups create',
  async run(ctx) {
    const [groupInput, ...words] = ctx.args.positionals;
    const { api, session } = sessionApi(ctx);
    const ref = await resolveGroup(api, groupInput!);
    const group = await api.updateGroup(ref.groupId, { title: words.join(' ') });
    await showGroup(ctx, group, new Directory(api, session.userId), `Renamed "${ref.title}" to "${group.title}"`);
  },
};

export const groupsLeave: CommandSpec = {
  name: 'groups leave',
  args: '<group>',
  summary: 'leave a group',
  minArgs: 1,
  maxArgs: 1,
  examples: ['messenger groups leave Climbing'],
  json: '{"left": groupId, "title"}',
  async run(ctx) {
    const { api } = sessionApi(ctx);
    const ref = await resolveGroup(api, ctx.args.positionals[0]!);
    await api.leaveGroup(ref.groupId);
    ctx.out.result({ left: ref.groupId, title: ref.title }, () => `You left "${ref.title}"`);
  },
};

export const groupsSend: CommandSpec = {
  name: 'groups send',
  args: '<group> <text...>',
  summary: 'send a message to a group and wait until it is stored',
  details: ['Like `send`: `-` reads the message from stdin; exits 0 once the group log has it.', ...FILE_DETAILS],
  options: {
    timeout: { type: 'string', valueName: 'SECONDS', description: 'how long to wait for the server (default 15)' },
    id: { type: 'string', valueName: 'ID', description: 'client message id, so a retried send is stored only once' },
    ...FILE_OPTIONS,
  },
  // One with --file; checked in run so the usage line stays that of a text message.
  minArgs: 1,
  maxArgs: Infinity,
  examples: ['messenger groups send Climbing "who is in tonight?"', 'messenger groups send Climbing --file topo.pdf --caption "route map"'],
  json: '{"messageId","clientId","group","gseq","sentAt","duplicate"} and with --file also {"mediaId","kind","mime","size","deduplicated"}',
  async run(ctx) {
    const [groupInput, ...words] = ctx.args.positionals;
    const file = await prepareFile(ctx, words);
    if (file === null && words.length === 0) throw missingText('groups send', '<group> <text...>');
    const text = file === null ? await messageText(ctx, words) : '';
    const { api } = sessionApi(ctx);
    const ref = await resolveGroup(api, groupInput!);
    if (file !== null) {
      const { ack, sentFile, text: what } = await sendFile(ctx, file, (c, body, clientId) => c.sendGroup(ref.groupId, body, clientId === undefined ? {} : { clientId }));
      ctx.out.result(
        { messageId: ack.messageId, clientId: ack.id, group: ack.group, gseq: ack.gseq, sentAt: ack.sentAt, duplicate: ack.duplicate, ...sentFile },
        () => `Sent ${what} to "${ref.title}" ${ctx.out.style.dim('✓')}${ack.duplicate ? ' (it had been sent before)' : ''} ${ctx.out.style.dim(`(media ${sentFile.mediaId})`)}`,
      );
      return;
    }
    const clientId = clientIdOption(ctx);
    const { client } = await connectOrQueue(ctx, { group: ref.groupId }, text, clientId, `"${ref.title}"`);
    const ack = await sendAndConfirm(ctx, client, (c) => c.sendGroupText(ref.groupId, text, clientId === undefined ? {} : { clientId }));
    ctx.out.result(
      { messageId: ack.messageId, clientId: ack.id, group: ack.group, gseq: ack.gseq, sentAt: ack.sentAt, duplicate: ack.duplicate },
      () => `Sent to "${ref.title}" ${ctx.out.style.dim('✓')}${ack.duplicate ? ' (it had been sent before)' : ''}`,
    );
  },
};
