-- The registry schema on SQLite. Timestamps are fixed-width UTC text
-- ('YYYY-MM-DD HH:MM:SS.ffffff'), so text order is time order.
CREATE TABLE images (
    id               TEXT    NOT NULL PRIMARY KEY,
    name             TEXT,
    status           TEXT    NOT NULL,
    disk_format      TEXT,
    container_format TEXT,
    size             INTEGER,
    virtual_size     INTEGER,
    checksum         TEXT,
    min_disk         INTEGER NOT NULL DEFAULT 0,
    min_ram          INTEGER NOT NULL DEFAULT 0,
    is_public        BOOLEAN NOT NULL DEFAULT 0,
    protected        BOOLEAN NOT NULL DEFAULT 0,
    owner            TEXT,
    location         TEXT,
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL,
    deleted_at       TEXT,
    deleted          BOOLEAN NOT NULL DEFAULT 0,
    version          INTEGER NOT NULL DEFAULT 1
);

-- One index per sort key, led by `deleted` (every live query has deleted = 0) and ending in
-- the tie-breakers, so a keyset page is an index range scan.
CREATE INDEX ix_images_created_at       ON images (deleted, created_at, id);
CREATE INDEX ix_images_updated_at       ON images (deleted, updated_at, created_at, id);
CREATE INDEX ix_images_name             ON images (deleted, name, created_at, id);
CREATE INDEX ix_images_status           ON images (deleted, status, created_at, id);
CREATE INDEX ix_images_disk_format      ON images (deleted, disk_format, created_at, id);
CREATE INDEX ix_images_container_format ON images (deleted, container_format, created_at, id);
CREATE INDEX ix_images_size             ON images (deleted, size, created_at, id);
CREATE INDEX ix_images_id               ON images (deleted, id);
CREATE INDEX ix_images_changes          ON images (updated_at);
CREATE INDEX ix_images_owner            ON images (owner);

CREATE TABLE image_properties (
    image_id TEXT NOT NULL REFERENCES images (id),
    name     TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (image_id, name)
) WITHOUT ROWID;
CREATE INDEX ix_image_properties_name_value ON image_properties (name, value, image_id);

CREATE TABLE image_members (
    image_id   TEXT    NOT NULL REFERENCES images (id),
    member     TEXT    NOT NULL,
    can_share  BOOLEAN NOT NULL DEFAULT 0,
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL,
    PRIMARY KEY (image_id, member)
) WITHOUT ROWID;
CREATE INDEX ix_image_members_member ON image_members (member, image_id);
