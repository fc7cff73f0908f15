-- Lists filtered by name and sorted by size read this index in order (see the SQLite twin).
CREATE INDEX ix_images_name_size ON images (deleted, name, size NULLS FIRST, created_at, id);
