-- Expiry of uploads that never completed (issue 12, lifecycle). Mirrors db/schema.ts.
--
-- The sweep (worker/media/sweep.ts) deletes expired pending/uploading and old failed rows with
-- their R2 object, unless another row's blob_key still names that object: looked up by key here.
CREATE INDEX media_blob_key_idx ON media (blob_key);

-- Counters of media housekeeping for GET /v1/metrics (name -> running total), e.g. 'swept'.
CREATE TABLE media_counters (
  name TEXT PRIMARY KEY NOT NULL,
  count INTEGER NOT NULL
) STRICT;
