/**
 * Contacts and blocking: `contacts list|add|remove`, `block`, `unblock`, `blocked`.
 */
import { MessengerError } from '../../client/index.ts';
import type { Contact } from '../../client/index.ts';
import type { CommandContext, CommandSpec } from '../context.ts';
import { CliError, EXIT } from '../errors.ts';
import { formatTime } from '../format.ts';
import { Directory, checkPhone, resolvePeer } from '../resolve.ts';
import type { PeerRef } from '../resolve.ts';
import { assertNotSelf, sessionApi } from '../session.ts';

export const contactsList: CommandSpec = {
  name: 'contacts list',
  args: '',
  summary: 'your contacts',
  minArgs: 0,
  maxArgs: 0,
  examples: ['messenger contacts list'],
  json: '{"contacts": [{"userId","phone","displayName","name","addedAt"}]}',
  async run(ctx) {
    const { api } = sessionApi(ctx);
    const list = await api.contacts();
    const { style } = ctx.out;
    ctx.out.result(list, () =>
      list.contacts.length === 0
        ? 'No contacts yet (add one: messenger contacts add <phone> [name])'
        : list.contacts.map((c) => {
            const title = c.name || c.displayName || c.phone;
            const profile = c.name && c.displayName && c.displayName !== c.name ? style.dim(` (${c.displayName})`) : '';
            return `${style.bold(title)}${profile}  ${c.phone}`;
          }),
    );
  },
};

export const contactsAdd: CommandSpec = {
  name: 'contacts add',
  args: '<phone> [name...]',
  summary: 'add someone by phone number, optionally under your own name for them',
  minArgs: 1,
  maxArgs: Infinity,
  examples: ['messenger contacts add +4915112345678', 'messenger contacts add +4915112345678 Bob from climbing'],
  json: '{"userId","phone","displayName","name","addedAt"}',
  async run(ctx) {
    const [phone, ...words] = ctx.args.positionals;
    const { api } = sessionApi(ctx);
    const name = words.join(' ').trim();
    checkPhone(phone!);
    let contact: Contact;
    try {
      contact = await api.addContact(phone!, name === '' ? undefined : name);
    } catch (error) {
      if (error instanceof MessengerError && error.code === 'user_not_found') {
        throw new CliError('user_not_found', `Nobody uses the messenger with the number ${phone}`, EXIT.notFound);
      }
      if (error instanceof MessengerError && error.code === 'self_reference') {
        throw new CliError('self_reference', 'That is your own number', EXIT.usage);
      }
      throw error;
    }
    ctx.out.result(contact, () => `Added ${contact.name || contact.displayName || contact.phone} (${contact.phone}) to your contacts`);
  },
};

/** The peer of a contacts / block command, with friendly lookups. */
async function peerArgument(ctx: CommandContext): Promise<PeerRef> {
  const { api, session } = sessionApi(ctx);
  return resolvePeer(api, new Directory(api, session.userId), ctx.args.positionals[0]!);
}

export const contactsRemove: CommandSpec = {
  name: 'contacts remove',
  args: '<contact>',
  summary: 'remove a contact (by name, phone number or user id)',
  minArgs: 1,
  maxArgs: 1,
  examples: ['messenger contacts remove Bob'],
  json: '{"removed": userId}',
  async run(ctx) {
    const peer = await peerArgument(ctx);
    const { api } = sessionApi(ctx);
    try {
      await api.removeContact(peer.userId);
    } catch (error) {
      if (error instanceof MessengerError && error.code === 'user_not_found') {
        throw new CliError('user_not_found', `${peer.name} is not in your contacts`, EXIT.notFound);
      }
      throw error;
    }
    ctx.out.result({ removed: peer.userId }, () => `Removed ${peer.name} from your contacts`);
  },
};

export const block: CommandSpec = {
  name: 'block',
  args: '<peer>',
  summary: 'block someone: their messages no longer reach you (they are not told)',
  minArgs: 1,
  maxArgs: 1,
  examples: ['messenger block +4915112345678'],
  json: '{"blocked": userId}',
  async run(ctx) {
    const peer = await peerArgument(ctx);
    assertNotSelf(ctx, peer.userId, 'block');
    await sessionApi(ctx).api.block(peer.userId);
    ctx.out.result({ blocked: peer.userId }, () => `Blocked ${peer.name}; they are not told, and their messages no longer reach you`);
  },
};

export const unblock: CommandSpec = {
  name: 'unblock',
  args: '<peer>',
  summary: 'unblock someone',
  minArgs: 1,
  maxArgs: 1,
  examples: ['messenger unblock +4915112345678'],
  json: '{"unblocked": userId}',
  async run(ctx) {
    const peer = await peerArgument(ctx);
    await sessionApi(ctx).api.unblock(peer.userId);
    ctx.out.result({ unblocked: peer.userId }, () => `Unblocked ${peer.name}`);
  },
};

export const blocked: CommandSpec = {
  name: 'blocked',
  args: '',
  summary: 'the people you blocked',
  minArgs: 0,
  maxArgs: 0,
  examples: ['messenger blocked'],
  json: '{"blocked": [{"userId","at","name"}]}',
  async run(ctx) {
    const { api, session } = sessionApi(ctx);
    const directory = new Directory(api, session.userId);
    const list = await api.blockedUsers();
    const names = await directory.names(list.blocked.map((b) => b.userId));
    const rows = list.blocked.map((b, i) => ({ ...b, name: names[i]! }));
    ctx.out.result({ blocked: rows }, () =>
      rows.length === 0 ? 'You have not blocked anyone' : rows.map((b) => `${b.name}  ${ctx.out.style.dim(`since ${formatTime(b.at)} · ${b.userId}`)}`),
    );
  },
};
