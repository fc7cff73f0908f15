-- Each image row carries its properties as one JSON object (text: only glimpse reads it),
-- written with the rest of the row: reading an image or a page of them then reads only image
-- rows. image_properties keeps the same properties as rows, for the property filters.
-- Existing images get theirs from image_properties.
ALTER TABLE images ADD COLUMN properties TEXT NOT NULL DEFAULT '{}';
UPDATE images AS i SET properties = p.map
FROM (
    SELECT image_id, json_object_agg(name, value)::text AS map
    FROM image_properties GROUP BY image_id
) AS p
WHERE p.image_id = i.id;
