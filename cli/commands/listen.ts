/**
 * `listen`: print everything that arrives, for people or (with --json) for scripts. Resumes from
 * its own saved cursor, so consecutive runs see every event once.
 */
import type { MessengerClient } from '../../client/index.ts';
import type { CommandContext, CommandSpec } from '../context.ts';
import { EventDescriber, GroupTitles } from '../describe.ts';
import { CliError, EXIT } from '../errors.ts';
import { plural } from '../format.ts';
import { Directory } from '../resolve.ts';
import { connect, currentSession, holdSessionLock, keepConnected } from '../session.ts';
import { Serial, subscribeEvents } from '../stream.ts';
import type { StreamEvent } from '../stream.ts';
import { deferred, waitUntil } from '../wait.ts';

/** A message someone else sent you (what --count counts). */
function isIncomingMessage(event: StreamEvent): boolean {
  if (event.type === 'group_log_entry') return event.entry.type === 'message' && !event.own;
  return (event.type === 'message' || event.type === 'group_message') && !event.own;
}

/** Progress notes about the connection on stderr (terminal only). */
function reportConnection(ctx: CommandContext, client: MessengerClient): void {
  let lost = false;
  client.on('state', ({ state }) => {
    if (state === 'reconnecting' && !lost) {
      lost = true;
      ctx.out.progress('Connection lost; reconnecting…');
    } else if (state === 'open' && lost) {
      lost = false;
      ctx.out.progress('Reconnected');
    }
  });
}

export const listen: CommandSpec = {
  name: 'listen',
  handlesInterrupt: true,
  args: '',
  summary: 'print incoming messages, receipts, reactions, edits and group events as they arrive',
  details: [
    'Continues where the previous `listen` stopped: events that arrived in between are printed',
    'first, and none is printed twice. With --json every event is one JSON line in the',
    "protocol's shape (message, receipt, group_message, group_event, message_update, typing_notice, ...).",
    'A large group\'s entries after its switch to read diffusion come as group_log_entry lines',
    '({"type":"group_log_entry","group","gseq","entry","own"}; entry: a message, event or update).',
    'Stops on Ctrl-C, after --count messages, or after --timeout seconds.',
  ],
  options: {
    count: { type: 'string', valueName: 'N', description: 'stop after N messages from others' },
    timeout: { type: 'string', valueName: 'SECONDS', description: 'stop after this long (exit 6 if --count was not reached)' },
  },
  minArgs: 0,
  maxArgs: 0,
  examples: ['messenger listen', 'messenger listen --json | jq .', 'messenger listen --json --count 1 --timeout 60'],
  json: 'one event per line: {"type":"message","seq","message","own"} | {"type":"receipt",...} | {"type":"group_message",...} | {"type":"group_log_entry","group","gseq","entry","own"} | ...',
  async run(ctx) {
    const count = ctx.args.integer('count', { min: 1, max: Number.MAX_SAFE_INTEGER });
    const timeoutMs = ctx.args.seconds('timeout');
    const session = currentSession(ctx);
    holdSessionLock(ctx, session, 'listen');
    const serial = new Serial((error) => ctx.out.warn(error instanceof Error ? error.message : String(error)));
    const finished = deferred<void>();
    let received = 0;
    const onEvent = (event: StreamEvent, describer: EventDescriber): void => {
      if (ctx.out.json) {
        ctx.out.jsonLine(event);
      } else {
        serial.run(async () => {
          const line = await describer.line(event);
          if (line !== null) ctx.out.line(line);
        });
      }
      if (isIncomingMessage(event)) {
        received += 1;
        if (count !== undefined && received >= count) finished.resolve();
      }
    };
    const { client } = await connect(ctx, {
      savedCursor: true,
      prepare: (client) => {
        const describer = new EventDescriber(new Directory(client.api, session.userId), new GroupTitles(client.api), ctx.out.style, session.userId);
        subscribeEvents(client, (event) => onEvent(event, describer));
      },
    });
    reportConnection(ctx, client);
    const stopKeeping = keepConnected(client, {
      delayMs: 2_000,
      maxDelayMs: 15_000,
      onTakenOver: (delay) => ctx.out.note(`Another messenger command is using this login; listening again in ${Math.round(delay / 1000)} s`),
      onClosed: (error) => finished.reject(error),
    });
    ctx.out.progress('Listening… (Ctrl-C to stop)');
    try {
      const reason = await waitUntil(finished.promise, { signal: ctx.signal, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
      await serial.idle();
      if (reason === 'timeout' && count !== undefined) {
        throw new CliError('timeout', `Only ${plural(received, 'message')} of ${count} arrived within ${timeoutMs! / 1000} s`, EXIT.unavailable);
      }
    } finally {
      stopKeeping();
    }
  },
};
