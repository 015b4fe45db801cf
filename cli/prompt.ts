/**
 * Asking the user on the terminal: a code (shown as typed) or a PIN (not echoed). Commands ask
 * only when stdin is a terminal; scripts pass the values as options instead.
 */
import { Writable } from 'node:stream';
import { createInterface } from 'node:readline/promises';
import type { CommandContext } from './context.ts';

/** Whether the user can be asked (stdin is a terminal). */
export function canPrompt(ctx: CommandContext): boolean {
  return ctx.stdin.isTTY === true;
}

/** Ask on stderr and read one line (trimmed). */
export async function ask(ctx: CommandContext, question: string): Promise<string> {
  const prompt = createInterface({ input: ctx.stdin, output: process.stderr, terminal: true });
  try {
    return (await prompt.question(question, { signal: ctx.signal })).trim();
  } finally {
    prompt.close();
  }
}

/** Ask on stderr and read one line without echoing what is typed (PINs). */
export async function askSecret(ctx: CommandContext, question: string): Promise<string> {
  // readline echoes through its output stream: give it one that swallows everything.
  const silent = new Writable({
    write(_chunk, _encoding, done) {
      done();
    },
  });
  process.stderr.write(question);
  const prompt = createInterface({ input: ctx.stdin, output: silent, terminal: true });
  try {
    return (await prompt.question('', { signal: ctx.signal })).trim();
  } finally {
    prompt.close();
    process.stderr.write('\n');
  }
}
