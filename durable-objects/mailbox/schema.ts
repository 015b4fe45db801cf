/**
 * The user's Durable Object SQLite schema, versioned by a `schema_version` row in `meta` so that
 * a deployed object upgrades itself in place the first time new code wakes it.
 */
import { STATUS_RANK } from '../../protocol/index.ts';
import { applyMigrations } from '../sqlite-schema.ts';
import { directFrameSql, groupFrameSql } from './shared-frames.ts';
import { DIRECT_DOC, DIRECT_INDEXED, DOC_COLUMNS, GROUP_DOC, GROUP_INDEXED, SEARCH_THROUGH_SQL } from './search-backlog.ts';

/** v12's search triggers for one table: they index, and re-index on change, only rows at or below the watermark. */
function watermarkTriggers(table: string, content: string, doc: (row: string) => string, indexed: (row: string) => string): string {
  return `
  DROP TRIGGER ${table}_search_insert;
  DROP TRIGGER ${table}_search_update;
  CREATE TRIGGER ${table}_search_insert AFTER INSERT ON ${table}
    WHEN new.seq <= ${SEARCH_THROUGH_SQL} AND ${indexed('new')} BEGIN
    INSERT INTO search_hot (${DOC_COLUMNS}) VALUES (${doc('new')});
  END;
  CREATE TRIGGER ${table}_search_update AFTER UPDATE OF ${content}, hidden ON ${table} BEGIN
    DELETE FROM search_hot WHERE rowid = old.seq;
    INSERT INTO search_hot (${DOC_COLUMNS}) SELECT ${doc('new')} WHERE new.seq <= ${SEARCH_THROUGH_SQL} AND ${indexed('new')};
  END;`;
}

/**
 * v14's and v15's triggers for one history table: before a row's message changes or the row goes,
 * the mailbox entry built from it (stored as '') is written out in full, as it was; and the
 * entries stored before give up their copy where it is the same.
 */
function keepEntryTriggers(table: string, content: string, kind: string, frame: (row: string) => string): string {
  return `
  CREATE TRIGGER ${table}_keep_entry_update BEFORE UPDATE OF seq, ${content} ON ${table} BEGIN
    UPDATE mailbox SET frame = ${frame('old')} WHERE seq = old.seq AND frame = '';
  END;
  CREATE TRIGGER ${table}_keep_entry_delete BEFORE DELETE ON ${table} BEGIN
    UPDATE mailbox SET frame = ${frame('old')} WHERE seq = old.seq AND frame = '';
  END;
  UPDATE mailbox SET frame = '' WHERE kind = '${kind}' AND frame = (SELECT ${frame('h')} FROM ${table} h WHERE h.seq = mailbox.seq);`;
}

/*
 * Every commit here is a durable write, and every index page a message touches is one more page
 * in that commit, so the layout keeps pages per message low: `seq` is the rowid of both `mailbox`
 * and `messages` (range scans need no index); messages are found by (sender, client id), the
 * idempotency index, so the server id needs none; `conversations` is keyed by peer without a
 * rowid and unindexed otherwise (the chat list sorts it when asked, which is rare next to
 * messages); retention walks `mailbox` in seq order (created_at only grows with seq).
 */
const MIGRATIONS: readonly string[] = [
  // v1: the mailbox (ordered sync log), message history, chat list, device cursors, receipt outbox.
  `
  CREATE TABLE mailbox (
    seq        INTEGER PRIMARY KEY,            -- assigned head+1, never reused
    kind       TEXT    NOT NULL,               -- 'message' | 'receipt' | 'read_marker'
    frame      TEXT    NOT NULL,               -- the server frame, serialised once, seq included
    created_at INTEGER NOT NULL                -- ms; retention is measured from it
  );

  CREATE TABLE messages (
    seq        INTEGER PRIMARY KEY,            -- its entry in this user's mailbox
    id         TEXT    NOT NULL,               -- server message id, the same in both mailboxes
    peer       TEXT    NOT NULL,               -- the other party of the conversation
    outgoing   INTEGER NOT NULL,               -- 1 = this user sent it
    sender     TEXT    NOT NULL,
    client_id  TEXT    NOT NULL,
    status     INTEGER NOT NULL,               -- STATUS_RANK: outgoing 1 sent, 2 delivered, 3 read; incoming 1 or 3 (read)
    message    TEXT    NOT NULL                -- the Message as JSON
  );
  CREATE UNIQUE INDEX messages_idempotency ON messages (sender, client_id);
  CREATE INDEX messages_conversation ON messages (peer, seq);

  CREATE TABLE conversations (
    peer     TEXT    PRIMARY KEY,
    last_seq INTEGER NOT NULL,                 -- mailbox seq of the newest message
    unread   INTEGER NOT NULL                  -- incoming messages not yet read
  ) WITHOUT ROWID;

  CREATE TABLE devices (
    device_id    TEXT    PRIMARY KEY,
    acked        INTEGER NOT NULL,             -- highest seq this device acknowledged
    last_seen_at INTEGER NOT NULL
  );

  CREATE TABLE receipt_outbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    peer        TEXT    NOT NULL,              -- the sender to tell
    status      TEXT    NOT NULL,              -- 'delivered' | 'read'
    client_ids  TEXT    NOT NULL,              -- JSON array of the sender's client ids
    at          INTEGER NOT NULL
  );
  `,
  // v2: groups. Entries of each group's log this user received, in mailbox order (seq) and log
  // order (gseq, one-to-one with seq per group); per group how far the log was received and
  // read; the outbox of group receipts (watermarks, so one row per group and status).
  `
  CREATE TABLE group_entries (
    seq       INTEGER PRIMARY KEY,             -- its entry in this user's mailbox
    group_id  TEXT    NOT NULL,
    gseq      INTEGER NOT NULL,
    sender    TEXT,                            -- messages only
    read      INTEGER NOT NULL,                -- 1 = read by this user (own messages and events count as read)
    tally     TEXT,                            -- own messages: the latest GroupTally as JSON
    entry     TEXT    NOT NULL                 -- the GroupEntry as JSON
  );
  CREATE UNIQUE INDEX group_entries_order ON group_entries (group_id, gseq);

  CREATE TABLE group_chats (
    group_id  TEXT    PRIMARY KEY,
    through   INTEGER NOT NULL,                -- every entry of the log up to here that this user may see is stored
    read_gseq INTEGER NOT NULL,                -- read up to here
    last_seq  INTEGER NOT NULL,                -- mailbox seq of the newest entry
    unread    INTEGER NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE group_receipt_outbox (
    group_id TEXT    NOT NULL,
    status   TEXT    NOT NULL,                 -- 'delivered' | 'read'
    up_to    INTEGER NOT NULL,                 -- gseq watermark
    PRIMARY KEY (group_id, status)
  ) WITHOUT ROWID;
  `,
  // v3: the users this user blocked (enforced on every incoming 1:1 delivery).
  `
  CREATE TABLE blocked (
    user_id TEXT    PRIMARY KEY,
    at      INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  // v4: settings (privacy, notifications; JSON), muted conversations, who watches this user's
  // presence, and pushes held back (quiet hours, mutes) to be folded into one summary.
  `
  CREATE TABLE settings (
    key   TEXT PRIMARY KEY,                    -- 'privacy' | 'notifications'
    value TEXT NOT NULL                        -- JSON
  ) WITHOUT ROWID;
  CREATE TABLE mutes (
    kind  TEXT    NOT NULL,                    -- 'direct' | 'group'
    id    TEXT    NOT NULL,                    -- peer user id or group id
    until INTEGER,                             -- NULL: always
    PRIMARY KEY (kind, id)
  ) WITHOUT ROWID;
  CREATE TABLE presence_watchers (
    viewer        TEXT    PRIMARY KEY,
    viewer_shares INTEGER NOT NULL,            -- the viewer shares their last seen with this user
    viewer_blocks INTEGER NOT NULL,            -- the viewer blocked this user
    is_contact    INTEGER NOT NULL,            -- the viewer is in this user's contacts
    since         INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE push_held (
    kind     TEXT    NOT NULL,
    id       TEXT    NOT NULL,
    count    INTEGER NOT NULL,
    first_at INTEGER NOT NULL,
    PRIMARY KEY (kind, id)
  ) WITHOUT ROWID;
  `,
  // v5: rate-limit buckets that survive restarts (hourly and daily budgets; a row only while a
  // bucket is not full), and the connect tickets already used (kept until they expire).
  `
  CREATE TABLE budgets (
    name    TEXT NOT NULL,                     -- the bucket (protocol/rate-limits.ts)
    key     TEXT NOT NULL,                     -- 'user', or the device id
    full_at REAL NOT NULL,                     -- ms when the bucket is full again
    PRIMARY KEY (name, key)
  ) WITHOUT ROWID;
  CREATE TABLE used_tickets (
    id         TEXT    PRIMARY KEY,            -- the ticket's id (jti)
    expires_at INTEGER NOT NULL                -- ms; the row is useless after it
  ) WITHOUT ROWID;
  `,
  // v6: privacy and account ownership. Per presence watcher, what it was last told (a watcher
  // is told only when what it may see changes; a new column reads as "hidden"). Per device
  // registered through `deviceAdded`, where its delivery starts and its history floor.
  `
  ALTER TABLE presence_watchers ADD COLUMN told_online INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE presence_watchers ADD COLUMN told_last_seen INTEGER;
  CREATE TABLE device_starts (
    device_id TEXT    PRIMARY KEY,
    start     INTEGER NOT NULL,                -- mailbox head right after its device_added entry: owed every later entry
    floor     INTEGER NOT NULL,                -- history and the chat list show it only entries above this (0: all)
    added_at  INTEGER NOT NULL
  ) WITHOUT ROWID;
  -- Blocks made before the D1 mirror existed are copied there once (MailboxCore.mirrorBlocksOnce).
  INSERT OR REPLACE INTO meta (key, value) VALUES ('blocks_mirror_pending', 1);
  `,
  // v7: message actions (reply, react, edit, delete, star, mark unread). Messages are found by
  // server id (an action names its target by it); a row deleted for this user only is hidden from
  // history; starred rows are listed newest first through a partial index (no cost for others);
  // media messages are found by media id (a recall keeps the recipient's download grant while
  // another of their messages names the same media).
  // `actions` makes every action idempotent by (actor, client id); `early_actions` keeps one
  // that reached this mailbox before the message it acts on (the sender's own copy is stored
  // after the recipient's); `message_entries` lists every mailbox entry holding a copy of a
  // message's content (its own and its updates), so deleting for everyone can rewrite them all.
  `
  CREATE INDEX messages_id ON messages (id);
  ALTER TABLE messages ADD COLUMN hidden INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE messages ADD COLUMN starred_at INTEGER;
  CREATE INDEX messages_starred ON messages (seq) WHERE starred_at IS NOT NULL;
  CREATE INDEX messages_media ON messages (json_extract(message, '$.body.media.id')) WHERE json_extract(message, '$.body.media.id') IS NOT NULL;
  ALTER TABLE conversations ADD COLUMN marked_unread INTEGER NOT NULL DEFAULT 0;

  ALTER TABLE group_entries ADD COLUMN message_id TEXT;
  UPDATE group_entries SET message_id = json_extract(entry, '$.message.id') WHERE json_extract(entry, '$.type') = 'message';
  CREATE INDEX group_entries_message ON group_entries (message_id) WHERE message_id IS NOT NULL;
  ALTER TABLE group_entries ADD COLUMN hidden INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE group_entries ADD COLUMN starred_at INTEGER;
  CREATE INDEX group_entries_starred ON group_entries (seq) WHERE starred_at IS NOT NULL;
  ALTER TABLE group_chats ADD COLUMN marked_unread INTEGER NOT NULL DEFAULT 0;

  CREATE TABLE actions (
    actor       TEXT    NOT NULL,
    client_id   TEXT    NOT NULL,
    target      TEXT    NOT NULL,              -- the message's server id
    fingerprint TEXT    NOT NULL,              -- what a retry must repeat (else id_conflict)
    at          INTEGER NOT NULL,
    PRIMARY KEY (actor, client_id)
  ) WITHOUT ROWID;
  CREATE TABLE early_actions (
    sender    TEXT    NOT NULL,                -- the target message's sender and client id
    client_id TEXT    NOT NULL,
    n         INTEGER NOT NULL,                -- arrival order
    action    TEXT    NOT NULL,                -- the action record as JSON
    PRIMARY KEY (sender, client_id, n)
  ) WITHOUT ROWID;
  CREATE TABLE message_entries (
    message_seq INTEGER NOT NULL,              -- the message's own mailbox entry
    entry_seq   INTEGER NOT NULL,              -- an update entry carrying a copy of it
    PRIMARY KEY (message_seq, entry_seq)
  ) WITHOUT ROWID;
  `,
  // v8: history tiers and search (issue 14). `search_hot` indexes the searchable text of every
  // visible message still in this object (rowid = mailbox seq; filters as unindexed columns),
  // kept by triggers so no code path can forget it: a deleted or hidden message leaves the index
  // in the same statement that changes it. Receipts and read marks do not touch the indexed
  // columns, so they cost the index nothing. `archived_chats`: the lowest and highest seq of each
  // chat that ever left this object (a history page asks the history shard only within them).
  `
  CREATE VIRTUAL TABLE search_hot USING fts5(
    text, chat UNINDEXED, id UNINDEXED, sender UNINDEXED, kind UNINDEXED, at UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2', columnsize = 0
  );
  CREATE TRIGGER messages_search_insert AFTER INSERT ON messages WHEN ${DIRECT_INDEXED('new')} BEGIN
    INSERT INTO search_hot (${DOC_COLUMNS}) VALUES (${DIRECT_DOC('new')});
  END;
  CREATE TRIGGER messages_search_update AFTER UPDATE OF message, hidden ON messages BEGIN
    DELETE FROM search_hot WHERE rowid = old.seq;
    INSERT INTO search_hot (${DOC_COLUMNS}) SELECT ${DIRECT_DOC('new')} WHERE ${DIRECT_INDEXED('new')};
  END;
  CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN
    DELETE FROM search_hot WHERE rowid = old.seq;
  END;
  CREATE TRIGGER group_entries_search_insert AFTER INSERT ON group_entries WHEN ${GROUP_INDEXED('new')} BEGIN
    INSERT INTO search_hot (${DOC_COLUMNS}) VALUES (${GROUP_DOC('new')});
  END;
  CREATE TRIGGER group_entries_search_update AFTER UPDATE OF entry, hidden ON group_entries BEGIN
    DELETE FROM search_hot WHERE rowid = old.seq;
    INSERT INTO search_hot (${DOC_COLUMNS}) SELECT ${GROUP_DOC('new')} WHERE ${GROUP_INDEXED('new')};
  END;
  CREATE TRIGGER group_entries_search_delete AFTER DELETE ON group_entries BEGIN
    DELETE FROM search_hot WHERE rowid = old.seq;
  END;
  INSERT INTO search_hot (${DOC_COLUMNS}) SELECT ${DIRECT_DOC('m')} FROM messages m WHERE ${DIRECT_INDEXED('m')};
  INSERT INTO search_hot (${DOC_COLUMNS}) SELECT ${GROUP_DOC('g')} FROM group_entries g WHERE ${GROUP_INDEXED('g')};

  -- Rows deleted for this user are dropped by the archiver, found without a scan.
  CREATE INDEX messages_hidden ON messages (seq) WHERE hidden = 1;
  CREATE INDEX group_entries_hidden ON group_entries (seq) WHERE hidden = 1;

  CREATE TABLE archived_chats (
    chat     TEXT    PRIMARY KEY,              -- 'd:<peer>' | 'g:<group>'
    min_seq  INTEGER NOT NULL,                 -- lowest seq of this chat ever moved out
    max_seq  INTEGER NOT NULL                  -- highest seq of this chat ever moved out
  ) WITHOUT ROWID;
  `,
  // v9: a read starts where the last one ended. Reads are "up to seq", so every incoming message
  // of a chat at or below \`read_through\` is read: marking a chat read scans only the messages
  // after it, not the whole chat (20,000 rows per read in a long chat).
  `
  ALTER TABLE conversations ADD COLUMN read_through INTEGER NOT NULL DEFAULT 0;
  UPDATE conversations SET read_through = coalesce(
    (SELECT max(seq) FROM messages m WHERE m.peer = conversations.peer AND m.outgoing = 0 AND m.status >= ${STATUS_RANK.read}), 0);
  `,
  // v10: large groups (read diffusion, ./large-groups.ts). The gseq of a group's
  // \`delivery_changed\` event (entries after it are not copied here; devices pull them) and
  // that event's mailbox seq (NULL: joined after the switch, nothing of the group is here).
  `
  ALTER TABLE group_chats ADD COLUMN large_from INTEGER;
  ALTER TABLE group_chats ADD COLUMN large_seq INTEGER;
  `,
  // v11: stars and deletions for this user of a large group's messages (./large-marks.ts): they
  // have no copy here, so the mark names the message (its content stays in the group's log).
  // \`seq\` is the mark's \`group_message_update\` entry: where a star sits in the starred list.
  `
  CREATE TABLE large_marks (
    group_id   TEXT    NOT NULL,
    message_id TEXT    NOT NULL,
    gseq       INTEGER NOT NULL,
    seq        INTEGER NOT NULL,
    starred_at INTEGER,
    hidden     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (group_id, message_id)
  ) WITHOUT ROWID;
  CREATE INDEX large_marks_starred ON large_marks (seq) WHERE starred_at IS NOT NULL;
  `,
  // v12: the hot search index catches up in batches (./search-backlog.ts). The triggers index
  // and re-index only rows at or below the watermark; every row there now is indexed already.
  `
  INSERT OR REPLACE INTO meta (key, value) VALUES ('search_through',
    max(coalesce((SELECT max(seq) FROM messages), 0), coalesce((SELECT max(seq) FROM group_entries), 0)));
  ${watermarkTriggers('messages', 'message', DIRECT_DOC, DIRECT_INDEXED)}
  ${watermarkTriggers('group_entries', 'entry', GROUP_DOC, GROUP_INDEXED)}
  `,
  // v13: a chat's newest message is read from the messages' (peer, seq) index when the chat list
  // is asked for (./chat-list.ts), no longer written into its row with every message.
  `
  ALTER TABLE conversations DROP COLUMN last_seq;
  `,
  // v14: a 1:1 message's JSON is stored once, in its history row. Its own mailbox entry keeps ''
  // and is built from that row when read (MailboxStore.range); before the row's message changes
  // (an edit, a reaction, a deletion) or the row goes (archived, dropped), these triggers write
  // the entry out in full as it was. Entries already stored give up their copy where it is the same.
  `
  ${keepEntryTriggers('messages', 'message', 'message', directFrameSql)}
  `,
  // v15: the same for a group message's copy (\`group_entries\`) and its \`group_message\` entry.
  `
  ${keepEntryTriggers('group_entries', 'entry', 'group_message', groupFrameSql)}
  `,
];

/** Bring the object's database to the newest schema (`meta` also holds pruned_through). */
export function migrate(sql: SqlStorage): void {
  applyMigrations(sql, MIGRATIONS);
}
