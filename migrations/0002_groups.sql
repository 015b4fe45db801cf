-- Groups: a mirror of each group's Durable Object (which holds the authoritative member list
-- and the group log), kept so a user's groups can be listed and operators can query them.
-- The group object writes these rows after every change and re-syncs them if a write failed.
-- Mirrors db/schema.ts.

CREATE TABLE groups (
  id TEXT PRIMARY KEY NOT NULL,               -- ULID; also the name of the group's Durable Object
  title TEXT NOT NULL,
  created_by TEXT NOT NULL REFERENCES users (id),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  member_count INTEGER NOT NULL
) STRICT;

CREATE TABLE group_members (
  group_id TEXT NOT NULL REFERENCES groups (id),
  user_id TEXT NOT NULL REFERENCES users (id),
  role TEXT NOT NULL,                         -- 'admin' | 'member'
  joined_at INTEGER NOT NULL,
  PRIMARY KEY (group_id, user_id)
) STRICT;

CREATE INDEX group_members_user_idx ON group_members (user_id);

-- Fan-out jobs that exhausted their retries (from the dead-letter queue): the metric operators
-- watch, and what is needed to replay them.
CREATE TABLE dead_letters (
  id TEXT PRIMARY KEY NOT NULL,               -- the queue message id
  queue TEXT NOT NULL,
  body TEXT NOT NULL,                         -- the job as JSON
  attempts INTEGER NOT NULL,
  failed_at INTEGER NOT NULL
) STRICT;
