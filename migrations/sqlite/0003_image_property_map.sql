-- Each image row carries its properties as one JSON object, written with the rest of the row:
-- reading an image or a page of them then reads only image rows (the property rows cost a
-- B-tree descent per image). image_properties keeps the same properties as rows, for the
-- property filters. Existing images get theirs from image_properties.
ALTER TABLE images ADD COLUMN properties TEXT NOT NULL DEFAULT '{}';
UPDATE images SET properties = (
    SELECT json_group_object(p.name, p.value) FROM image_properties p WHERE p.image_id = images.id
) WHERE id IN (SELECT image_id FROM image_properties);
