-- Each property row carries its image's visibility too (kept in step by every write that
-- changes it), and the sorted property index ends with it: a filtered page that can only
-- list some visibilities (public for the default list) skips the other entries in the index
-- instead of reading each of those images to find out. It replaces ix_image_properties_sorted,
-- of which it is an extension.
ALTER TABLE image_properties ADD COLUMN image_visibility TEXT;
UPDATE image_properties
   SET image_visibility = (SELECT visibility FROM images WHERE images.id = image_properties.image_id);
CREATE INDEX ix_image_properties_listed
    ON image_properties (name, value, image_created_at, image_id, image_visibility);
DROP INDEX ix_image_properties_sorted;
