/**
 * The group's settings row (title, description, picture, who may send, who created it): read
 * and written by the group object, and what its D1 mirror and link previews are built from.
 */
export type Settings = {
  groupId: string;
  title: string;
  description: string;
  picture: string | null;
  onlyAdminsSend: boolean;
  createdBy: string;
  createdAt: number;
  /**
   * Null while entries are copied into members' mailboxes; else the gseq of the
   * `delivery_changed` event, after which entries live only in the log (read diffusion).
   */
  logFrom: number | null;
};

type Row = {
  group_id: string;
  title: string;
  description: string;
  picture: string | null;
  only_admins_send: number;
  created_by: string;
  created_at: number;
  log_from: number | null;
};

/** The settings, or null while the group does not exist (the table exists once it was created). */
export function readSettings(sql: SqlStorage): Settings | null {
  const row = sql.exec<Row>('SELECT * FROM settings WHERE id = 1').toArray()[0];
  if (!row) return null;
  return {
    groupId: row.group_id,
    title: row.title,
    description: row.description,
    picture: row.picture,
    onlyAdminsSend: row.only_admins_send === 1,
    createdBy: row.created_by,
    createdAt: row.created_at,
    logFrom: row.log_from,
  };
}

export function insertSettings(sql: SqlStorage, s: Settings): void {
  sql.exec(
    `INSERT INTO settings (id, group_id, title, description, picture, only_admins_send, created_by, created_at)
     VALUES (1, ?, ?, ?, ?, ?, ?, ?)`,
    s.groupId,
    s.title,
    s.description,
    s.picture,
    s.onlyAdminsSend ? 1 : 0,
    s.createdBy,
    s.createdAt,
  );
}

/** The group switched to read diffusion at the `delivery_changed` event `gseq` (once). */
export function setLogFrom(sql: SqlStorage, gseq: number): void {
  sql.exec('UPDATE settings SET log_from = ? WHERE log_from IS NULL', gseq);
}

export function updateSettings(sql: SqlStorage, s: Pick<Settings, 'title' | 'description' | 'picture' | 'onlyAdminsSend'>): void {
  sql.exec(
    'UPDATE settings SET title = ?, description = ?, picture = ?, only_admins_send = ?',
    s.title,
    s.description,
    s.picture,
    s.onlyAdminsSend ? 1 : 0,
  );
}
