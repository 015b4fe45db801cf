/**
 * Media from the command line: `send --file` / `groups send --file` (upload with a progress
 * line, then the message naming it) and `download MEDIA_ID` (bytes to a file, checked against
 * the SHA-256 the server recorded).
 */
import { createHash } from 'node:crypto';
import { openAsBlob } from 'node:fs';
import { open, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MediaApi } from '../../client/index.ts';
import type { MessageBody, MessengerClient, SendAck, UploadedMedia } from '../../client/index.ts';
import { MAX_CAPTION_LENGTH, MediaIdSchema } from '../../protocol/index.ts';
import { REQUEST_TIMEOUT_MS, commandKeeper } from '../auth.ts';
import type { CommandContext, CommandSpec } from '../context.ts';
import { CliError, EXIT, usageError } from '../errors.ts';
import { formatBytes } from '../format.ts';
import { ProgressLine, checkFileSize, chooseFileKind, extensionForMime, imageDimensions, kindWord } from '../media.ts';
import type { FileChoice } from '../media.ts';
import { connect, currentSession } from '../session.ts';
import { sendAndConfirm } from './messages.ts';

/** How much of a file is read for its image dimensions. */
const HEADER_BYTES = 64 * 1024;

/** The media API of the logged-in session (no WebSocket needed). */
function mediaApi(ctx: CommandContext): MediaApi {
  return new MediaApi({ baseUrl: ctx.server, timeoutMs: REQUEST_TIMEOUT_MS, tokens: commandKeeper(ctx, currentSession(ctx)) });
}

function fileError(path: string, error: unknown): CliError {
  const code = (error as { code?: unknown }).code;
  if (code === 'ENOENT') return new CliError('file_not_found', `No such file: ${path}`, EXIT.usage);
  if (code === 'EACCES' || code === 'EPERM') return new CliError('file_unreadable', `Cannot read ${path}: permission denied`, EXIT.usage);
  if (code === 'EISDIR') return new CliError('file_unreadable', `${path} is a folder, not a file`, EXIT.usage);
  return new CliError('file_unreadable', `Cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`, EXIT.usage);
}

/** The size of the file at `path`; friendly errors for missing files and folders. */
async function fileSize(path: string): Promise<number> {
  try {
    const info = await stat(path);
    if (info.isDirectory()) throw Object.assign(new Error('is a folder'), { code: 'EISDIR' });
    return info.size;
  } catch (error) {
    throw fileError(path, error);
  }
}

/** The first bytes of a file (for image dimensions). */
async function readHead(path: string, size: number): Promise<Uint8Array> {
  const handle = await open(path, 'r');
  try {
    const buffer = new Uint8Array(Math.min(size, HEADER_BYTES));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** A file checked and ready to upload: how it is sent, its size, and the caption. */
export interface PreparedFile {
  path: string;
  choice: FileChoice;
  size: number;
  caption: string | undefined;
}

/**
 * Check `--file` (and `--caption`, `--voice`) before anything goes to the server: the file exists,
 * its kind, and its size within the kind's limit. Null without --file.
 */
export async function prepareFile(ctx: CommandContext, words: readonly string[]): Promise<PreparedFile | null> {
  const path = ctx.args.string('file');
  const caption = ctx.args.string('caption');
  if (path === undefined) {
    if (caption !== undefined || ctx.args.flag('voice')) throw usageError('--caption and --voice go with --file PATH');
    return null;
  }
  if (words.length > 0) throw usageError(`With --file, put the text in --caption "…" (unexpected "${words[0]}")`);
  if (caption !== undefined && caption.length > MAX_CAPTION_LENGTH) {
    throw usageError(`The caption is too long (${caption.length} characters; at most ${MAX_CAPTION_LENGTH})`);
  }
  const choice = chooseFileKind(path, { voice: ctx.args.flag('voice') });
  const size = await fileSize(path);
  checkFileSize(choice, size);
  return { path, choice, size, caption: caption === undefined || caption.trim() === '' ? undefined : caption };
}

/** Upload `file` with a progress line on a terminal. */
async function uploadFile(ctx: CommandContext, file: PreparedFile): Promise<UploadedMedia> {
  let blob: Blob;
  try {
    blob = await openAsBlob(file.path);
  } catch (error) {
    throw fileError(file.path, error);
  }
  const progress = new ProgressLine(ctx.out, `Uploading ${file.choice.fileName}`);
  progress.update(0, file.size);
  try {
    return await mediaApi(ctx).upload(blob, {
      kind: file.choice.kind,
      mime: file.choice.mime,
      signal: ctx.signal,
      onProgress: ({ sent, total }) => progress.update(sent, total),
    });
  } finally {
    progress.end();
  }
}

/** The message body naming an uploaded file. */
async function mediaBody(file: PreparedFile, uploaded: UploadedMedia): Promise<MessageBody> {
  const media = { id: uploaded.mediaId, mime: uploaded.mime, size: uploaded.size };
  const caption = file.caption === undefined ? {} : { caption: file.caption };
  switch (file.choice.kind) {
    case 'image': {
      const size = imageDimensions(await readHead(file.path, file.size).catch(() => new Uint8Array()));
      return { kind: 'image', media, ...caption, ...(size === null || size.width > 20_000 || size.height > 20_000 ? {} : size) };
    }
    case 'video':
      return { kind: 'video', media, ...caption };
    case 'voice':
      return { kind: 'voice', media, ...caption };
    case 'document':
      return { kind: 'document', media, ...caption, fileName: file.choice.fileName.slice(0, 255) };
  }
}

/** What `send --file` prints with --json, beyond the send ack. */
export interface SentFile {
  mediaId: string;
  kind: string;
  mime: string;
  size: number;
  /** True when the server had these bytes from you already: nothing was uploaded. */
  deduplicated: boolean;
}

/**
 * Upload `file`, then send the message naming it through `send` (a peer or a group) and wait for
 * the server's ack, as text sends do.
 */
export async function sendFile<A extends SendAck>(
  ctx: CommandContext,
  file: PreparedFile,
  send: (client: MessengerClient, body: MessageBody, clientId: string | undefined) => { clientId: string; sent: Promise<A> },
): Promise<{ ack: A; sentFile: SentFile; text: string }> {
  const uploaded = await uploadFile(ctx, file);
  const body = await mediaBody(file, uploaded);
  const { client } = await connect(ctx);
  const clientId = ctx.args.string('id');
  const ack = await sendAndConfirm(ctx, client, (c) => send(c, body, clientId));
  const sentFile: SentFile = { mediaId: uploaded.mediaId, kind: body.kind, mime: uploaded.mime, size: uploaded.size, deduplicated: uploaded.deduplicated };
  const text = `${kindWord(file.choice.kind)} ${file.choice.fileName} (${formatBytes(file.size)})`;
  return { ack, sentFile, text };
}

/** Where a download goes: -o PATH (a folder gets the default name inside), else ./<id>.<ext>. */
async function targetPath(ctx: CommandContext, mediaId: string, mime: string): Promise<string> {
  const name = `${mediaId}.${extensionForMime(mime)}`;
  const output = ctx.args.string('output');
  if (output === undefined) return name;
  const info = await stat(output).catch(() => null);
  return info?.isDirectory() ? join(output, name) : output;
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null)) !== null;
}

export const download: CommandSpec = {
  name: 'download',
  args: '<media-id>',
  summary: 'save a photo, video, voice message or file someone sent you',
  details: [
    '<media-id> is the id after "media" in a message, e.g. `[photo 1.2 MB] (media 01KD…)`.',
    'Saved as ./<media-id>.<ext> unless -o names a file or a folder; an existing file is never',
    'replaced without --force. Prints the path and the SHA-256 of the bytes (checked against the',
    "server's record). Progress is shown on a terminal.",
  ],
  options: {
    output: { type: 'string', short: 'o', valueName: 'PATH', description: 'file (or folder) to save to' },
    force: { type: 'boolean', description: 'replace the file if it exists' },
  },
  minArgs: 1,
  maxArgs: 1,
  examples: ['messenger download 01KDM4ZQ7X3N9V2B8C6D5E4F3G', 'messenger download 01KDM4ZQ7X3N9V2B8C6D5E4F3G -o ~/Pictures/'],
  json: '{"mediaId","path","kind","mime","size","sha256"}',
  async run(ctx) {
    const input = ctx.args.positionals[0]!;
    const parsed = MediaIdSchema.safeParse(input.toUpperCase());
    if (!parsed.success) throw usageError(`"${input}" is not a media id (26 letters and digits, shown after "media" in a message)`);
    const mediaId = parsed.data;
    const media = mediaApi(ctx);
    const info = await media.info(mediaId, ctx.signal);
    const path = await targetPath(ctx, mediaId, info.mime);
    const force = ctx.args.flag('force');
    if (!force && (await exists(path))) {
      throw new CliError('file_exists', `${path} already exists; pass --force to replace it, or -o another path`, EXIT.usage);
    }
    const progress = new ProgressLine(ctx.out, `Downloading ${mediaId}`);
    let bytes: Uint8Array;
    try {
      bytes = await media.download(mediaId, { signal: ctx.signal, onProgress: ({ received, total }) => progress.update(received, total ?? info.size) });
    } finally {
      progress.end();
    }
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (sha256 !== info.sha256) {
      throw new CliError('media_mismatch', `The download arrived damaged (its SHA-256 differs from the server's record); nothing was saved, try again`, EXIT.failure);
    }
    try {
      await writeFile(path, bytes, { flag: force ? 'w' : 'wx' });
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === 'EEXIST') throw new CliError('file_exists', `${path} already exists; pass --force to replace it, or -o another path`, EXIT.usage);
      throw new CliError('file_unwritable', `Cannot write ${path}: ${error instanceof Error ? error.message : String(error)}`, EXIT.failure);
    }
    ctx.out.result({ mediaId, path, kind: info.kind, mime: info.mime, size: bytes.length, sha256 }, () => [
      `Saved ${kindWord(info.kind)} (${formatBytes(bytes.length)}) to ${path}`,
      `sha256 ${sha256}`,
    ]);
  },
};
