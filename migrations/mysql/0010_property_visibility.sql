-- Each property row carries its image's visibility too (kept in step by every write that
-- changes it), and the sorted property index ends with it: a filtered page that can only
-- list some visibilities (public for the default list) skips the other entries in the index
-- instead of reading each of those images to find out. It replaces ix_image_properties_sorted,
-- of which it is an extension.
ALTER TABLE image_properties ADD COLUMN image_visibility VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NULL;
UPDATE image_properties p JOIN images i ON i.id = p.image_id SET p.image_visibility = i.visibility;
CREATE INDEX ix_image_properties_listed
    ON image_properties (name, value(200), image_created_at, image_id, image_visibility);
DROP INDEX ix_image_properties_sorted ON image_properties;
