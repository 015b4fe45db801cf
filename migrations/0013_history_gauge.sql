-- History tiers (issue 14): each mailbox reports how many history rows it keeps (the hot tier)
-- when an archive batch moved some, for GET /v1/metrics (history.hot).
ALTER TABLE mailbox_gauges ADD COLUMN hot_messages INTEGER NOT NULL DEFAULT 0;
