/**
 * File-backed implementations of the SDK's persistence hooks, plus the lock that keeps two
 * long-running sessions (`chat`, `listen`) of one device from fighting over its connection.
 *
 * Several CLI processes of the same login may run at once (a `listen` in one terminal, a `send`
 * in another), so the outbox is one file per message: a process writes the messages it queued and
 * deletes only the ones it saw confirmed, never another process's.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import type { CursorStore, LargeGroupCursorStore, OutboxRecord, OutboxStore } from '../client/index.ts';
import { ActionSchema, ChatRefSchema, ClientIdSchema, GroupIdSchema, MessageBodySchema, MessageIdSchema, SeqSchema, UserIdSchema } from '../protocol/index.ts';

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

/**
 * The gseq cursor per large group (read diffusion: their entries are pulled from the group's log
 * from this cursor, not replayed by the mailbox), as one JSON object `{group id: gseq}`. Without
 * it every run would pull each large group again from its switch.
 */
export class FileLargeGroupCursorStore implements LargeGroupCursorStore {
  private readonly file: string;
  private readonly fallback: string | undefined;

  /** `fallback`: another store's file, read for a group this one has no cursor for yet. */
  constructor(file: string, fallback?: string) {
    this.file = file;
    this.fallback = fallback;
  }

  get(group: string): number | undefined {
    const parsed = SeqSchema.safeParse(load(this.file)[group] ?? (this.fallback === undefined ? undefined : load(this.fallback)[group]));
    return parsed.success ? parsed.data : undefined;
  }

  set(group: string, gseq: number): void {
    mkdirSync(dirname(this.file), { recursive: true });
    writeAtomically(this.file, `${JSON.stringify({ ...load(this.file), [group]: gseq })}\n`);
  }
}

function load(file: string): Record<string, unknown> {
  const value = readJson(file);
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** A reply's quoted message and a forward's original, kept with a send. */
const sendRefs = { replyTo: MessageIdSchema.optional(), forward: MessageIdSchema.optional() };

/** A stored send (1:1 or group) or message action (react, edit, delete, star). */
const StoredEntrySchema = z.union([
  z.object({ clientId: ClientIdSchema, to: UserIdSchema, body: MessageBodySchema, createdAt: z.number().int(), ...sendRefs }),
  z.object({ clientId: ClientIdSchema, group: GroupIdSchema, body: MessageBodySchema, createdAt: z.number().int(), ...sendRefs }),
  z.object({ clientId: ClientIdSchema, chat: ChatRefSchema, target: MessageIdSchema, action: ActionSchema, createdAt: z.number().int() }),
]);

let fileCounter = 0;

/** Unsent messages and message actions, one JSON file each in `<device dir>/outbox/`, oldest first by name. */
export class DirectoryOutboxStore implements OutboxStore {
  private readonly dir: string;
  /** Files this process read or wrote, by client id: the only ones it may delete. */
  private readonly known = new Map<string, string>();

  constructor(dir: string) {
    this.dir = dir;
  }

  load(): OutboxRecord[] {
    const entries: OutboxRecord[] = [];
    for (const name of this.fileNames()) {
      const parsed = StoredEntrySchema.safeParse(readJson(join(this.dir, name)));
      if (!parsed.success) continue;
      this.known.set(parsed.data.clientId, name);
      entries.push(parsed.data);
    }
    return entries;
  }

  save(entries: readonly OutboxRecord[]): void {
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

const NamesFileSchema = z.object({
  users: z.record(z.string(), z.object({ name: z.string(), phone: z.string().optional() })).catch({}),
  groups: z.record(z.string(), z.string()).catch({}),
});

/** A user as last seen by this device: the name shown for them and, when known, their number. */
export interface KnownUser {
  userId: string;
  name: string;
  phone?: string;
}

/**
 * Names this device has seen, in `<device dir>/names.json`: people (name, and number when known)
 * and group titles. They let a group you left keep its title, and let `send` queue a message in
 * the outbox while the server cannot be reached. Best effort: a file that cannot be read or
 * written only means fewer names.
 */
export class NamesCache {
  private readonly file: string;
  private data: z.infer<typeof NamesFileSchema> | undefined;
  private dirty = false;

  constructor(deviceDir: string) {
    this.file = join(deviceDir, 'names.json');
  }

  private read(): z.infer<typeof NamesFileSchema> {
    const parsed = NamesFileSchema.safeParse(readJson(this.file));
    return parsed.success ? parsed.data : { users: {}, groups: {} };
  }

  private current(): z.infer<typeof NamesFileSchema> {
    this.data ??= this.read();
    return this.data;
  }

  user(userId: string): KnownUser | undefined {
    const known = this.current().users[userId];
    return known === undefined ? undefined : { userId, ...known };
  }

  users(): KnownUser[] {
    return Object.entries(this.current().users).map(([userId, known]) => ({ userId, ...known }));
  }

  groups(): Array<{ groupId: string; title: string }> {
    return Object.entries(this.current().groups).map(([groupId, title]) => ({ groupId, title }));
  }

  groupTitle(groupId: string): string | undefined {
    return this.current().groups[groupId];
  }

  rememberUser(userId: string, name: string, phone?: string): void {
    if (name === '') return;
    const users = this.current().users;
    const before = users[userId];
    const next = { name, ...((phone ?? before?.phone) === undefined ? {} : { phone: phone ?? before!.phone! }) };
    if (before !== undefined && before.name === next.name && before.phone === next.phone) return;
    users[userId] = next;
    this.dirty = true;
  }

  rememberGroup(groupId: string, title: string): void {
    const groups = this.current().groups;
    if (title === '' || groups[groupId] === title) return;
    groups[groupId] = title;
    this.dirty = true;
  }

  /** Write what changed, merged into what other processes wrote meanwhile. */
  flush(): void {
    if (!this.dirty || this.data === undefined) return;
    this.dirty = false;
    try {
      // Logged out meanwhile (the device's folder was deleted): keep nothing.
      if (!existsSync(dirname(this.file))) return;
      const onDisk = this.read();
      const merged = { users: { ...onDisk.users, ...this.data.users }, groups: { ...onDisk.groups, ...this.data.groups } };
      writeAtomically(this.file, `${JSON.stringify(merged)}\n`);
      this.data = merged;
    } catch {
      // Names are a convenience: never fail a command over them.
    }
  }
}
