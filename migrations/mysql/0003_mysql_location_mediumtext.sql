-- A location may have 65,535 characters, but TEXT holds 65,535 bytes: a long location with
-- multi-byte characters was refused by the database (a 500). MEDIUMTEXT holds them all, as it
-- already does for property values. Same NO PAD collation as 0002.
SET @glimpse_nopad := IF(VERSION() LIKE '%MariaDB%', 'utf8mb4_nopad_bin',
    IF(CAST(SUBSTRING_INDEX(VERSION(), '.', 1) AS UNSIGNED) >= 8, 'utf8mb4_0900_bin', 'utf8mb4_bin'));

SET @glimpse_sql := CONCAT(
    'ALTER TABLE images',
    ' MODIFY location MEDIUMTEXT CHARACTER SET utf8mb4 COLLATE ', @glimpse_nopad, ' NULL');
PREPARE glimpse_stmt FROM @glimpse_sql;
EXECUTE glimpse_stmt;
DEALLOCATE PREPARE glimpse_stmt;
