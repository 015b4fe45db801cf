/**
 * The group object's SQLite schema, versioned like the mailbox's (`meta.schema_version`).
 *
 * Membership is kept as intervals of the log: a current member joined at `joined_gseq` and sees
 * every entry from there on; `past_members` keeps the closed intervals of people who left or were
 * removed, so the audience of any old entry (for a retried fan-out or a member's gap repair) can
 * be computed exactly. Receipts are per-member watermarks (the log is delivered in order), so a
 * receipt is one small update, not one row per message and member.
 *
 * Invites, the invite link and join requests (version 2) sit beside membership: none of them
 * makes anyone part of the log's audience. Version 3 adds updates (actions on messages).
 */
import { applyMigrations, hasSchema, readMeta, writeMeta } from '../sqlite-schema.ts';
import { searchTextSql } from '../../lib/search-sql.ts';

/** What of a log row the search index holds (./search.ts): its text and filter columns. */
const LOG_DOC_COLUMNS = 'rowid, text, sender, kind, at';
function LOG_DOC(row: string): string {
  return `${row}.gseq, ${searchTextSql(`${row}.entry`, '$.message.body')}, ${row}.sender, json_extract(${row}.entry, '$.message.body.kind'), json_extract(${row}.entry, '$.message.sentAt')`;
}
/** Indexed: a message after the switch to read diffusion with searchable text. */
function LOG_INDEXED(row: string): string {
  return `${row}.kind = 'message' AND ${row}.gseq > coalesce((SELECT log_from FROM settings WHERE id = 1), ${Number.MAX_SAFE_INTEGER}) AND ${searchTextSql(`${row}.entry`, '$.message.body')} IS NOT NULL`;
}

const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE settings (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    group_id         TEXT    NOT NULL,
    title            TEXT    NOT NULL,
    description      TEXT    NOT NULL,
    picture          TEXT,
    only_admins_send INTEGER NOT NULL,
    created_by       TEXT    NOT NULL,
    created_at       INTEGER NOT NULL
  );

  CREATE TABLE log (
    gseq      INTEGER PRIMARY KEY,             -- the group's order, assigned head+1
    id        TEXT    NOT NULL,                -- server id of the message or event
    kind      TEXT    NOT NULL,                -- 'message' | 'event'
    sender    TEXT    NOT NULL,                -- the sender, or who made the change
    client_id TEXT,                            -- messages only: the sender's client id
    audience  INTEGER NOT NULL,                -- 1 when this entry changed membership (fan-out boundary)
    entry     TEXT    NOT NULL                 -- the GroupEntry as JSON
  );
  CREATE UNIQUE INDEX log_idempotency ON log (sender, client_id) WHERE client_id IS NOT NULL;
  CREATE INDEX log_id ON log (id);

  CREATE TABLE members (
    user_id        TEXT    PRIMARY KEY,
    role           TEXT    NOT NULL,           -- 'admin' | 'member'
    joined_gseq    INTEGER NOT NULL,           -- sees entries from here on
    joined_at      INTEGER NOT NULL,
    delivered_gseq INTEGER NOT NULL,           -- highest gseq on at least one of their devices
    read_gseq      INTEGER NOT NULL,           -- highest gseq they read
    active_at      INTEGER NOT NULL            -- last receipt: who is likely online, served first
  ) WITHOUT ROWID;

  CREATE TABLE past_members (
    user_id     TEXT    NOT NULL,
    joined_gseq INTEGER NOT NULL,
    left_gseq   INTEGER NOT NULL,              -- the entry that removed them (they still see it)
    PRIMARY KEY (user_id, joined_gseq)
  ) WITHOUT ROWID;

  -- When each member's watermarks moved, for "message info" (who read what, and when).
  CREATE TABLE receipt_log (
    user_id TEXT    NOT NULL,
    status  TEXT    NOT NULL,                  -- 'delivered' | 'read'
    up_to   INTEGER NOT NULL,
    at      INTEGER NOT NULL
  );
  CREATE INDEX receipt_log_up_to ON receipt_log (up_to);
  `,
  // 2: consent (issue 11). People who may not be added directly are invited: they are not
  // members (no fan-out, no typing, no history) until they accept. One invite link at most,
  // and the requests to join through it while it needs an admin's approval.
  `
  CREATE TABLE invites (
    user_id    TEXT    PRIMARY KEY,
    invited_by TEXT    NOT NULL,
    at         INTEGER NOT NULL,
    notified   INTEGER NOT NULL                 -- 1 once the invitee's mailbox has it (or it must never: a blocked inviter)
  ) WITHOUT ROWID;

  CREATE TABLE link (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    code       TEXT    NOT NULL,
    approval   INTEGER NOT NULL,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL
  );

  CREATE TABLE join_requests (
    user_id TEXT    PRIMARY KEY,
    at      INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  // 3: message actions (issue 13). An action on a message is an 'update' entry of the log; it
  // names its target's gseq (a deletion for everyone rewrites every update of that message, and
  // fan-out must not hand it to members who joined after the target) and keeps the action's
  // fingerprint (a retry under the same client id must repeat it). Membership entries get an
  // index: fan-out asks whether any lies between an update and its target.
  `
  ALTER TABLE log ADD COLUMN target INTEGER;
  ALTER TABLE log ADD COLUMN fingerprint TEXT;
  CREATE INDEX log_target ON log (target) WHERE target IS NOT NULL;
  CREATE INDEX log_membership ON log (gseq) WHERE audience = 1;
  -- Messages by the media they name: a recall revokes the group's grant only when no other message of the group names it.
  CREATE INDEX log_media ON log (json_extract(entry, '$.message.body.media.id')) WHERE json_extract(entry, '$.message.body.media.id') IS NOT NULL;
  `,
  // 4: receipt tallies at scale (./members.ts tallies). A member's watermarks start just before
  // their joining (nothing before it is theirs to receive), so "members there when g was sent
  // who have it" is count(delivered >= g) - count(joined > g): two grouped scans of these
  // indexes per tally round, whatever the number of members, instead of every member per message.
  `
  UPDATE members SET delivered_gseq = max(delivered_gseq, joined_gseq - 1), read_gseq = max(read_gseq, joined_gseq - 1);
  CREATE INDEX members_delivered ON members (delivered_gseq);
  CREATE INDEX members_read ON members (read_gseq);
  CREATE INDEX members_joined ON members (joined_gseq);
  `,
  // 5: large groups by read diffusion (./delivery.ts). `log_from` is the gseq of the
  // `delivery_changed` event (NULL while the group copies entries into mailboxes): entries after
  // it live only in this log. `online` lists the members whose mailbox said a device is
  // connected (registered at connect, dropped when a live push finds no device).
  `
  ALTER TABLE settings ADD COLUMN log_from INTEGER;
  CREATE TABLE online (
    user_id TEXT    PRIMARY KEY,
    since   INTEGER NOT NULL                  -- when it registered (a live push that started earlier cannot drop it)
  ) WITHOUT ROWID;
  `,
  `
  -- Large groups: what a request touches must not grow with the members. Admins for the view,
  -- recently active members for typing notices, and the members and invites whose D1 mirror rows
  -- are out of date (the mirror is updated by these rows, not rewritten whole).
  CREATE INDEX members_admins ON members (joined_gseq) WHERE role = 'admin';
  CREATE INDEX members_active ON members (active_at);
  CREATE TABLE mirror_pending (
    user_id TEXT    PRIMARY KEY,
    version INTEGER NOT NULL                  -- bumped by each change; a sync clears only what it sent
  ) WITHOUT ROWID;
  `,
  // 7: search in large groups (./search.ts). Members' mailboxes index the entries they hold a
  // copy of; after the switch to read diffusion they hold none, so this log indexes its own
  // messages from there on (rowid = gseq; the same searchable text as a mailbox, lib/search-sql.ts),
  // kept by triggers: an edit re-indexes, a deletion for everyone leaves the index.
  `
  CREATE VIRTUAL TABLE log_search USING fts5(
    text, sender UNINDEXED, kind UNINDEXED, at UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2', columnsize = 0
  );
  CREATE TRIGGER log_search_insert AFTER INSERT ON log WHEN ${LOG_INDEXED('new')} BEGIN
    INSERT INTO log_search (${LOG_DOC_COLUMNS}) VALUES (${LOG_DOC('new')});
  END;
  CREATE TRIGGER log_search_update AFTER UPDATE OF entry ON log WHEN new.kind = 'message' BEGIN
    DELETE FROM log_search WHERE rowid = old.gseq;
    INSERT INTO log_search (${LOG_DOC_COLUMNS}) SELECT ${LOG_DOC('new')} WHERE ${LOG_INDEXED('new')};
  END;
  INSERT INTO log_search (${LOG_DOC_COLUMNS}) SELECT ${LOG_DOC('l')} FROM log l WHERE ${LOG_INDEXED('l')};
  `,
];

/** Bring the object's database to the newest schema (`meta` also holds fanned_through, mirror_dirty). */
export function migrate(sql: SqlStorage): void {
  applyMigrations(sql, MIGRATIONS);
}

export { hasSchema, readMeta, writeMeta };
