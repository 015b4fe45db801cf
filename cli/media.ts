/**
 * Media helpers of the CLI: which kind and MIME type a file is sent as (from its extension), the
 * size limit check before anything is uploaded, image dimensions read from PNG/JPEG headers,
 * byte counts in words, and the one updating progress line of an upload or download.
 */
import { extname } from 'node:path';
import { MEDIA_LIMITS } from '../protocol/index.ts';
import type { MediaKind } from '../protocol/index.ts';
import { CliError, EXIT, usageError } from './errors.ts';
import { formatBytes } from './format.ts';
import type { OptionSpecs } from './args.ts';
import type { Output } from './output.ts';

/** The options `send` and `groups send` take for attaching a file. */
export const FILE_OPTIONS = {
  file: { type: 'string', valueName: 'PATH', description: 'send this file (photo, video, document) instead of text' },
  caption: { type: 'string', valueName: 'TEXT', description: 'with --file: text shown under it' },
  voice: { type: 'boolean', description: 'with --file: send an audio file (.ogg .opus .m4a .mp3 .aac) as a voice message' },
} as const satisfies OptionSpecs;

/** The lines `--help` of `send` / `groups send` gets about files. */
export const FILE_DETAILS = [
  '',
  '--file PATH sends a file instead of text (no text words then; use --caption): .jpg .png .webp .gif',
  '.heic go as photos, .mp4 .webm .mov as videos, audio as a voice message only with --voice, anything',
  'else as a document. Too large files are refused before uploading (photos and voice 16 MB, videos',
  'and documents 100 MB). Progress is shown on a terminal. The recipient gets it with',
  '`messenger download <media id>`.',
];

/** The kinds `send --file` sends (stickers and avatars have commands of their own, or none). */
export type FileKind = Extract<MediaKind, 'image' | 'video' | 'voice' | 'document'>;

/** How a file is sent: its kind, MIME type and the name shown to the recipient. */
export interface FileChoice {
  kind: FileKind;
  mime: string;
  fileName: string;
}

const IMAGE_TYPES: Readonly<Record<string, string>> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  heic: 'image/heic',
  heif: 'image/heif',
};

const VIDEO_TYPES: Readonly<Record<string, string>> = { mp4: 'video/mp4', m4v: 'video/mp4', webm: 'video/webm', mov: 'video/quicktime', '3gp': 'video/3gpp' };

/** Audio: a voice note only with --voice, else a document of this type. */
const AUDIO_TYPES: Readonly<Record<string, string>> = { ogg: 'audio/ogg', oga: 'audio/ogg', opus: 'audio/ogg', m4a: 'audio/mp4', mp3: 'audio/mpeg', aac: 'audio/aac' };

/** Documents of a known type; anything else goes as application/octet-stream. */
const DOCUMENT_TYPES: Readonly<Record<string, string>> = {
  pdf: 'application/pdf',
  txt: 'text/plain',
  md: 'text/markdown',
  csv: 'text/csv',
  json: 'application/json',
  zip: 'application/zip',
  gz: 'application/gzip',
  tar: 'application/x-tar',
  '7z': 'application/x-7z-compressed',
  rtf: 'application/rtf',
  doc: 'application/msword',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xls: 'application/vnd.ms-excel',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  ppt: 'application/vnd.ms-powerpoint',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  odt: 'application/vnd.oasis.opendocument.text',
  ods: 'application/vnd.oasis.opendocument.spreadsheet',
  epub: 'application/epub+zip',
};

/** What a kind is called in sentences ("images can be at most 16 MB"). */
const KIND_WORDS: Readonly<Record<MediaKind, { one: string; many: string }>> = {
  image: { one: 'photo', many: 'images' },
  video: { one: 'video', many: 'videos' },
  voice: { one: 'voice message', many: 'voice messages' },
  document: { one: 'file', many: 'files' },
  sticker: { one: 'sticker', many: 'stickers' },
  avatar: { one: 'picture', many: 'profile pictures' },
};

/** The lowercase extension of `path` without the dot ('' when it has none). */
function extensionOf(path: string): string {
  return extname(path).slice(1).toLowerCase();
}

/**
 * The kind and type a file is sent as, from its extension: images, videos, audio (a voice message
 * only when `voice`; else a document), anything else a document.
 *
 * @example
 * chooseFileKind('/tmp/cat.JPG', { voice: false }) // { kind: 'image', mime: 'image/jpeg', fileName: 'cat.JPG' }
 */
export function chooseFileKind(path: string, options: { voice: boolean }): FileChoice {
  const ext = extensionOf(path);
  const fileName = path.split(/[\\/]/).pop() ?? path;
  const audio = AUDIO_TYPES[ext];
  if (options.voice) {
    if (audio === undefined) throw usageError(`--voice needs an audio file (.${Object.keys(AUDIO_TYPES).join(', .')}), not ${fileName}`);
    return { kind: 'voice', mime: audio, fileName };
  }
  const image = IMAGE_TYPES[ext];
  if (image !== undefined) return { kind: 'image', mime: image, fileName };
  const video = VIDEO_TYPES[ext];
  if (video !== undefined) return { kind: 'video', mime: video, fileName };
  return { kind: 'document', mime: audio ?? DOCUMENT_TYPES[ext] ?? 'application/octet-stream', fileName };
}

/** Extension for a saved download of type `mime` ('bin' when unknown). */
export function extensionForMime(mime: string): string {
  if (mime === 'image/jpeg') return 'jpg';
  if (mime === 'audio/ogg') return 'ogg';
  if (mime === 'video/mp4') return 'mp4';
  if (mime === 'audio/mp4') return 'm4a';
  for (const table of [IMAGE_TYPES, VIDEO_TYPES, AUDIO_TYPES, DOCUMENT_TYPES]) {
    const found = Object.entries(table).find(([, type]) => type === mime);
    if (found !== undefined) return found[0];
  }
  if (mime === 'audio/webm') return 'weba';
  return 'bin';
}

/** What a kind is called in sentences: "photo", "voice message". */
export function kindWord(kind: MediaKind): string {
  return KIND_WORDS[kind].one;
}

/** Refuse a file the server would refuse for its size, before reading or uploading it. */
export function checkFileSize(choice: FileChoice, size: number): void {
  if (size === 0) throw new CliError('empty_file', `${choice.fileName} is empty; there is nothing to send`, EXIT.usage);
  const limit = MEDIA_LIMITS[choice.kind].maxBytes;
  if (size > limit) {
    // "16 MB; at most 16 MB" would puzzle: just over the limit, say it in bytes.
    const sizeText = formatBytes(size) === formatBytes(limit) ? `${size.toLocaleString('en-US')} bytes` : formatBytes(size);
    throw new CliError('media_too_large', `${choice.fileName} is ${sizeText}; ${KIND_WORDS[choice.kind].many} can be at most ${formatBytes(limit)}`, EXIT.usage);
  }
}

/** Width and height from a PNG's IHDR or a JPEG's first frame header; null for anything else. */
export function imageDimensions(bytes: Uint8Array): { width: number; height: number } | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const isPng = bytes.length >= 24 && view.getUint32(0) === 0x89504e47 && view.getUint32(12) === 0x49484452;
  if (isPng) return positive(view.getUint32(16), view.getUint32(20));
  if (bytes.length < 4 || view.getUint16(0) !== 0xffd8) return null;
  let offset = 2;
  while (offset + 9 < bytes.length) {
    if (bytes[offset] !== 0xff) return null;
    const marker = bytes[offset + 1]!;
    if (marker === 0xff) {
      offset += 1;
      continue;
    }
    const length = view.getUint16(offset + 2);
    // SOF0..SOF15 carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) do not.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return positive(view.getUint16(offset + 7), view.getUint16(offset + 5));
    }
    if (marker === 0xda || length < 2) return null;
    offset += 2 + length;
  }
  return null;
}

function positive(width: number, height: number): { width: number; height: number } | null {
  return width > 0 && height > 0 ? { width, height } : null;
}

/** How often the progress line is redrawn at most. */
const REDRAW_MS = 100;

/**
 * One updating line on stderr while bytes move ("Uploading cat.png  42%  3.1 MB/s"), on a
 * terminal only; elsewhere it prints nothing, so scripts see just the result.
 */
export class ProgressLine {
  private readonly out: Output;
  private readonly label: string;
  private readonly started = performance.now();
  private lastDraw = 0;
  private drawn = false;

  constructor(out: Output, label: string) {
    this.out = out;
    this.label = label;
  }

  /** `done` of `total` bytes moved. */
  update(done: number, total: number): void {
    if (!this.out.showsProgress) return;
    const now = performance.now();
    if (done < total && now - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = now;
    const percent = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 100;
    // Nothing confirmed yet (hashing, or a single PUT under way): no percent or speed to show.
    const text = done === 0 ? `${formatBytes(total)}…` : `${String(percent).padStart(3)}%  ${formatBytes(done)} of ${formatBytes(total)}  ${this.rate(done)}`;
    this.out.stderr.write(`\r\u001b[2K${this.label}  ${text}`);
    this.drawn = true;
  }

  /** Average speed so far: "3.1 MB/s". */
  rate(done: number): string {
    const seconds = (performance.now() - this.started) / 1000;
    const perSecond = seconds > 0 ? done / seconds : 0;
    return `${(perSecond / (1024 * 1024)).toFixed(1)} MB/s`;
  }

  /** Clear the line (the command prints its result next). */
  end(): void {
    if (this.drawn) this.out.stderr.write('\r\u001b[2K');
    this.drawn = false;
  }
}
