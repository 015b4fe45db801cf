/**
 * What every command gets (parsed arguments, output, config, the server, the terminal) and what
 * every command is (its name, arguments, options, help, and `run`).
 */
import type { ParsedArgs, OptionSpecs } from './args.ts';
import type { Config, ConfigStore } from './config.ts';
import type { Output } from './output.ts';

/** The terminal side of stdin as the CLI uses it. */
export type Input = NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };

export interface CommandContext {
  args: ParsedArgs;
  out: Output;
  config: ConfigStore;
  /** config.json as it was when the command started. */
  settings: Config;
  /** Server origin, without a trailing slash. */
  server: string;
  env: NodeJS.ProcessEnv;
  stdin: Input;
  /** Aborted on Ctrl-C / SIGTERM. */
  signal: AbortSignal;
  /** Run `cleanup` when the command ends, however it ends (last registered runs first). */
  defer(cleanup: () => void | Promise<void>): void;
}

export interface CommandSpec {
  /** `send`, or `groups create` for a subcommand. */
  name: string;
  /** Positional arguments as shown in usage, e.g. `<peer> <text...>`. */
  args: string;
  /** One line for the command list. */
  summary: string;
  /** More lines for `--help` (optional). */
  details?: readonly string[];
  options?: OptionSpecs;
  minArgs: number;
  /** Most positional arguments (Infinity for "the rest of the line"). */
  maxArgs: number;
  examples: readonly string[];
  /** What `--json` prints, for `--help`. */
  json?: string;
  /** Ends by itself on Ctrl-C (chat, listen); other commands are cut short with exit code 130. */
  handlesInterrupt?: boolean;
  run(ctx: CommandContext): Promise<void>;
}
