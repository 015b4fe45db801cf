-- Push notifications and operational gauges. Mirrors db/schema.ts.

-- One push token per device (registering again replaces it). A token belongs to one device:
-- a token re-registered by another device (reinstall, new login) moves there.
CREATE TABLE push_tokens (
  device_id TEXT PRIMARY KEY REFERENCES devices (id),
  user_id TEXT NOT NULL REFERENCES users (id),
  platform TEXT NOT NULL,                     -- 'apns' | 'fcm' | 'webhook'
  token TEXT NOT NULL,
  registered_at INTEGER NOT NULL
) STRICT;
CREATE INDEX push_tokens_user_idx ON push_tokens (user_id);
CREATE UNIQUE INDEX push_tokens_token_idx ON push_tokens (platform, token);

-- Outcome counters of the push consumer (the metric): sent, failed, retried, invalid_token, ...
CREATE TABLE push_counters (
  outcome TEXT PRIMARY KEY,
  count INTEGER NOT NULL
) STRICT;

-- The local sink provider (PUSH_MODE=sink): every push that would have been sent.
CREATE TABLE push_sink (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  platform TEXT NOT NULL,
  payload TEXT NOT NULL,                      -- the notification, JSON
  at INTEGER NOT NULL
) STRICT;
CREATE INDEX push_sink_user_idx ON push_sink (user_id, id);

-- Per-mailbox gauges, reported by each user's mailbox object when devices connect or disconnect
-- and on its alarms: connected devices and mailbox depth for the metrics endpoint.
CREATE TABLE mailbox_gauges (
  user_id TEXT PRIMARY KEY,
  connections INTEGER NOT NULL,
  depth INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
