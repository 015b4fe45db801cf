-- Accounts and devices: who can log in (users by phone number), which devices hold tokens, and
-- the one-time codes that prove a phone number. Mirrors db/schema.ts column for column.
-- Timestamps are integer milliseconds since the epoch. STRICT makes SQLite reject wrongly typed
-- values instead of silently storing them.

CREATE TABLE users (
  id TEXT PRIMARY KEY NOT NULL,               -- ULID
  phone TEXT NOT NULL UNIQUE,                 -- E.164, normalised by the server
  display_name TEXT NOT NULL DEFAULT '',
  about TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE devices (
  id TEXT PRIMARY KEY NOT NULL,               -- ULID; the `did` claim of the device's token
  user_id TEXT NOT NULL REFERENCES users (id),
  name TEXT,
  platform TEXT,
  created_at INTEGER NOT NULL,
  last_seen_at INTEGER,
  revoked_at INTEGER                          -- set on logout; a revoked device never comes back
) STRICT;

CREATE INDEX devices_user_id_idx ON devices (user_id);

-- One row per phone number: the current code (if any) and the request rate-limit window. The row
-- outlives a burned or expired code so the rate limit cannot be reset by burning codes.
CREATE TABLE otp_codes (
  phone TEXT PRIMARY KEY NOT NULL,            -- E.164
  code_hash TEXT NOT NULL,                    -- hex HMAC-SHA-256(TOKEN_SECRET, phone:code); never the code
  expires_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,        -- wrong (or in-flight) verify attempts on this code
  requested_at INTEGER NOT NULL,              -- when the current code was issued
  window_start INTEGER NOT NULL,              -- start of the current rate-limit window
  window_count INTEGER NOT NULL DEFAULT 0     -- codes requested in that window
) STRICT;
