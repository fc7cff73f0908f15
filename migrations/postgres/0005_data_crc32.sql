-- A CRC-32 of the stored image data, computed at upload: downloads verify it as they stream
-- (md5, the checksum clients see, is too slow to check at wire speed). NULL: no data, or data
-- stored before this column (downloads then verify the md5).
ALTER TABLE images ADD COLUMN data_crc32 BIGINT NULL;
