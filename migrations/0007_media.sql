-- Media uploads (issue 12). Mirrors the `media` table of db/schema.ts.
--
-- One row per upload slot: who asked, what they declared (kind, type, size, SHA-256) and whether
-- the bytes arrived and matched. The bytes are in the MEDIA R2 bucket under `blob_key`. Two
-- verified uploads of the same bytes may share one object (the later one points at the earlier
-- one's key), but each keeps its own id and owner: access is decided per row, never per hash.
CREATE TABLE media (
  id TEXT PRIMARY KEY NOT NULL,                -- ULID
  owner_id TEXT NOT NULL REFERENCES users (id),
  kind TEXT NOT NULL,                          -- protocol/media.ts MediaKind
  mime TEXT NOT NULL,                          -- lowercase essence, no parameters
  size INTEGER NOT NULL,
  sha256 TEXT NOT NULL,                        -- lowercase hex
  status TEXT NOT NULL,                        -- 'pending' | 'uploading' | 'complete' | 'failed'
  blob_key TEXT,                               -- R2 key of the verified bytes (complete only)
  upload_nonce TEXT,                           -- the live upload capability's nonce; cleared on use
  upload_expires_at INTEGER NOT NULL,          -- the upload capability stops working
  expires_at INTEGER NOT NULL,                 -- an unreferenced upload may be swept after this
  created_at INTEGER NOT NULL,
  completed_at INTEGER
) STRICT;
-- Same-owner dedup: a complete upload of these bytes with this type.
CREATE INDEX media_owner_hash_idx ON media (owner_id, sha256, size);
-- Sharing one stored object between verified uploads of the same bytes.
CREATE INDEX media_hash_idx ON media (sha256, size);
CREATE INDEX media_expires_idx ON media (status, expires_at);
