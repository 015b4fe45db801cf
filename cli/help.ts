/**
 * `--help` texts, generated from the command specs so they cannot drift from what is parsed.
 */
import { GLOBAL_OPTIONS } from './args.ts';
import type { OptionSpecs } from './args.ts';
import { COMMAND_GROUPS, SECTIONS, commandsOfGroup } from './commands/index.ts';
import type { CommandSpec } from './context.ts';
import type { Style } from './output.ts';

function optionLines(options: OptionSpecs): string[] {
  const rows = Object.entries(options).map(([name, spec]) => {
    const short = spec.short === undefined ? '    ' : `-${spec.short}, `;
    const value = spec.type === 'string' ? ` ${spec.valueName ?? 'VALUE'}` : '';
    return { left: `  ${short}--${name}${value}`, right: spec.description };
  });
  const width = Math.max(...rows.map((row) => row.left.length)) + 2;
  return rows.map((row) => `${row.left.padEnd(width)}${row.right}`);
}

function usageLine(spec: CommandSpec): string {
  return `messenger ${spec.name}${spec.args === '' ? '' : ` ${spec.args}`} [options]`;
}

export function commandHelp(spec: CommandSpec, style: Style): string {
  const lines = [`${style.bold('Usage:')} ${usageLine(spec)}`, '', `${spec.summary[0]!.toUpperCase()}${spec.summary.slice(1)}.`];
  if (spec.details !== undefined) lines.push('', ...spec.details);
  if (spec.options !== undefined && Object.keys(spec.options).length > 0) lines.push('', style.bold('Options:'), ...optionLines(spec.options));
  lines.push('', style.bold('Global options:'), ...optionLines(GLOBAL_OPTIONS));
  if (spec.json !== undefined) lines.push('', `${style.bold('--json prints:')} ${spec.json}`);
  lines.push('', style.bold('Examples:'), ...spec.examples.map((example) => `  ${example}`));
  return lines.join('\n');
}

function commandRows(commands: readonly CommandSpec[]): string[] {
  const rows = commands.map((c) => ({ left: `  ${c.name}${c.args === '' ? '' : ` ${c.args}`}`, right: c.summary }));
  const width = Math.min(44, Math.max(...rows.map((row) => row.left.length)) + 2);
  return rows.map((row) => (row.left.length >= width ? `${row.left}\n${' '.repeat(width)}${row.right}` : `${row.left.padEnd(width)}${row.right}`));
}

export function groupHelp(group: string, style: Style): string {
  const info = COMMAND_GROUPS[group]!;
  return [
    `${style.bold('Usage:')} messenger ${group} <command> [options]   (${info.summary}; without a command: ${group} ${info.defaultSubcommand})`,
    '',
    ...commandRows(commandsOfGroup(group)),
    '',
    `Run \`messenger ${group} <command> --help\` for details.`,
  ].join('\n');
}

export function mainHelp(style: Style): string {
  const lines = [
    `${style.bold('messenger')} — the edge-messenger command-line client`,
    '',
    `${style.bold('Usage:')} messenger <command> [arguments] [options]`,
    '',
    'A <peer> is a phone number (+4915112345678), a user id, or a name as `messenger chats` shows it',
    '(a contact or someone you chat with);',
    'a <group> is a group title (or the start of one) or its id; a <chat> is either;',
    'a <message> is a message id (`messenger history <chat> --ids`) or last, last-1, ….',
  ];
  for (const section of SECTIONS) lines.push('', style.bold(`${section.title}:`), ...commandRows(section.commands));
  lines.push(
    '',
    style.bold('Global options:'),
    ...optionLines(GLOBAL_OPTIONS),
    '',
    style.bold('Configuration:'),
    '  $XDG_CONFIG_HOME/edge-messenger/config.json (default ~/.config/edge-messenger/), or $MESSENGER_CONFIG_DIR;',
    '  $MESSENGER_URL sets the server when you are not logged in; NO_COLOR turns colours off.',
    '',
    'Exit codes: 0 ok, 1 unexpected error, 2 bad arguments, 3 not logged in / auth, 4 not found,',
    '5 refused by the server, 6 server unreachable or timed out, 130 interrupted. See docs/CLI.md.',
    '',
    'Run `messenger <command> --help` for details.',
  );
  return lines.join('\n');
}
