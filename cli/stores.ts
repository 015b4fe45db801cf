/**
 * File-backed implementations of the SDK's persistence hooks, plus the lock that keeps two
 * long-running sessions (`chat`, `listen`) of one device from fighting over its connection.
 *
 * Several CLI processes of the same login may run at once (a `listen` in one terminal, a `send`
 * in another), so the outbox is one file per message: a process writes the messages it queued and
 * deletes only the ones it saw confirmed, never another process's.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { CursorStore, OutboxEntry, OutboxStore } from '../client/index.ts';
import { ClientIdSchema, GroupIdSchema, MessageBodySchema, SeqSchema, UserIdSchema } from '../protocol/index.ts';

function writeAtomically(file: string, text: string): void {
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, text, { mode: 0o600 });
  renameSync(temp, file);
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

function removeQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/** The mailbox cursor of `listen`, in `<device dir>/cursor.json`. */
export class FileCursorStore implements CursorStore {
  private readonly file: string;

  constructor(deviceDir: string) {
    this.file = join(deviceDir, 'cursor.json');
  }

  get(): number | undefined {
    const parsed = z.object({ seq: SeqSchema }).safeParse(readJson(this.file));
    return parsed.success ? parsed.data.seq : undefined;
  }

  set(seq: number): void {
    writeAtomically(this.file, `${JSON.stringify({ seq })}\n`);
  }
}

const StoredEntrySchema = z.union([
  z.object({ clientId: ClientIdSchema, to: UserIdSchema, body: MessageBodySchema, createdAt: z.number().int() }),
  z.object({ clientId: ClientIdSchema, group: GroupIdSchema, body: MessageBodySchema, createdAt: z.number().int() }),
]);

let fileCounter = 0;

/** Unsent messages, one JSON file each in `<device dir>/outbox/`, oldest first by name. */
export class DirectoryOutboxStore implements OutboxStore {
  private readonly dir: string;
  /** Files this process read or wrote, by client id: the only ones it may delete. */
  private readonly known = new Map<string, string>();

  constructor(dir: string) {
    this.dir = dir;
  }

  load(): OutboxEntry[] {
    const entries: OutboxEntry[] = [];
    for (const name of this.fileNames()) {
      const parsed = StoredEntrySchema.safeParse(readJson(join(this.dir, name)));
      if (!parsed.success) continue;
      this.known.set(parsed.data.clientId, name);
      entries.push(parsed.data);
    }
    return entries;
  }

  save(entries: readonly OutboxEntry[]): void {
    if (entries.length > 0) mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const pending = new Set(entries.map((entry) => entry.clientId));
    for (const [clientId, name] of this.known) {
      if (pending.has(clientId)) continue;
      removeQuietly(join(this.dir, name));
      this.known.delete(clientId);
    }
    for (const entry of entries) {
      if (this.known.has(entry.clientId)) continue;
      fileCounter += 1;
      const name = `${String(entry.createdAt).padStart(15, '0')}-${String(fileCounter).padStart(6, '0')}-${entry.clientId}.json`;
      writeAtomically(join(this.dir, name), `${JSON.stringify(entry)}\n`);
      this.known.set(entry.clientId, name);
    }
  }

  /** Delete every stored message (`outbox clear`). Returns how many there were. */
  clear(): number {
    const names = this.fileNames();
    for (const name of names) removeQuietly(join(this.dir, name));
    this.known.clear();
    return names.length;
  }

  private fileNames(): string[] {
    try {
      return readdirSync(this.dir)
        .filter((name) => name.endsWith('.json'))
        .sort();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }
}

/** Who holds a device's session lock. */
export interface LockHolder {
  pid: number;
  command: string;
}

/** Whether process `pid` still runs (for locks whose holder may have died). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * `<device dir>/session.lock`: held by a running `chat` or `listen`. A second long-running
 * session of the same device would take the connection over every few seconds; this lets it
 * refuse to start instead.
 */
export class SessionLock {
  private readonly file: string;
  private held = false;

  constructor(deviceDir: string) {
    this.file = join(deviceDir, 'session.lock');
  }

  /** Take the lock, or return who holds it. A lock left by a dead process is taken over. */
  acquire(command: string): LockHolder | null {
    const holder = this.holder();
    if (holder !== null && holder.pid !== process.pid && isAlive(holder.pid)) return holder;
    writeAtomically(this.file, `${JSON.stringify({ pid: process.pid, command })}\n`);
    this.held = true;
    return null;
  }

  release(): void {
    if (!this.held) return;
    this.held = false;
    if (this.holder()?.pid === process.pid) removeQuietly(this.file);
  }

  private holder(): LockHolder | null {
    const parsed = z.object({ pid: z.number().int().positive(), command: z.string() }).safeParse(readJson(this.file));
    return parsed.success ? parsed.data : null;
  }
}
