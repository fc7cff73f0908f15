-- The registry schema on MySQL/MariaDB: utf8mb4 so any Unicode round-trips, and the binary
-- collation so filters are case-sensitive exact matches and sorting is byte order, as on the
-- other backends. Timestamps are DATETIME(6) holding UTC.
CREATE TABLE images (
    id               VARCHAR(36)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    name             VARCHAR(255),
    status           VARCHAR(32)  NOT NULL,
    disk_format      VARCHAR(64),
    container_format VARCHAR(64),
    size             BIGINT,
    virtual_size     BIGINT,
    checksum         VARCHAR(32),
    min_disk         BIGINT       NOT NULL DEFAULT 0,
    min_ram          BIGINT       NOT NULL DEFAULT 0,
    is_public        BOOLEAN      NOT NULL DEFAULT FALSE,
    protected        BOOLEAN      NOT NULL DEFAULT FALSE,
    owner            VARCHAR(255),
    location         TEXT,
    created_at       DATETIME(6)  NOT NULL,
    updated_at       DATETIME(6)  NOT NULL,
    deleted_at       DATETIME(6),
    deleted          BOOLEAN      NOT NULL DEFAULT FALSE,
    version          BIGINT       NOT NULL DEFAULT 1,
    INDEX ix_images_created_at       (deleted, created_at, id),
    INDEX ix_images_updated_at       (deleted, updated_at, created_at, id),
    INDEX ix_images_name             (deleted, name, created_at, id),
    INDEX ix_images_status           (deleted, status, created_at, id),
    INDEX ix_images_disk_format      (deleted, disk_format, created_at, id),
    INDEX ix_images_container_format (deleted, container_format, created_at, id),
    INDEX ix_images_size             (deleted, size, created_at, id),
    INDEX ix_images_id               (deleted, id),
    INDEX ix_images_changes          (updated_at),
    INDEX ix_images_owner            (owner)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE image_properties (
    image_id VARCHAR(36)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    name     VARCHAR(255) NOT NULL,
    value    MEDIUMTEXT   NOT NULL,
    PRIMARY KEY (image_id, name),
    INDEX ix_image_properties_name_value (name, value(200), image_id),
    CONSTRAINT fk_image_properties_image FOREIGN KEY (image_id) REFERENCES images (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE image_members (
    image_id   VARCHAR(36)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    member     VARCHAR(255) NOT NULL,
    can_share  BOOLEAN      NOT NULL DEFAULT FALSE,
    created_at DATETIME(6)  NOT NULL,
    updated_at DATETIME(6)  NOT NULL,
    PRIMARY KEY (image_id, member),
    INDEX ix_image_members_member (member, image_id),
    CONSTRAINT fk_image_members_image FOREIGN KEY (image_id) REFERENCES images (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
