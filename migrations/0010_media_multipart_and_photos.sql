-- Media, second part (issue 12). Mirrors db/schema.ts.
--
-- Multipart uploads (files over MEDIA_PART_SIZE): the R2 multipart upload id on the media row,
-- and one row per part received (its R2 entity tag), so an upload cut off half-way resumes with
-- the parts already stored. Rows go when the upload completes or expires.
ALTER TABLE media ADD COLUMN upload_id TEXT;
CREATE TABLE media_parts (
  media_id TEXT NOT NULL REFERENCES media (id),
  part INTEGER NOT NULL,                       -- 1-based
  etag TEXT NOT NULL,
  size INTEGER NOT NULL,
  PRIMARY KEY (media_id, part)
) STRICT;

-- When something first named the media (a message, a profile photo, a group picture). A complete
-- upload nothing ever named expires like an unused slot (expires_at, 24 h after the slot).
ALTER TABLE media ADD COLUMN referenced_at INTEGER;

-- Profile photos: the media id of an `avatar` upload of the user's own, or NULL.
ALTER TABLE users ADD COLUMN photo TEXT;
