-- The registry schema on PostgreSQL. Text columns that are filtered or sorted use the "C"
-- collation: byte order, case-sensitive, the same order SQLite and MySQL (utf8mb4_bin) give.
-- Timestamps are UTC, microsecond precision.
CREATE TABLE images (
    id               VARCHAR(36)  COLLATE "C" PRIMARY KEY,
    name             VARCHAR(255) COLLATE "C",
    status           VARCHAR(32)  COLLATE "C" NOT NULL,
    disk_format      VARCHAR(64)  COLLATE "C",
    container_format VARCHAR(64)  COLLATE "C",
    size             BIGINT,
    virtual_size     BIGINT,
    checksum         VARCHAR(32)  COLLATE "C",
    min_disk         BIGINT       NOT NULL DEFAULT 0,
    min_ram          BIGINT       NOT NULL DEFAULT 0,
    is_public        BOOLEAN      NOT NULL DEFAULT FALSE,
    protected        BOOLEAN      NOT NULL DEFAULT FALSE,
    owner            VARCHAR(255) COLLATE "C",
    location         TEXT,
    created_at       TIMESTAMP(6) NOT NULL,
    updated_at       TIMESTAMP(6) NOT NULL,
    deleted_at       TIMESTAMP(6),
    deleted          BOOLEAN      NOT NULL DEFAULT FALSE,
    version          BIGINT       NOT NULL DEFAULT 1
);

-- Nullable sort keys are indexed NULLS FIRST: a forward scan is the ascending order and a
-- backward scan the descending one, as glimpse defines them on every backend.
CREATE INDEX ix_images_created_at       ON images (deleted, created_at, id);
CREATE INDEX ix_images_updated_at       ON images (deleted, updated_at, created_at, id);
CREATE INDEX ix_images_name             ON images (deleted, name NULLS FIRST, created_at, id);
CREATE INDEX ix_images_status           ON images (deleted, status, created_at, id);
CREATE INDEX ix_images_disk_format      ON images (deleted, disk_format NULLS FIRST, created_at, id);
CREATE INDEX ix_images_container_format ON images (deleted, container_format NULLS FIRST, created_at, id);
CREATE INDEX ix_images_size             ON images (deleted, size NULLS FIRST, created_at, id);
CREATE INDEX ix_images_id               ON images (deleted, id);
CREATE INDEX ix_images_changes          ON images (updated_at);
CREATE INDEX ix_images_owner            ON images (owner);

CREATE TABLE image_properties (
    image_id VARCHAR(36)  COLLATE "C" NOT NULL REFERENCES images (id),
    name     VARCHAR(255) COLLATE "C" NOT NULL,
    value    TEXT         COLLATE "C" NOT NULL,
    PRIMARY KEY (image_id, name)
);
-- A btree entry cannot hold a 64 KiB value: index a prefix; queries repeat the expression.
CREATE INDEX ix_image_properties_name_value ON image_properties (name, substr(value, 1, 200), image_id);

CREATE TABLE image_members (
    image_id   VARCHAR(36)  COLLATE "C" NOT NULL REFERENCES images (id),
    member     VARCHAR(255) COLLATE "C" NOT NULL,
    can_share  BOOLEAN      NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP(6) NOT NULL,
    updated_at TIMESTAMP(6) NOT NULL,
    PRIMARY KEY (image_id, member)
);
CREATE INDEX ix_image_members_member ON image_members (member, image_id);
