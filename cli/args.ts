/**
 * Command-line parsing on top of `node:util` parseArgs: find the command words (`send`,
 * `groups create`), then parse the rest strictly against the global and the command's options.
 */
import { parseArgs } from 'node:util';
import { usageError } from './errors.ts';

/** One option of a command (or a global one). */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** Placeholder shown in help, e.g. `N` for `--limit N`. */
  valueName?: string;
  description: string;
}

export type OptionSpecs = Record<string, OptionSpec>;

/** Options every command accepts. */
export const GLOBAL_OPTIONS = {
  server: { type: 'string', valueName: 'URL', description: 'server to use (default: the one you logged in to, else $MESSENGER_URL, else http://127.0.0.1:8787)' },
  json: { type: 'boolean', description: 'machine-readable output: one JSON document (JSON lines for chat and listen)' },
  help: { type: 'boolean', short: 'h', description: 'show help' },
  debug: { type: 'boolean', description: 'show stack traces of unexpected errors' },
} as const satisfies OptionSpecs;

type OptionValue = string | boolean | Array<string | boolean> | undefined;

/** The command words and everything else, in order. */
export interface SplitArgv {
  /** e.g. `['groups', 'create']`; empty when no command was given. */
  words: string[];
  rest: string[];
}

/**
 * Take the command words out of argv: the command, and a subcommand word after each word that
 * takes one (`groups link create`). Global options may come before the command; only those
 * taking a value consume the next token.
 *
 * @example
 * splitCommand(['--json', 'groups', 'list'], new Set(['groups'])) // { words: ['groups', 'list'], rest: ['--json'] }
 */
export function splitCommand(argv: readonly string[], hasSubcommands: (word: string) => boolean): SplitArgv {
  const takesValue = new Set(
    Object.entries(GLOBAL_OPTIONS)
      .filter(([, spec]) => spec.type === 'string')
      .map(([name]) => `--${name}`),
  );
  const words: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    const wanted = words.length === 0 || hasSubcommands(words.join(' '));
    if (token === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (token.startsWith('-') && token !== '-') {
      rest.push(token);
      if (takesValue.has(token) && i + 1 < argv.length) rest.push(argv[++i]!);
      continue;
    }
    if (wanted) words.push(token);
    else rest.push(token);
  }
  return { words, rest };
}

/** Parsed options and positionals of one command, with typed accessors. */
export class ParsedArgs {
  readonly positionals: readonly string[];
  private readonly values: Record<string, OptionValue>;

  constructor(positionals: readonly string[], values: Record<string, OptionValue>) {
    this.positionals = positionals;
    this.values = values;
  }

  flag(name: string): boolean {
    return this.values[name] === true;
  }

  string(name: string): string | undefined {
    const value = this.values[name];
    return typeof value === 'string' ? value : undefined;
  }

  /** A positive whole number option within bounds, or `fallback` when absent. */
  integer(name: string, bounds: { min: number; max: number }, fallback?: number): number | undefined {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^[0-9]+$/.test(raw) || value < bounds.min || value > bounds.max) {
      throw usageError(`--${name} must be a whole number from ${bounds.min} to ${bounds.max}, not ${JSON.stringify(raw)}`);
    }
    return value;
  }

  /** A duration option in seconds (fractions allowed), as milliseconds. */
  seconds(name: string, fallbackMs?: number): number | undefined {
    const raw = this.string(name);
    if (raw === undefined) return fallbackMs;
    const value = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(value) || value <= 0 || value > 86_400) {
      throw usageError(`--${name} must be a number of seconds greater than 0, not ${JSON.stringify(raw)}`);
    }
    return Math.round(value * 1000);
  }
}

function optionName(message: string): string {
  return /'(-[^' ]+)/.exec(message)?.[1] ?? 'an option';
}

/**
 * Parse `args` strictly against the global options plus `options`.
 *
 * @example
 * parseCommandArgs(['bob', '--limit', '5'], { limit: { type: 'string', description: '' } }, 'history')
 */
export function parseCommandArgs(args: readonly string[], options: OptionSpecs, commandName: string): ParsedArgs {
  const all: OptionSpecs = { ...GLOBAL_OPTIONS, ...options };
  const config: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, spec] of Object.entries(all)) {
    config[name] = { type: spec.type, ...(spec.short === undefined ? {} : { short: spec.short }), ...(spec.multiple ? { multiple: true } : {}) };
  }
  const help = commandName === '' ? '`messenger --help`' : `\`messenger ${commandName} --help\``;
  try {
    const parsed = parseArgs({ args: [...args], options: config, allowPositionals: true, strict: true });
    return new ParsedArgs(parsed.positionals, parsed.values as Record<string, OptionValue>);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const message = error instanceof Error ? error.message : String(error);
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw usageError(`Unknown option ${optionName(message)} (see ${help})`);
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') throw usageError(`Option ${optionName(message)} needs a value (see ${help})`);
    throw usageError(`${message.split('\n')[0]} (see ${help})`);
  }
}
