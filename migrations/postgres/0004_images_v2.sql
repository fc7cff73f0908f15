-- What the v2 images API needs, on the same catalog. `visibility` replaces `is_public` by the
-- rule Glance's Ocata migration ran: public stays public; a non-public image with members is
-- shared; one without is private. v1 reads is_public as visibility = 'public'.
ALTER TABLE images ADD COLUMN visibility TEXT COLLATE "C" NOT NULL DEFAULT 'shared';
UPDATE images SET visibility = CASE
    WHEN is_public THEN 'public'
    WHEN EXISTS (SELECT 1 FROM image_members m WHERE m.image_id = images.id) THEN 'shared'
    ELSE 'private' END;
ALTER TABLE images DROP COLUMN is_public;
ALTER TABLE images ADD COLUMN os_hidden BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE images ADD COLUMN os_hash_algo TEXT;
ALTER TABLE images ADD COLUMN os_hash_value TEXT;
-- Tags travel with the row as a JSON array (as the properties map does); image_tags holds
-- the same tags as rows, for the `tag=` filter.
ALTER TABLE images ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
CREATE TABLE image_tags (
    image_id VARCHAR(36) COLLATE "C" NOT NULL REFERENCES images (id),
    value    TEXT        COLLATE "C" NOT NULL,
    PRIMARY KEY (image_id, value)
);
CREATE INDEX ix_image_tags_value ON image_tags (value, image_id);
-- Rows written by v1 (and new v2 members) are pending until the member project answers.
ALTER TABLE image_members ADD COLUMN status TEXT NOT NULL DEFAULT 'pending';
