-- Privacy and account ownership (issue 11). Mirrors db/schema.ts.
--
-- The user's mailbox object keeps their settings and blocks (it enforces them on every
-- delivery); the Worker needs some of them to decide routes that never reach that object (who
-- may see an about, who may add whom to a group), so they are mirrored here, written by the same
-- routes right after the object.

-- Privacy settings the Worker applies (protocol/presence.ts PrivacySettings), and deletion: a
-- deleted account keeps its row as a tombstone (groups it created still name it) with the phone
-- number replaced, so the number is free for a new account.
ALTER TABLE users ADD COLUMN profile_visibility TEXT NOT NULL DEFAULT 'contacts'; -- 'everyone' | 'contacts' | 'nobody'
ALTER TABLE users ADD COLUMN group_add TEXT NOT NULL DEFAULT 'contacts';          -- who may add them to groups directly
ALTER TABLE users ADD COLUMN read_receipts INTEGER NOT NULL DEFAULT 1;            -- 0: they neither send nor see read receipts
ALTER TABLE users ADD COLUMN deleted_at INTEGER;                                  -- set when the account was deleted

-- Sessions: one rotating refresh token per device (only hashes are stored). The previous hash is
-- kept so a token presented after it was rotated is recognised as stolen: the device is revoked.
-- A retry with the previous token just after its rotation (its answer was lost) is answered once
-- more; the token that retry displaced is kept too (refresh_displaced_hash), so it revokes as well.
-- `trusted_at`: when the device proved it is the owner's beyond the SMS code (entered the PIN, or
-- created the account); until a day has passed, untrusted devices cannot remove older ones.
ALTER TABLE devices ADD COLUMN refresh_hash TEXT;
ALTER TABLE devices ADD COLUMN refresh_prev_hash TEXT;
ALTER TABLE devices ADD COLUMN refresh_displaced_hash TEXT;
ALTER TABLE devices ADD COLUMN refreshed_at INTEGER;
ALTER TABLE devices ADD COLUMN trusted_at INTEGER;

-- The two-step verification PIN: a salted PBKDF2 hash, the failed guesses and the lock they
-- caused, and a pending reset (it takes effect at reset_at).
CREATE TABLE account_pins (
  user_id TEXT PRIMARY KEY NOT NULL REFERENCES users (id),
  pin_hash TEXT NOT NULL,
  salt TEXT NOT NULL,
  failed INTEGER NOT NULL DEFAULT 0,
  locked_until INTEGER,
  reset_at INTEGER,
  set_at INTEGER NOT NULL
) STRICT;

-- A login that proved the phone number and now owes the PIN: no device exists until it is entered.
CREATE TABLE pin_challenges (
  challenge_hash TEXT PRIMARY KEY NOT NULL,   -- hex HMAC of the challenge; never the challenge
  user_id TEXT NOT NULL REFERENCES users (id),
  device_name TEXT,
  platform TEXT,
  expires_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX pin_challenges_expires_idx ON pin_challenges (expires_at);

-- Blocks, mirrored from the blocker's mailbox object.
CREATE TABLE blocks (
  owner_id TEXT NOT NULL REFERENCES users (id),
  blocked_id TEXT NOT NULL REFERENCES users (id),
  created_at INTEGER NOT NULL,
  PRIMARY KEY (owner_id, blocked_id)
) STRICT;
CREATE INDEX blocks_blocked_idx ON blocks (blocked_id);

-- Pending group invites, mirrored from the group object (authoritative) like group_members.
CREATE TABLE group_invites (
  group_id TEXT NOT NULL REFERENCES groups (id),
  user_id TEXT NOT NULL REFERENCES users (id),
  invited_by TEXT NOT NULL REFERENCES users (id),
  created_at INTEGER NOT NULL,
  PRIMARY KEY (group_id, user_id)
) STRICT;
CREATE INDEX group_invites_user_idx ON group_invites (user_id, group_id);

-- A user's groups, newest first, paged by group id (GET /v1/groups?before=).
CREATE INDEX group_members_user_group_idx ON group_members (user_id, group_id);

-- Invite links: code -> group, so a link can be resolved without knowing the group. One live
-- link per group; revoking or replacing it deletes the row.
CREATE TABLE group_links (
  code TEXT PRIMARY KEY NOT NULL,             -- 22 base64url characters
  group_id TEXT NOT NULL UNIQUE REFERENCES groups (id)
) STRICT;
