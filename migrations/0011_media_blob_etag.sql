-- Direct uploads to R2 (presigned URLs, issue 12). Mirrors db/schema.ts.
--
-- A presigned URL keeps working until it expires, even after the upload was verified: whoever
-- holds it could replace the verified bytes. So for an object uploaded that way the entity tag R2
-- gave the verified bytes is kept, and the object is only served (and only shared with duplicates)
-- while it still has that tag. NULL for objects written by the Worker itself, which nobody else
-- can write.
ALTER TABLE media ADD COLUMN blob_etag TEXT;
