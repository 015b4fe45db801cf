/**
 * The chat's screen: lines printed above an input prompt on a terminal (with ticks updated in
 * place and a "typing…" indicator in the prompt), or plain lines when stdin or stdout is not a
 * terminal.
 */
import { clearScreenDown, createInterface, cursorTo, moveCursor } from 'node:readline';
import type { Interface } from 'node:readline';
import type { Input } from '../context.ts';
import type { Style } from '../output.ts';

/** Refers to a printed line so it can be updated later. */
export interface LineHandle {
  readonly id: number;
}

export interface InputHandlers {
  /** The user entered a line. */
  line(text: string): void;
  /** A key was pressed while editing (terminal only): the user is typing. */
  keypress(): void;
  /** Input ended: Ctrl-D, Ctrl-C, or the end of piped stdin. */
  end(): void;
}

export interface ChatScreen {
  /** Print a line (above the prompt on a terminal). */
  print(text: string): LineHandle;
  /** Replace a printed line in place when it is still on screen, else print `fallback`. */
  update(handle: LineHandle, text: string, fallback: string): void;
  /** Show who is typing; null hides it. */
  setTyping(text: string | null): void;
  start(handlers: InputHandlers): void;
  close(): void;
}

export type Output = NodeJS.WritableStream & { columns?: number; rows?: number; on(event: 'resize', listener: () => void): unknown };

const ESC = String.fromCharCode(0x1b);
const ANSI = new RegExp(`${ESC}\\[[0-9;?]*[A-Za-z]`, 'g');

function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  );
}

/** Columns `text` takes on a terminal (ANSI codes take none, East Asian wide characters two). */
export function displayWidth(text: string): number {
  let width = 0;
  for (const ch of text.replace(ANSI, '')) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x20 || (cp >= 0x300 && cp < 0x370) || cp === 0x200d || (cp >= 0xfe00 && cp <= 0xfe0f)) continue;
    width += isWide(cp) ? 2 : 1;
  }
  return width;
}

/** Terminal rows `text` (maybe several lines) takes at `columns` columns. */
export function rowsOf(text: string, columns: number): number {
  return text.split('\n').reduce((sum, line) => sum + Math.max(1, Math.ceil(displayWidth(line) / columns)), 0);
}

const PROMPT = '> ';
/** Printed lines remembered for in-place updates. */
const REMEMBERED_LINES = 500;

/** Lines above a readline prompt; updates in place while the line is visible. */
export class TerminalScreen implements ChatScreen {
  private readonly input: Input;
  private readonly output: Output;
  private readonly style: Style;
  private rl: Interface | undefined;
  private lines: Array<{ id: number; rows: number }> = [];
  private nextId = 1;
  private prompt = PROMPT;

  constructor(input: Input, output: Output, style: Style) {
    this.input = input;
    this.output = output;
    this.style = style;
  }

  private get columns(): number {
    return this.output.columns !== undefined && this.output.columns > 0 ? this.output.columns : Number.POSITIVE_INFINITY;
  }

  print(text: string): LineHandle {
    const rl = this.rl;
    if (rl === undefined) {
      this.output.write(`${text}\n`);
    } else {
      const { rows } = rl.getCursorPos();
      moveCursor(this.output, 0, -rows);
      cursorTo(this.output, 0);
      clearScreenDown(this.output);
      // readline redraws the prompt by first moving up as many rows as the cursor was below the
      // prompt's start: give it those rows back so it lands right below the new line.
      this.output.write(`${text}\n${'\n'.repeat(rows)}`);
      rl.prompt(true);
    }
    const handle = { id: this.nextId++ };
    this.lines.push({ id: handle.id, rows: rowsOf(text, this.columns) });
    if (this.lines.length > REMEMBERED_LINES) this.lines.splice(0, this.lines.length - REMEMBERED_LINES);
    return handle;
  }

  update(handle: LineHandle, text: string, fallback: string): void {
    const rl = this.rl;
    const index = this.lines.findIndex((line) => line.id === handle.id);
    if (rl === undefined || index < 0 || this.lines[index]!.rows !== 1 || rowsOf(text, this.columns) !== 1) {
      this.print(fallback);
      return;
    }
    const cursor = rl.getCursorPos();
    let distance = cursor.rows;
    for (let i = index; i < this.lines.length; i++) distance += this.lines[i]!.rows;
    const height = this.output.rows !== undefined && this.output.rows > 0 ? this.output.rows : 24;
    if (distance >= height) {
      this.print(fallback);
      return;
    }
    moveCursor(this.output, 0, -distance);
    cursorTo(this.output, 0);
    this.output.write(`${text}\u001b[K`);
    moveCursor(this.output, 0, distance);
    cursorTo(this.output, cursor.cols);
  }

  setTyping(text: string | null): void {
    this.prompt = text === null ? PROMPT : `${this.style.dim(text)} ${PROMPT}`;
    const rl = this.rl;
    if (rl === undefined) return;
    rl.setPrompt(this.prompt);
    rl.prompt(true);
  }

  start(handlers: InputHandlers): void {
    const rl = createInterface({ input: this.input, output: this.output, terminal: true, prompt: this.prompt, historySize: 200 });
    this.rl = rl;
    rl.on('line', (line) => {
      this.eraseEchoedInput(line);
      handlers.line(line);
      // After anything the line caused (printing, or leaving the chat), unless the chat ended.
      setImmediate(() => {
        if (this.rl === rl) rl.prompt(true);
      });
    });
    rl.on('SIGINT', () => rl.close());
    rl.on('close', () => {
      this.rl = undefined;
      this.output.write('\n');
      handlers.end();
    });
    this.input.on('keypress', (_text: string, key: { name?: string; ctrl?: boolean } | undefined) => {
      if (key?.name === 'return' || key?.name === 'enter' || key?.ctrl === true) return;
      handlers.keypress();
    });
    // Rows of earlier lines change with the width: stop updating them in place.
    this.output.on('resize', () => {
      this.lines = [];
    });
    rl.prompt();
  }

  close(): void {
    const rl = this.rl;
    this.rl = undefined;
    rl?.close();
  }

  /** Readline leaves the entered line on screen; the chat prints it formatted instead. */
  private eraseEchoedInput(line: string): void {
    moveCursor(this.output, 0, -rowsOf(this.prompt + line, this.columns));
    cursorTo(this.output, 0);
    clearScreenDown(this.output);
  }
}

/** One line per event, for pipes and dumb terminals. */
export class PlainScreen implements ChatScreen {
  private readonly input: Input;
  private readonly output: NodeJS.WritableStream;
  private readonly style: Style;
  private typing: string | null = null;
  private nextId = 1;
  private rl: Interface | undefined;

  constructor(input: Input, output: NodeJS.WritableStream, style: Style) {
    this.input = input;
    this.output = output;
    this.style = style;
  }

  print(text: string): LineHandle {
    this.output.write(`${text}\n`);
    return { id: this.nextId++ };
  }

  update(_handle: LineHandle, _text: string, fallback: string): void {
    this.print(fallback);
  }

  setTyping(text: string | null): void {
    if (text !== null && text !== this.typing) this.print(this.style.dim(text));
    this.typing = text;
  }

  start(handlers: InputHandlers): void {
    const rl = createInterface({ input: this.input, terminal: false });
    this.rl = rl;
    rl.on('line', (line) => handlers.line(line));
    rl.on('close', () => handlers.end());
  }

  close(): void {
    this.rl?.close();
    this.rl = undefined;
  }
}
