-- History shard schema (issue 14): applied to every history D1 database (HISTORY_0, HISTORY_1, ...).
-- Read and written by db/history/*; owners are spread over shards by db/history/shards.ts.
--
-- D1 bills every row written, index entries included, so each table has only the indexes its
-- queries need, and the wide columns (`row`, `text`) appear in no index.

-- Warm tier: one row per message copy of one owner (a user's mailbox) that left the owner's
-- Durable Object, holding the hot row verbatim (`row`, opaque JSON) until it moves to R2 (cold).
-- `batch` is the archive batch that wrote it: a row is replaced only by an equal-or-higher batch,
-- so queue redeliveries and stale batches are harmless. The primary key is the owner's mailbox
-- seq (the history cursor), clustered (WITHOUT ROWID) so an owner's rows sit together.
CREATE TABLE history_warm (
  owner TEXT NOT NULL,
  seq INTEGER NOT NULL,
  chat TEXT NOT NULL,
  id TEXT,
  sender TEXT,
  at INTEGER NOT NULL,
  kind TEXT NOT NULL,
  batch INTEGER NOT NULL,
  row TEXT NOT NULL,
  PRIMARY KEY (owner, seq)
) STRICT, WITHOUT ROWID;

-- History pages of one chat, newest first (warmPage).
CREATE INDEX history_warm_chat_idx ON history_warm (owner, chat, seq);
-- A message by its server id (actions on archived messages: findWarm). Group system events have
-- no id and take no index entry.
CREATE INDEX history_warm_id_idx ON history_warm (owner, id) WHERE id IS NOT NULL;
-- Rows due to move on, oldest first (warmDue, moveToCold).
CREATE INDEX history_warm_at_idx ON history_warm (owner, at);

-- Cold tier index: one row per R2 object (`key`, gzip'd NDJSON of up to 500 rows of one chat and
-- UTC month, seq ascending). Pages of a chat walk these by last_seq, newest first, and read only
-- the objects they need; first_at/last_at find the chunk of a message by its time (findCold).
-- count/bytes are for the operators' gauges. No index but the primary key.
CREATE TABLE history_chunks (
  owner TEXT NOT NULL,
  chat TEXT NOT NULL,
  first_seq INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  first_at INTEGER NOT NULL,
  last_at INTEGER NOT NULL,
  count INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  key TEXT NOT NULL,
  PRIMARY KEY (owner, chat, last_seq)
) STRICT, WITHOUT ROWID;

-- Search documents of warm and cold messages (cold ones keep theirs here: R2 is not searchable).
-- Only messages with searchable text have one (not ciphertext, deleted, hidden or events), with
-- the columns the search filters need. `docid` is the FTS rowid. UNIQUE (owner, seq) is both the
-- upsert target and the index for an owner's docs by seq (descending scans use it too), so no
-- other index is needed.
CREATE TABLE search_docs (
  docid INTEGER PRIMARY KEY,
  owner TEXT NOT NULL,
  seq INTEGER NOT NULL,
  chat TEXT NOT NULL,
  id TEXT NOT NULL,
  sender TEXT NOT NULL,
  kind TEXT NOT NULL,
  at INTEGER NOT NULL,
  text TEXT NOT NULL,
  UNIQUE (owner, seq)
) STRICT;

-- Full-text index over search_docs (external content: the text is stored once, in search_docs).
-- Accents and case are ignored ("cafe" finds "Café"); queries use prefix terms on `text` only.
-- `owner` is indexed too, so a query intersects the word's postings with the owner's
-- (`owner : "<id>" AND text : (...)`) instead of visiting every owner's matches in the shard, or
-- re-running the match once per document of the owner.
CREATE VIRTUAL TABLE search_fts USING fts5(
  text,
  owner,
  content = 'search_docs',
  content_rowid = 'docid',
  tokenize = 'unicode61 remove_diacritics 2'
);

-- The triggers keep search_fts equal to search_docs. An update reindexes only when the text
-- changed (an upsert of the same text writes nothing to the index; owner never changes).
CREATE TRIGGER search_docs_ai AFTER INSERT ON search_docs BEGIN
  INSERT INTO search_fts (rowid, text, owner) VALUES (new.docid, new.text, new.owner);
END;

CREATE TRIGGER search_docs_ad AFTER DELETE ON search_docs BEGIN
  INSERT INTO search_fts (search_fts, rowid, text, owner) VALUES ('delete', old.docid, old.text, old.owner);
END;

CREATE TRIGGER search_docs_au AFTER UPDATE OF text ON search_docs WHEN old.text IS NOT new.text BEGIN
  INSERT INTO search_fts (search_fts, rowid, text, owner) VALUES ('delete', old.docid, old.text, old.owner);
  INSERT INTO search_fts (rowid, text, owner) VALUES (new.docid, new.text, new.owner);
END;
