-- One-time codes bound to a challenge, and growing waits between code requests. Replaces
-- otp_codes (one code per number plus a per-number request window), which let anyone who knew a
-- number replace or burn its owner's code. Mirrors db/schema.ts.

DROP TABLE otp_codes;

-- One row per code request that is still pending. Several may be live for one number at once (one
-- per requesting client), so a stranger's request neither replaces nor burns the owner's code.
-- worker/auth/otp.ts keeps at most a few per number and deletes expired ones as it goes.
CREATE TABLE otp_challenges (
  id INTEGER PRIMARY KEY,                     -- insertion order: "newest" when trimming a number's rows
  phone TEXT NOT NULL,                        -- E.164
  challenge_hash TEXT NOT NULL UNIQUE,        -- hex HMAC-SHA-256(TOKEN_SECRET, phone:challenge); never the challenge
  code_hash TEXT NOT NULL,                    -- hex HMAC-SHA-256(TOKEN_SECRET, phone:challenge:code); never the code
  expires_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,        -- wrong (or in-flight) verify attempts on this challenge
  created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX otp_challenges_phone_idx ON otp_challenges (phone, id);
CREATE INDEX otp_challenges_expires_idx ON otp_challenges (expires_at);

-- Code requests per number and client address, for the growing waits between them
-- (OTP_RESEND_WAITS_MS). The count starts again OTP_RESEND_RESET_MS after its first request; a row
-- older than that means nothing any more and may be deleted.
CREATE TABLE otp_resends (
  phone TEXT NOT NULL,                        -- E.164
  client_hash TEXT NOT NULL,                  -- hex HMAC-SHA-256(TOKEN_SECRET, client IP); never the address
  first_at INTEGER NOT NULL,                  -- first request of the current count
  last_at INTEGER NOT NULL,                   -- latest request that was let through
  count INTEGER NOT NULL,                     -- requests let through since first_at
  PRIMARY KEY (phone, client_hash)
) STRICT;
CREATE INDEX otp_resends_first_at_idx ON otp_resends (first_at);
