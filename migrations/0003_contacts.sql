-- Contacts: each user's own address book of other users (added by phone number), with an
-- optional label. Blocking is not here: it lives in the blocker's mailbox object, which is where
-- it is enforced on every delivery. Mirrors db/schema.ts.

CREATE TABLE contacts (
  owner_id TEXT NOT NULL REFERENCES users (id),
  contact_id TEXT NOT NULL REFERENCES users (id),
  name TEXT NOT NULL DEFAULT '',              -- the owner's label for them
  created_at INTEGER NOT NULL,
  PRIMARY KEY (owner_id, contact_id)
) STRICT;

-- "Who has me as a contact" (for presence visibility rules).
CREATE INDEX contacts_contact_idx ON contacts (contact_id);
