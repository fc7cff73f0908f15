-- utf8mb4_bin is a PAD SPACE collation on MariaDB and MySQL: 'a' = 'a ' is true. That made
-- name, status, format, property and member matches inexact, and made property names (or
-- member ids) that differ only in trailing spaces collide on their primary keys. The text
-- columns move to the binary NO PAD collation of the server (utf8mb4_nopad_bin on MariaDB,
-- utf8mb4_0900_bin on MySQL 8), so every comparison is byte-exact as on the other backends.
-- MySQL before 8.0 has no such collation and keeps utf8mb4_bin.
SET @glimpse_nopad := IF(VERSION() LIKE '%MariaDB%', 'utf8mb4_nopad_bin',
    IF(CAST(SUBSTRING_INDEX(VERSION(), '.', 1) AS UNSIGNED) >= 8, 'utf8mb4_0900_bin', 'utf8mb4_bin'));

SET @glimpse_sql := CONCAT(
    'ALTER TABLE images',
    ' MODIFY name             VARCHAR(255) CHARACTER SET utf8mb4 COLLATE ', @glimpse_nopad, ' NULL,',
    ' MODIFY status           VARCHAR(32)  CHARACTER SET utf8mb4 COLLATE ', @glimpse_nopad, ' NOT NULL,',
    ' MODIFY disk_format      VARCHAR(64)  CHARACTER SET utf8mb4 COLLATE ', @glimpse_nopad, ' NULL,',
    ' MODIFY container_format VARCHAR(64)  CHARACTER SET utf8mb4 COLLATE ', @glimpse_nopad, ' NULL,',
    ' MODIFY checksum         VARCHAR(32)  CHARACTER SET utf8mb4 COLLATE ', @glimpse_nopad, ' NULL,',
    ' MODIFY owner            VARCHAR(255) CHARACTER SET utf8mb4 COLLATE ', @glimpse_nopad, ' NULL,',
    ' MODIFY location         TEXT         CHARACTER SET utf8mb4 COLLATE ', @glimpse_nopad, ' NULL');
PREPARE glimpse_stmt FROM @glimpse_sql;
EXECUTE glimpse_stmt;
DEALLOCATE PREPARE glimpse_stmt;

SET @glimpse_sql := CONCAT(
    'ALTER TABLE image_properties',
    ' MODIFY name  VARCHAR(255) CHARACTER SET utf8mb4 COLLATE ', @glimpse_nopad, ' NOT NULL,',
    ' MODIFY value MEDIUMTEXT   CHARACTER SET utf8mb4 COLLATE ', @glimpse_nopad, ' NOT NULL');
PREPARE glimpse_stmt FROM @glimpse_sql;
EXECUTE glimpse_stmt;
DEALLOCATE PREPARE glimpse_stmt;

SET @glimpse_sql := CONCAT(
    'ALTER TABLE image_members',
    ' MODIFY member VARCHAR(255) CHARACTER SET utf8mb4 COLLATE ', @glimpse_nopad, ' NOT NULL');
PREPARE glimpse_stmt FROM @glimpse_sql;
EXECUTE glimpse_stmt;
DEALLOCATE PREPARE glimpse_stmt;
