/**
 * localStorage-backed stores for the SDK, scoped to one device (one login):
 * - the outbox (`OutboxStore`): messages written but not yet confirmed by the server survive a
 *   reload or a closed tab and go out on the next connection, with their original client ids;
 * - the mailbox cursor (`CursorStore`): after a reload the connection resumes where this device
 *   left off instead of from the server's last record;
 * - the gseq cursor of each large group (`LargeGroupCursorStore`): after a reload the SDK pulls a
 *   group's log from where this device left off, not again from the group's switch.
 */
import type { CursorStore, LargeGroupCursorStore, OutboxEntry, OutboxStore } from '../../client/index.ts';

const PREFIX = 'messenger.device.';

function outboxKey(deviceId: string): string {
  return `${PREFIX}${deviceId}.outbox`;
}

function cursorKey(deviceId: string): string {
  return `${PREFIX}${deviceId}.cursor`;
}

/**
 * The outbox as one JSON array per device. The SDK validates every entry it loads (a corrupt or
 * tampered entry is dropped there), so this only has to return an array.
 */
export class LocalOutboxStore implements OutboxStore {
  private readonly key: string;
  private readonly storage: Storage;

  constructor(deviceId: string, storage: Storage = localStorage) {
    this.key = outboxKey(deviceId);
    this.storage = storage;
  }

  load(): readonly OutboxEntry[] {
    const raw = this.storage.getItem(this.key);
    if (raw === null) return [];
    try {
      const value: unknown = JSON.parse(raw);
      return Array.isArray(value) ? (value as OutboxEntry[]) : [];
    } catch {
      return [];
    }
  }

  /** Throws when storage is full; the SDK reports that as an 'error' event and keeps the entries in memory. */
  save(entries: readonly OutboxEntry[]): void {
    if (entries.length === 0) this.storage.removeItem(this.key);
    else this.storage.setItem(this.key, JSON.stringify(entries));
  }
}

/** The highest mailbox seq this device processed. */
export class LocalCursorStore implements CursorStore {
  private readonly key: string;
  private readonly storage: Storage;

  constructor(deviceId: string, storage: Storage = localStorage) {
    this.key = cursorKey(deviceId);
    this.storage = storage;
  }

  get(): number | undefined {
    const value = Number(this.storage.getItem(this.key) ?? Number.NaN);
    return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  }

  set(seq: number): void {
    this.storage.setItem(this.key, String(seq));
  }
}

function groupsKey(deviceId: string): string {
  return `${PREFIX}${deviceId}.groups`;
}

/** The gseq cursor per large group, as one JSON object per device (group id -> gseq). */
export class LocalLargeGroupCursorStore implements LargeGroupCursorStore {
  private readonly key: string;
  private readonly storage: Storage;

  constructor(deviceId: string, storage: Storage = localStorage) {
    this.key = groupsKey(deviceId);
    this.storage = storage;
  }

  get(group: string): number | undefined {
    const value = this.load()[group];
    return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  }

  set(group: string, gseq: number): void {
    this.storage.setItem(this.key, JSON.stringify({ ...this.load(), [group]: gseq }));
  }

  private load(): Record<string, unknown> {
    try {
      const value: unknown = JSON.parse(this.storage.getItem(this.key) ?? '{}');
      return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
    } catch {
      return {};
    }
  }
}

/** Forget everything kept for a device (after logout: its token no longer works). */
export function clearDeviceStores(deviceId: string, storage: Storage = localStorage): void {
  storage.removeItem(outboxKey(deviceId));
  storage.removeItem(cursorKey(deviceId));
  storage.removeItem(groupsKey(deviceId));
}
