/**
 * `outbox`: messages and message actions (reactions, edits, …) this login sent that the server
 * has not confirmed yet. They are resent (with the same ids, so never twice) whenever a
 * messenger command connects.
 */
import { join } from 'node:path';
import type { MessengerApi, MessengerClient, MessengerError, OutboxRecord } from '../../client/index.ts';
import type { CommandContext, CommandSpec } from '../context.ts';
import { actionText, bodyText, formatTime, formatWait, plural } from '../format.ts';
import { Directory, knownGroupTitle, shortId } from '../resolve.ts';
import { connect, currentSession, sessionApi } from '../session.ts';
import { DirectoryOutboxStore } from '../stores.ts';
import { sleep } from '../wait.ts';
import { SEND_TIMEOUT_MS } from './messages.ts';

function storeFor(ctx: CommandContext): DirectoryOutboxStore {
  return new DirectoryOutboxStore(join(ctx.config.deviceDir(currentSession(ctx).deviceId), 'outbox'));
}

/** A stored message action (react, edit, delete, star), as opposed to a send. */
type ActionRecord = Extract<OutboxRecord, { action: unknown }>;

function isAction(record: OutboxRecord): record is ActionRecord {
  return 'action' in record;
}

function entryJson(record: OutboxRecord): Record<string, unknown> {
  if (isAction(record)) return { clientId: record.clientId, chat: record.chat, target: record.target, action: record.action, createdAt: record.createdAt };
  const refs = { ...(record.replyTo === undefined ? {} : { replyTo: record.replyTo }), ...(record.forward === undefined ? {} : { forward: record.forward }) };
  return { clientId: record.clientId, to: record.to ?? null, group: record.group ?? null, body: record.body, createdAt: record.createdAt, ...refs };
}

/** "Bob", or `"Climbing"` for a group (the last title this device saw). */
async function recipientName(api: MessengerApi, directory: Directory, to: { peer?: string | undefined; group?: string | undefined }): Promise<string> {
  if (to.peer !== undefined) return directory.name(to.peer).catch(() => shortId(to.peer!));
  return `"${knownGroupTitle(api, to.group!) ?? `group ${to.group!.slice(-6)}`}"`;
}

/** What a stored record will do: the message text, or the action on which message. */
function recordText(record: OutboxRecord): string {
  if (isAction(record)) return `${actionText(record.action)} (message ${record.target})`;
  const what = record.replyTo !== undefined ? `↪ reply to ${record.replyTo}: ` : record.forward !== undefined ? 'Forwarded: ' : '';
  return `${what}${bodyText(record.body)}`;
}

export const outboxList: CommandSpec = {
  name: 'outbox list',
  args: '',
  summary: 'messages and message actions waiting to be sent',
  minArgs: 0,
  maxArgs: 0,
  examples: ['messenger outbox'],
  json: '{"messages": [{"clientId","to","group","body","createdAt"} (and "replyTo"/"forward") | {"clientId","chat","target","action","createdAt"}]}',
  async run(ctx) {
    const entries = storeFor(ctx).load();
    const names: string[] = [];
    if (!ctx.out.json && entries.length > 0) {
      const { api, session } = sessionApi(ctx);
      const directory = new Directory(api, session.userId);
      for (const entry of entries) {
        const to = isAction(entry) ? (entry.chat.kind === 'direct' ? { peer: entry.chat.peer } : { group: entry.chat.group }) : { peer: entry.to, group: entry.group };
        names.push(await recipientName(api, directory, to));
      }
    }
    ctx.out.result({ messages: entries.map(entryJson) }, () =>
      entries.length === 0
        ? 'Nothing waiting to be sent'
        : entries.map((entry, i) => `${ctx.out.style.dim(`[${formatTime(entry.createdAt)}]`)} → ${names[i]}: ${recordText(entry)} ${ctx.out.style.dim('⏱')}`),
    );
  },
};

export const outboxSend: CommandSpec = {
  name: 'outbox send',
  args: '',
  summary: 'connect and send what is waiting (messages and message actions)',
  options: { timeout: { type: 'string', valueName: 'SECONDS', description: 'how long to wait (default 15)' } },
  minArgs: 0,
  maxArgs: 0,
  examples: ['messenger outbox send'],
  json: '{"sent": N, "failed": N, "waiting": N, "retryAfterMs": N|null}',
  async run(ctx) {
    const timeoutMs = ctx.args.seconds('timeout', SEND_TIMEOUT_MS)!;
    let before = 0;
    const failed: string[] = [];
    const waitingNow = (c: MessengerClient): number => c.pending().length + c.pendingActions().length;
    const { client } = await connect(ctx, {
      prepare: (c) => {
        before = waitingNow(c);
        const onFailed = ({ clientId, error }: { clientId: string; error: MessengerError }): void => {
          failed.push(clientId);
          ctx.out.warn(`Not sent (${error.code}): ${error.message}`);
        };
        c.on('failed', onFailed);
        c.on('action_failed', onFailed);
        // Rate limited: the messages stay queued and go out after the wait (if it ends in time).
        const onDelayed = ({ retryAt, error }: { retryAt: number; error: MessengerError }): void => {
          const why = error.code === 'rate_limited' ? 'Rate limited' : 'Server busy';
          ctx.out.progress(`${why}: sending again in ${formatWait(retryAt - Date.now())}…`);
        };
        c.on('send_delayed', onDelayed);
        c.on('action_delayed', onDelayed);
      },
    });
    const deadline = Date.now() + timeoutMs;
    while (waitingNow(client) > 0 && Date.now() < deadline) {
      // A pause that outlasts the timeout is not waited out: say how long it is instead.
      if ((client.sendsDelayedUntil ?? 0) >= deadline) break;
      await sleep(50);
    }
    const waiting = waitingNow(client);
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
