/**
 * `outbox`: messages this login sent that the server has not confirmed yet. They are resent
 * (with the same ids, so never twice) whenever a messenger command connects.
 */
import { join } from 'node:path';
import type { OutboxEntry } from '../../client/index.ts';
import type { CommandContext, CommandSpec } from '../context.ts';
import { bodyText, formatTime, formatWait, plural } from '../format.ts';
import { Directory, knownGroupTitle, shortId } from '../resolve.ts';
import { connect, currentSession, sessionApi } from '../session.ts';
import { DirectoryOutboxStore } from '../stores.ts';
import { sleep } from '../wait.ts';
import { SEND_TIMEOUT_MS } from './messages.ts';

function storeFor(ctx: CommandContext): DirectoryOutboxStore {
  return new DirectoryOutboxStore(join(ctx.config.deviceDir(currentSession(ctx).deviceId), 'outbox'));
}

function entryJson(entry: OutboxEntry): Record<string, unknown> {
  return { clientId: entry.clientId, to: entry.to ?? null, group: entry.group ?? null, body: entry.body, createdAt: entry.createdAt };
}

export const outboxList: CommandSpec = {
  name: 'outbox list',
  args: '',
  summary: 'messages waiting to be sent',
  minArgs: 0,
  maxArgs: 0,
  examples: ['messenger outbox'],
  json: '{"messages": [{"clientId","to","group","body","createdAt"}]}',
  async run(ctx) {
    const entries = storeFor(ctx).load();
    const names: string[] = [];
    if (!ctx.out.json && entries.length > 0) {
      const { api, session } = sessionApi(ctx);
      const directory = new Directory(api, session.userId);
      for (const entry of entries) {
        names.push(entry.to !== undefined ? await directory.name(entry.to).catch(() => shortId(entry.to!)) : `"${knownGroupTitle(api, entry.group) ?? `group ${entry.group.slice(-6)}`}"`);
      }
    }
    ctx.out.result({ messages: entries.map(entryJson) }, () =>
      entries.length === 0
        ? 'Nothing waiting to be sent'
        : entries.map((entry, i) => `${ctx.out.style.dim(`[${formatTime(entry.createdAt)}]`)} → ${names[i]}: ${bodyText(entry.body)} ${ctx.out.style.dim('⏱')}`),
    );
  },
};

export const outboxSend: CommandSpec = {
  name: 'outbox send',
  args: '',
  summary: 'connect and send what is waiting',
  options: { timeout: { type: 'string', valueName: 'SECONDS', description: 'how long to wait (default 15)' } },
  minArgs: 0,
  maxArgs: 0,
  examples: ['messenger outbox send'],
  json: '{"sent": N, "failed": N, "waiting": N, "retryAfterMs": N|null}',
  async run(ctx) {
    const timeoutMs = ctx.args.seconds('timeout', SEND_TIMEOUT_MS)!;
    let before = 0;
    const failed: string[] = [];
    const { client } = await connect(ctx, {
      prepare: (c) => {
        before = c.pending().length;
        c.on('failed', ({ clientId, error }) => {
          failed.push(clientId);
          ctx.out.warn(`Not sent (${error.code}): ${error.message}`);
        });
        // Rate limited: the messages stay queued and go out after the wait (if it ends in time).
        c.on('send_delayed', ({ retryAt, error }) => {
          const why = error.code === 'rate_limited' ? 'Rate limited' : 'Server busy';
          ctx.out.progress(`${why}: sending again in ${formatWait(retryAt - Date.now())}…`);
        });
      },
    });
    const deadline = Date.now() + timeoutMs;
    while (client.pending().length > 0 && Date.now() < deadline) {
      // A pause that outlasts the timeout is not waited out: say how long it is instead.
      if ((client.sendsDelayedUntil ?? 0) >= deadline) break;
      await sleep(50);
    }
    const waiting = client.pending().length;
    const sent = before - waiting - failed.length;
    const delayedUntil = client.sendsDelayedUntil;
    const retryAfterMs = waiting > 0 && delayedUntil !== undefined ? Math.max(0, delayedUntil - Date.now()) : null;
    ctx.out.result({ sent, failed: failed.length, waiting, retryAfterMs }, () => {
      const parts = [`Sent ${plural(sent, 'message')}`];
      if (failed.length > 0) parts.push(`${failed.length} rejected by the server`);
      if (waiting > 0) parts.push(`${waiting} still waiting${retryAfterMs === null ? '' : ` (rate limited: try again in ${formatWait(retryAfterMs)})`}`);
      return parts.join('; ');
    });
  },
};

export const outboxClear: CommandSpec = {
  name: 'outbox clear',
  args: '',
  summary: 'discard every message waiting to be sent',
  minArgs: 0,
  maxArgs: 0,
  examples: ['messenger outbox clear'],
  json: '{"discarded": N}',
  async run(ctx) {
    const discarded = storeFor(ctx).clear();
    ctx.out.result({ discarded }, () => (discarded === 0 ? 'Nothing was waiting' : `Discarded ${plural(discarded, 'message')}`));
  },
};
