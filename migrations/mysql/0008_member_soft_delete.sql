-- A removed membership is kept as a tombstone, as Glance keeps it: a v1 update that names
-- the member again revives the row with its old status (contract §7), and a v2 re-add
-- reuses it as pending. Every read of memberships skips deleted rows.
ALTER TABLE image_members ADD COLUMN deleted BOOLEAN NOT NULL DEFAULT FALSE;
