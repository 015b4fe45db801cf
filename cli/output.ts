/**
 * Where output goes: results on stdout (human text, or one JSON document with `--json`, JSON
 * lines for streaming commands), progress and notes on stderr, errors as one line on stderr.
 * Colours only on a terminal and never with NO_COLOR or `--json`.
 */
import type { FriendlyError } from './errors.ts';

/** A writable stream as the CLI uses it (process.stdout / process.stderr, or a test double). */
export interface TextStream {
  write(text: string): boolean;
  isTTY?: boolean;
}

const CODES = { bold: [1, 22], dim: [2, 22], red: [31, 39], green: [32, 39], yellow: [33, 39], blue: [34, 39], cyan: [36, 39] } as const;

type StyleName = keyof typeof CODES;

/** ANSI styling that is a no-op when colours are off. */
export type Style = Record<StyleName, (text: string) => string>;

export function makeStyle(enabled: boolean): Style {
  const style = {} as Style;
  for (const [name, [open, close]] of Object.entries(CODES) as Array<[StyleName, readonly [number, number]]>) {
    style[name] = enabled ? (text) => `\u001b[${open}m${text}\u001b[${close}m` : (text) => text;
  }
  return style;
}

export interface OutputOptions {
  json: boolean;
  stdout: TextStream;
  stderr: TextStream;
  env: NodeJS.ProcessEnv;
}

export class Output {
  readonly json: boolean;
  /** Styling for stdout. */
  readonly style: Style;
  /** Styling for stderr. */
  readonly errStyle: Style;
  readonly stdout: TextStream;
  readonly stderr: TextStream;
  /** stderr is a terminal: progress messages are worth showing. */
  readonly showsProgress: boolean;

  constructor(options: OutputOptions) {
    this.json = options.json;
    this.stdout = options.stdout;
    this.stderr = options.stderr;
    const colour = options.env.NO_COLOR === undefined || options.env.NO_COLOR === '';
    this.style = makeStyle(colour && !options.json && options.stdout.isTTY === true);
    this.errStyle = makeStyle(colour && options.stderr.isTTY === true);
    this.showsProgress = options.stderr.isTTY === true;
  }

  /** A command's result: `data` as one JSON document with --json, else the human lines. */
  result(data: unknown, human: () => string | readonly string[]): void {
    if (this.json) {
      this.jsonLine(data);
      return;
    }
    const text = human();
    for (const line of typeof text === 'string' ? [text] : text) this.line(line);
  }

  /** One JSON document on one line (streaming commands print many). */
  jsonLine(value: unknown): void {
    this.stdout.write(`${JSON.stringify(value)}\n`);
  }

  line(text = ''): void {
    this.stdout.write(`${text}\n`);
  }

  /** Something the user should know that is not the result (always shown, on stderr). */
  note(text: string): void {
    this.stderr.write(`${this.errStyle.dim(text)}\n`);
  }

  warn(text: string): void {
    this.stderr.write(`${this.errStyle.yellow('Warning:')} ${text}\n`);
  }

  /** What a long operation is doing; only on a terminal, so scripts see clean stderr. */
  progress(text: string): void {
    if (this.showsProgress) this.stderr.write(`${this.errStyle.dim(text)}\n`);
  }

  /** The one error line (plus `{"error": ...}` on stdout with --json). */
  error(error: FriendlyError): void {
    this.stderr.write(`${this.errStyle.red('Error:')} ${error.message}\n`);
    if (this.json) this.jsonLine({ error: { code: error.code, message: error.message, exitCode: error.exitCode } });
  }
}
