-- Each property row carries its image's created_at (which never changes), so that the index
-- below gives the images with a property value in the default list order: a filtered page
-- reads its 25 entries from that index whatever the value's share of the catalog, instead
-- of collecting every match and sorting it. It replaces the (name, value, image_id) index,
-- of which it is an extension.
ALTER TABLE image_properties ADD COLUMN image_created_at TEXT;
UPDATE image_properties
   SET image_created_at = (SELECT created_at FROM images WHERE images.id = image_properties.image_id);
CREATE INDEX ix_image_properties_sorted
    ON image_properties (name, value, image_created_at, image_id);
DROP INDEX ix_image_properties_name_value;
