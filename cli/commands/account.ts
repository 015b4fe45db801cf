/**
 * Account commands: logout, whoami, profile (login is in login.ts).
 */
import { join } from 'node:path';
import { MessengerApi, MessengerError } from '../../client/index.ts';
import type { Profile } from '../../client/index.ts';
import { keeperFor } from '../auth.ts';
import type { Session } from '../config.ts';
import type { CommandContext, CommandSpec } from '../context.ts';
import { plural } from '../format.ts';
import { sessionApi } from '../session.ts';
import { DirectoryOutboxStore } from '../stores.ts';

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
      // The token may have expired: the keeper renews it first.
      await new MessengerApi({ baseUrl: session.server, tokens: keeperFor(ctx, session), timeoutMs: 5_000 }).logout();
    } catch (error) {
      const deadToken =
        error instanceof MessengerError &&
        ['token_invalid', 'token_expired', 'device_revoked', 'unauthorized', 'refresh_invalid', 'session_expired'].includes(error.code);
      if (!deadToken) {
        revoked = false;
        ctx.out.warn(`Could not reach ${session.server} to revoke this device; it stays in your device list until you remove it from another device`);
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
  lines.push(style.dim(`${ctx.server} · logged in until \`messenger logout\``));
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
