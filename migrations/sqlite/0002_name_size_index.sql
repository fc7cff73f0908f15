-- Lists filtered by name and sorted by size (a common client query) read this index in order
-- instead of walking the whole size range and checking names: 20 ms -> 0.2 ms at 100k images.
CREATE INDEX ix_images_name_size ON images (deleted, name, size, created_at, id);
