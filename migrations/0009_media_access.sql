-- Who besides the uploader may download a media item (issue 12). Mirrors db/schema.ts.
--
-- Written by the sender's mailbox object when a message naming the media is sent, before the
-- message is delivered or posted: a 1:1 message grants its recipient ('user'), a group message
-- grants the group ('group'; only its current members, per group_members, may download).
-- INSERT OR IGNORE: a retried send writes nothing new.
CREATE TABLE media_access (
  media_id TEXT NOT NULL REFERENCES media (id),
  grantee_kind TEXT NOT NULL,                  -- 'user' | 'group'
  grantee_id TEXT NOT NULL,                    -- a user id or a group id
  granted_at INTEGER NOT NULL,
  PRIMARY KEY (media_id, grantee_kind, grantee_id)
) STRICT;
