/**
 * The CLI's entry point: find the command, parse its arguments, run it with a context, and turn
 * whatever happens into output and an exit code. Nothing escapes as a stack trace (except with
 * --debug).
 */
import { readFileSync } from 'node:fs';
import { parseCommandArgs, splitCommand } from './args.ts';
import type { ParsedArgs } from './args.ts';
import { COMMAND_GROUPS, canonicalWords, findCommand, isCommandGroup, subcommandWords } from './commands/index.ts';
import { ConfigStore, DEFAULT_SERVER, configDirFrom, normalizeServer } from './config.ts';
import type { CommandContext, CommandSpec, Input } from './context.ts';
import { EXIT, friendlyError, usageError } from './errors.ts';
import type { ExitCode } from './errors.ts';
import { commandHelp, groupHelp, mainHelp } from './help.ts';
import { Output } from './output.ts';
import type { TextStream } from './output.ts';

export interface Io {
  argv: readonly string[];
  stdin: Input;
  stdout: TextStream;
  stderr: TextStream;
  env: NodeJS.ProcessEnv;
  /** Aborted on Ctrl-C / SIGTERM. */
  signal: AbortSignal;
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

type Resolved = { kind: 'command'; spec: CommandSpec; rest: readonly string[] } | { kind: 'text'; text: string };

/** What the command words ask for: a command to run, or a help text to print. */
function resolveCommand(argv: readonly string[], out: Output): Resolved {
  const split = splitCommand(argv, isCommandGroup);
  const { rest } = split;
  const words = canonicalWords(split.words);
  const [first] = words;
  if (first === 'help') {
    const topic = canonicalWords(rest.filter((word) => !word.startsWith('-'))).join(' ');
    if (topic !== '') return helpFor(topic, rest.filter((word) => word.startsWith('-')), out);
  }
  if (first === undefined || first === 'help') {
    const args = parseCommandArgs(rest, { version: { type: 'boolean', description: 'print the version' } }, '');
    return { kind: 'text', text: args.flag('version') ? version() : mainHelp(out.style) };
  }
  const path = words.join(' ');
  if (isCommandGroup(path)) {
    if (rest.includes('--help') || rest.includes('-h')) return { kind: 'text', text: groupHelp(path, out.style) };
    return { kind: 'command', spec: findCommand(`${path} ${COMMAND_GROUPS[path]!.defaultSubcommand}`)!, rest };
  }
  const spec = findCommand(path);
  if (spec !== undefined) return { kind: 'command', spec, rest };
  const parent = words.slice(0, -1).join(' ');
  if (parent !== '' && isCommandGroup(parent)) {
    throw usageError(`Unknown command "${path}"; ${parent} commands: ${subcommandWords(parent).join(', ')}`);
  }
  throw usageError(`Unknown command "${first}" (see \`messenger --help\`)`);
}

/** `messenger help send`, `messenger help groups create`. */
function helpFor(topic: string, rest: readonly string[], out: Output): Resolved {
  if (isCommandGroup(topic)) return { kind: 'text', text: groupHelp(topic, out.style) };
  const spec = findCommand(topic) ?? findCommand(topic.split(' ')[0]!);
  if (spec === undefined) throw usageError(`No help for "${topic}" (see \`messenger --help\`)`);
  parseCommandArgs(rest, spec.options ?? {}, spec.name);
  return { kind: 'text', text: commandHelp(spec, out.style) };
}

function checkArgumentCount(spec: CommandSpec, args: ParsedArgs): void {
  const count = args.positionals.length;
  if (count >= spec.minArgs && count <= spec.maxArgs) return;
  const usage = `messenger ${spec.name}${spec.args === '' ? '' : ` ${spec.args}`}`;
  const problem = count < spec.minArgs ? 'Missing arguments' : `Unexpected argument "${args.positionals[spec.maxArgs]}"`;
  throw usageError(`${problem}; usage: ${usage} (see \`messenger ${spec.name} --help\`)`);
}

/** Resolves with 'interrupted' when the signal aborts (for commands that do not handle it). */
function interruption(signal: AbortSignal): Promise<'interrupted'> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve('interrupted');
    else signal.addEventListener('abort', () => resolve('interrupted'), { once: true });
  });
}

async function runCleanups(cleanups: Array<() => void | Promise<void>>, out: Output): Promise<void> {
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch (error) {
      out.warn(`cleanup failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

/**
 * Run the CLI with `io` and resolve with the exit code.
 *
 * @example
 * const code = await main({ argv: ['whoami', '--json'], stdin, stdout, stderr, env, signal });
 */
export async function main(io: Io): Promise<ExitCode> {
  const debug = io.argv.includes('--debug');
  const out = new Output({ json: io.argv.includes('--json'), stdout: io.stdout, stderr: io.stderr, env: io.env });
  let server = DEFAULT_SERVER;
  const cleanups: Array<() => void | Promise<void>> = [];
  try {
    const resolved = resolveCommand(io.argv, out);
    if (resolved.kind === 'text') {
      out.line(resolved.text);
      return EXIT.ok;
    }
    const { spec } = resolved;
    const args = parseCommandArgs(resolved.rest, spec.options ?? {}, spec.name);
    if (args.flag('help')) {
      out.line(commandHelp(spec, out.style));
      return EXIT.ok;
    }
    checkArgumentCount(spec, args);
    const config = new ConfigStore(configDirFrom(io.env));
    const settings = config.load();
    server = normalizeServer(args.string('server') ?? settings.server ?? io.env.MESSENGER_URL ?? DEFAULT_SERVER);
    const ctx: CommandContext = {
      args,
      out,
      config,
      settings,
      server,
      env: io.env,
      stdin: io.stdin,
      signal: io.signal,
      defer: (cleanup) => cleanups.push(cleanup),
    };
    const outcome = spec.handlesInterrupt ? await spec.run(ctx) : await Promise.race([spec.run(ctx), interruption(io.signal)]);
    if (outcome === 'interrupted') {
      out.error({ code: 'interrupted', message: 'Interrupted', exitCode: EXIT.interrupted });
      return EXIT.interrupted;
    }
    return EXIT.ok;
  } catch (error) {
    const friendly = friendlyError(error, { server });
    out.error(friendly);
    if (debug && error instanceof Error && error.stack !== undefined) io.stderr.write(`${error.stack}\n`);
    return friendly.exitCode;
  } finally {
    await runCleanups(cleanups, out);
  }
}

/** Wait until everything written to `stream` has been handed to the OS. */
function drained(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write('', () => resolve()));
}

/** Runs the CLI in this process (used by bin.mjs) and exits with its code. */
export async function run(): Promise<void> {
  const argv = process.argv.slice(2);
  const debug = argv.includes('--debug');
  const fatal = (error: unknown): void => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`Error: Unexpected error: ${message} (run with --debug for details)\n`);
    if (debug && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    process.exit(EXIT.failure);
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
  // `messenger listen | head -1`: the reader went away, which is not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => process.exit(error.code === 'EPIPE' ? EXIT.ok : EXIT.failure));

  const interrupt = new AbortController();
  const onSignal = (): void => {
    // A second Ctrl-C while the first is being handled: stop at once.
    if (interrupt.signal.aborted) process.exit(EXIT.interrupted);
    interrupt.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const code = await main({ argv, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env, signal: interrupt.signal });
  await Promise.all([drained(process.stdout), drained(process.stderr)]);
  process.exit(code);
}
