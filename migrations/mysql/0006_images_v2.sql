-- What the v2 images API needs, on the same catalog. `visibility` replaces `is_public` by the
-- rule Glance's Ocata migration ran: public stays public; a non-public image with members is
-- shared; one without is private. v1 reads is_public as visibility = 'public'.
ALTER TABLE images ADD COLUMN visibility VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'shared';
UPDATE images SET visibility = CASE
    WHEN is_public THEN 'public'
    WHEN EXISTS (SELECT 1 FROM image_members m WHERE m.image_id = images.id) THEN 'shared'
    ELSE 'private' END;
ALTER TABLE images DROP COLUMN is_public;
ALTER TABLE images ADD COLUMN os_hidden BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE images ADD COLUMN os_hash_algo VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL;
ALTER TABLE images ADD COLUMN os_hash_value VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NULL;
-- Tags travel with the row as a JSON array (as the properties map does); image_tags holds
-- the same tags as rows, for the `tag=` filter. (A TEXT column takes no literal default on
-- MySQL, hence NULL first.)
ALTER TABLE images ADD COLUMN tags LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL;
UPDATE images SET tags = '[]';
ALTER TABLE images MODIFY tags LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL;
ALTER TABLE image_members ADD COLUMN status VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'pending';
-- Tag values compare byte-exact without trailing-space padding, as in migration 0002.
SET @glimpse_nopad := IF(VERSION() LIKE '%MariaDB%', 'utf8mb4_nopad_bin',
    IF(CAST(SUBSTRING_INDEX(VERSION(), '.', 1) AS UNSIGNED) >= 8, 'utf8mb4_0900_bin', 'utf8mb4_bin'));
SET @glimpse_sql := CONCAT(
    'CREATE TABLE image_tags (',
    ' image_id VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,',
    ' value VARCHAR(255) CHARACTER SET utf8mb4 COLLATE ', @glimpse_nopad, ' NOT NULL,',
    ' PRIMARY KEY (image_id, value),',
    ' INDEX ix_image_tags_value (value, image_id),',
    ' CONSTRAINT fk_image_tags_image FOREIGN KEY (image_id) REFERENCES images (id)',
    ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4');
PREPARE glimpse_stmt FROM @glimpse_sql;
EXECUTE glimpse_stmt;
DEALLOCATE PREPARE glimpse_stmt;
