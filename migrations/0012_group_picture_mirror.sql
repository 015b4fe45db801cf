-- Group pictures in the D1 mirror (issue 12), so the group list can show them without a call to
-- each group's object. Mirrors db/schema.ts; written with the rest of the mirror.
ALTER TABLE groups ADD COLUMN picture TEXT;
