/**
 * Where each device registered through `deviceAdded` starts: `start`, the mailbox head right
 * after its device_added entry (it is owed every later entry, live or on its first connect,
 * whatever other devices acknowledged), and `floor`, below which its history pages and chat list
 * show nothing (0 when it may read earlier history).
 *
 * A start is not an acknowledgement: until the device acks, nothing of it moves the delivered
 * watermark. Devices registered before this existed have no row ("legacy" devices: they start
 * at the watermark and see all history, as before).
 */

export type DeviceStart = { start: number; floor: number };

export class DeviceStarts {
  /** Every registered device's start (a handful of rows, read on every ack: kept in memory). */
  readonly #starts: Map<string, DeviceStart>;
  /** When each device with a history floor was registered (what it may see of large groups starts there). */
  readonly #flooredSince: Map<string, number>;

  constructor(private readonly sql: SqlStorage) {
    const rows = sql.exec<DeviceStart & { device_id: string; added_at: number }>('SELECT device_id, start, floor, added_at FROM device_starts').toArray();
    this.#starts = new Map(rows.map((r) => [r.device_id, { start: r.start, floor: r.floor }]));
    this.#flooredSince = new Map(rows.filter((r) => r.floor > 0).map((r) => [r.device_id, r.added_at]));
  }

  /** Record a device's start and floor (a device is registered once: a repeat keeps the first). */
  record(deviceId: string, start: DeviceStart, at: number): void {
    if (this.#starts.has(deviceId)) return;
    this.sql.exec('INSERT OR IGNORE INTO device_starts (device_id, start, floor, added_at) VALUES (?, ?, ?, ?)', deviceId, start.start, start.floor, at);
    this.#starts.set(deviceId, start);
    if (start.floor > 0) this.#flooredSince.set(deviceId, at);
  }

  /**
   * For a device registered without history: when it was registered (entries of large groups,
   * which are not in the mailbox, are shown to it from then on). 0: no floor.
   */
  historySince(deviceId: string): number {
    return this.#flooredSince.get(deviceId) ?? 0;
  }

  of(deviceId: string): DeviceStart | null {
    return this.#starts.get(deviceId) ?? null;
  }

  /** Where a device's part of the mailbox begins: its start, or 0 for a legacy device. */
  startOf(deviceId: string): number {
    return this.#starts.get(deviceId)?.start ?? 0;
  }

  /** The history floor of `deviceId` (0: no floor, including legacy devices and callers that name none). */
  floorOf(deviceId: string | undefined): number {
    return deviceId === undefined ? 0 : (this.#starts.get(deviceId)?.floor ?? 0);
  }

  forget(deviceId: string): void {
    this.sql.exec('DELETE FROM device_starts WHERE device_id = ?', deviceId);
    this.#starts.delete(deviceId);
    this.#flooredSince.delete(deviceId);
  }
}
