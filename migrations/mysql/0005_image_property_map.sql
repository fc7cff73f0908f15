-- Each image row carries its properties as one JSON object, written with the rest of the row:
-- reading an image or a page of them then reads only image rows. image_properties keeps the
-- same properties as rows, for the property filters. Existing images get theirs from
-- image_properties. (A TEXT column takes no literal default on MySQL, hence NULL first.)
ALTER TABLE images ADD COLUMN properties LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL;
UPDATE images AS i
JOIN (
    SELECT image_id, JSON_OBJECTAGG(name, value) AS map
    FROM image_properties GROUP BY image_id
) AS p ON p.image_id = i.id
SET i.properties = p.map;
UPDATE images SET properties = '{}' WHERE properties IS NULL;
ALTER TABLE images MODIFY properties LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL;
