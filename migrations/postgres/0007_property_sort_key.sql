-- Each property row carries its image's created_at (which never changes), so that the index
-- below gives the images with a property value in the default list order: a filtered page
-- reads its 25 entries from that index whatever the value's share of the catalog, instead
-- of collecting every match and sorting it. It replaces the (name, value prefix, image_id)
-- index, of which it is an extension.
ALTER TABLE image_properties ADD COLUMN image_created_at TIMESTAMP(6);
UPDATE image_properties p SET image_created_at = i.created_at FROM images i WHERE i.id = p.image_id;
CREATE INDEX ix_image_properties_sorted
    ON image_properties (name, substr(value, 1, 200), image_created_at, image_id);
DROP INDEX ix_image_properties_name_value;
