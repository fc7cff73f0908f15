#!/usr/bin/env python3
"""Load a glimpse catalog file straight into a Python reference's SQLite database.

Two references share the image tables: the v1 registry (glance-registry from
glance==20.2.0, scripts/reference-registry.sh) and the v2 images API (glance-api
from glance==33.0.0, scripts/reference-glance.sh). Glance 33's images,
image_properties, image_locations and image_members tables are the ones glance 20.2
creates (db_sync of 2024_1_contract01 leaves them as they were), so one loader
fills both; for Glance 33 give --store with the name of its store (fs in
reference-glance.sh), which goes into each location's metadata as {"store": NAME}:
with multiple stores configured, Glance otherwise works the store out from the URL
and writes it back to the database on the first read of every image.

Seeding glance-registry (glance==20.2.0, see scripts/reference-registry.sh) over its
API runs at about 56 images/s, so a million-image catalog would take hours. This
script writes the same images directly into the registry's database, stored the
way glance-registry itself stores an image created through its v1 API
(POST /images), so the reference then serves them as if they had been POSTed.

Input: the JSON-lines catalog that `glimpse-bench --write-catalog FILE` (or
`glimpse db export`) writes, one object a line:

  {"image": {"id": ..., "name": ..., "status": ..., "disk_format": ...,
             "container_format": ..., "size": ..., "virtual_size": ...,
             "checksum": ..., "min_disk": ..., "min_ram": ..., "is_public": ...,
             "protected": ..., "owner": ..., "location": ..., "created_at": ...,
             "updated_at": ..., "deleted_at": ..., "deleted": ...,
             "properties": {...}},
   "version": N,
   "members": [{"member": ..., "can_share": ..., "created_at": ..., "updated_at": ...}]}

How the fields are stored (glance/registry/api/v1/images.py create() ->
glance/db/sqlalchemy/api.py _image_update() -> models.py):

  images
    is_public          -> visibility: 'public' if true, else 'shared'
                          (db/utils.ensure_image_dict_v2_compliant; the v1 registry
                          never writes 'private'; reading back, is_public is
                          visibility == 'public')
    min_disk, min_ram  -> int(value or 0), must be <= 2**31-1 (_validate_db_int)
    size               -> int or NULL; virtual_size, checksum: as given or NULL
    protected, deleted -> 0/1
    owner              -> NULL when empty (ownership is canonicalised)
    status             -> must be one of glance's image statuses
    os_hidden          -> 0 (model default); os_hash_algo, os_hash_value -> NULL
                          (the v1 registry never sets them)
    created_at, updated_at, deleted_at -> the file's timestamps (UTC), in
                          SQLAlchemy's SQLite DATETIME format
                          'YYYY-MM-DD HH:MM:SS.ffffff'; a missing updated_at is
                          created_at, a missing created_at is now
    version            -> dropped (glance has no such column)
  image_properties     one row per property: name, value (text), created_at =
                       updated_at = the image's created_at, deleted = 0
  image_locations      one row when location is set (the v1 `location` field
                       becomes locations=[url] -> {'url', 'metadata': {},
                       'status': 'active'}): value = url, meta_data = '{}'
                       ('{"store": NAME}' with --store), status = 'active',
                       deleted = 0
  image_members        one row per member: can_share 0/1, status 'pending'
                       (the model default the v1 member calls leave), deleted = 0
  A deleted image (deleted: true) gets what image_destroy leaves: its properties,
  members and locations are deleted too, at the image's deleted_at, and the
  locations get status 'deleted'.

Records glance would refuse (bad status, min_disk/min_ram out of range, 4-byte
UTF-8 characters, missing id) are skipped and reported; the exit status is then 1.

The file is streamed: memory stays constant whatever its size (one batch, plus
SQLite's 128 MiB page cache and an index sorter of at most that size; about
260 MB in all). Rows go in with executemany, --batch images per transaction,
with journal_mode=WAL and synchronous=OFF during the load; the database's
journal mode (db_sync leaves 'delete') is restored at the end and ANALYZE is run.
Into an empty database the non-unique indexes of the image tables are dropped
for the load and created again at the end (twice as fast as growing them with
random UUID keys; --keep-indexes to not); they are recreated also when the load
fails or is interrupted, but not if the process is killed outright: then start
again from --fresh-db. The source catalog is only read.

Usage (v1 registry):
  scripts/reference-registry.sh --background --fresh-db   # create the schema
  scripts/reference-registry.sh --stop                    # load with the server stopped
  scripts/reference-import.py --db /tmp/glance-reference/registry.db catalog.jsonl
  scripts/reference-registry.sh --background              # serve it
Usage (Glance 33, v2):
  scripts/reference-glance.sh stop; scripts/reference-glance.sh fresh-db
  scripts/reference-import.py --store fs --db "$(scripts/reference-glance.sh db-path)" \
      catalog.jsonl
  scripts/reference-glance.sh start
"""

import argparse
import datetime
import json
import re
import sqlite3
import sys
import time

# glance/db/sqlalchemy/api.py STATUSES
STATUSES = {'active', 'saving', 'queued', 'killed', 'pending_delete',
            'deleted', 'deactivated', 'importing', 'uploading'}
VISIBILITIES = {'public', 'private', 'shared', 'community'}
MAX_INT = 2 ** 31 - 1
# glance/common/utils.py REGEX_4BYTE_UNICODE
FOUR_BYTE = re.compile(u'[\U00010000-\U0010ffff]')
FAST_TS = re.compile(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\Z')


class Invalid(Exception):
    pass


def db_time(value, field):
    """An ISO 8601 timestamp -> SQLAlchemy's SQLite DATETIME text (naive UTC)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid('%s is not a timestamp: %r' % (field, value))
    if FAST_TS.match(value):
        return value[:10] + ' ' + value[11:]
    try:
        t = datetime.datetime.fromisoformat(value.replace('Z', '+00:00'))
    except ValueError:
        raise Invalid('%s is not a timestamp: %r' % (field, value))
    if t.tzinfo is not None:
        t = t.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return t.strftime('%Y-%m-%d %H:%M:%S.%f')


def as_int(value, field, zero_if_empty=False):
    if zero_if_empty:
        value = value or 0
    if value is None:
        return None
    if isinstance(value, bool):
        raise Invalid('%s is not an integer: %r' % (field, value))
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Invalid('%s is not an integer: %r' % (field, value))


def as_bool(value, field):
    if value is None:
        return 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str) and value.lower() in ('true', 'false', '1', '0'):
        return int(value.lower() in ('true', '1'))
    raise Invalid('%s is not a boolean: %r' % (field, value))


def check_4byte(name, value):
    if isinstance(value, str) and FOUR_BYTE.search(value):
        raise Invalid("%s can't contain 4 byte unicode characters" % name)


def text(value):
    """A property value as glance stores it (a Text column)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return 'True' if value else 'False'
    return str(value)


def rows_for(record, now, loc_meta='{}'):
    """One catalog record -> (image row, property rows, location rows, member rows)."""
    if not isinstance(record, dict) or not isinstance(record.get('image'), dict):
        raise Invalid('no "image" object')
    img = record['image']
    image_id = img.get('id')
    if not isinstance(image_id, str) or not image_id:
        raise Invalid('no image id')

    for key, value in img.items():
        if key != 'properties':
            check_4byte(key.title(), value)

    status = img.get('status') or 'active'  # the registry's setdefault
    if status not in STATUSES:
        raise Invalid("invalid image status '%s'" % status)

    if 'visibility' in img and img['visibility'] is not None:
        if 'is_public' in img:
            raise Invalid("both 'visibility' and 'is_public'")
        visibility = img['visibility']
        if visibility not in VISIBILITIES:
            raise Invalid('invalid visibility %r' % visibility)
    else:
        visibility = 'public' if img.get('is_public') else 'shared'

    min_disk = as_int(img.get('min_disk'), 'min_disk', zero_if_empty=True)
    min_ram = as_int(img.get('min_ram'), 'min_ram', zero_if_empty=True)
    for name, v in (('min_disk', min_disk), ('min_ram', min_ram)):
        if v > MAX_INT:
            raise Invalid("'%s' value out of range, must not exceed %d" % (name, MAX_INT))

    created = db_time(img.get('created_at'), 'created_at') or now
    updated = db_time(img.get('updated_at'), 'updated_at') or created
    deleted = as_bool(img.get('deleted'), 'deleted')
    deleted_at = db_time(img.get('deleted_at'), 'deleted_at')
    if deleted and deleted_at is None:
        deleted_at = updated
    child_deleted_at = deleted_at if deleted else None

    image_row = (
        image_id,
        img.get('name'),
        as_int(img.get('size'), 'size'),
        status,
        created,
        updated,
        deleted_at,
        deleted,
        img.get('disk_format'),
        img.get('container_format'),
        img.get('checksum'),
        img.get('owner') or None,
        min_disk,
        min_ram,
        as_bool(img.get('protected'), 'protected'),
        as_int(img.get('virtual_size'), 'virtual_size'),
        visibility,
    )

    props = img.get('properties') or {}
    if not isinstance(props, dict):
        raise Invalid('properties is not an object')
    prop_rows = []
    for name, value in props.items():
        if FOUR_BYTE.search(name):
            raise Invalid("Property names can't contain 4 byte unicode")
        check_4byte(name.title(), value)
        prop_rows.append((image_id, name, text(value), created, created,
                          child_deleted_at, deleted))

    loc_rows = []
    location = img.get('location')
    if location:
        loc_rows.append((image_id, location, created, created, child_deleted_at,
                         deleted, loc_meta, 'deleted' if deleted else 'active'))

    member_rows = []
    for m in record.get('members') or ():
        if not isinstance(m, dict) or not m.get('member'):
            raise Invalid('a member without a member id')
        check_4byte('Member', m['member'])
        m_created = db_time(m.get('created_at'), 'member created_at') or created
        m_updated = db_time(m.get('updated_at'), 'member updated_at') or m_created
        member_rows.append((image_id, m['member'],
                            as_bool(m.get('can_share'), 'can_share'),
                            m_created, m_updated, child_deleted_at, deleted,
                            'pending'))
    return image_row, prop_rows, loc_rows, member_rows


INSERT_IMAGE = (
    'INSERT INTO images (id, name, size, status, created_at, updated_at, '
    'deleted_at, deleted, disk_format, container_format, checksum, owner, '
    'min_disk, min_ram, protected, virtual_size, visibility, os_hidden, '
    'os_hash_algo, os_hash_value) '
    'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, NULL, NULL)')
INSERT_PROP = (
    'INSERT INTO image_properties (image_id, name, value, created_at, '
    'updated_at, deleted_at, deleted) VALUES (?, ?, ?, ?, ?, ?, ?)')
INSERT_LOC = (
    'INSERT INTO image_locations (image_id, value, created_at, updated_at, '
    'deleted_at, deleted, meta_data, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
INSERT_MEMBER = (
    'INSERT INTO image_members (image_id, member, can_share, created_at, '
    'updated_at, deleted_at, deleted, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')

REQUIRED_COLUMNS = {
    'images': {'id', 'visibility', 'os_hidden', 'os_hash_algo', 'os_hash_value',
               'virtual_size', 'protected'},
    'image_properties': {'image_id', 'name', 'value'},
    'image_locations': {'image_id', 'value', 'meta_data', 'status'},
    'image_members': {'image_id', 'member', 'can_share', 'status'},
}


def fail(msg, code=2):
    print('reference-import: ' + msg, file=sys.stderr)
    sys.exit(code)


def open_db(path):
    try:
        conn = sqlite3.connect('file:%s?mode=rw' % path, uri=True,
                               isolation_level=None, timeout=30)
        tables = {r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error as e:
        fail('cannot open %s (%s): create the reference database first with '
             'scripts/reference-registry.sh --background --fresh-db, then '
             '--stop it (or scripts/reference-glance.sh fresh-db)' % (path, e))
    if 'images' not in tables:
        fail('%s has no images table: create the schema first with '
             'scripts/reference-registry.sh --background --fresh-db (then --stop it), '
             'or scripts/reference-glance.sh fresh-db' % path)
    for table, needed in REQUIRED_COLUMNS.items():
        have = {r[1] for r in conn.execute('PRAGMA table_info(%s)' % table)}
        missing = needed - have
        if missing:
            fail('%s.%s lacks %s: not the schema db_sync of glance 20.2 or 33 creates'
                 % (path, table, ', '.join(sorted(missing))))
    return conn


def flush(conn, images, props, locs, members):
    if not images:
        return
    try:
        conn.execute('BEGIN')
        conn.executemany(INSERT_IMAGE, images)
        conn.executemany(INSERT_PROP, props)
        if locs:
            conn.executemany(INSERT_LOC, locs)
        if members:
            conn.executemany(INSERT_MEMBER, members)
        conn.execute('COMMIT')
    except sqlite3.IntegrityError as e:
        conn.execute('ROLLBACK')
        ids = [r[0] for r in images]
        dup = None
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            row = conn.execute('SELECT id FROM images WHERE id IN (%s) LIMIT 1'
                               % ','.join('?' * len(chunk)), chunk).fetchone()
            if row:
                dup = row[0]
                break
        if dup is None and len(set(ids)) != len(ids):
            seen = set()
            dup = next(i for i in ids if i in seen or seen.add(i))
        fail('%s%s; nothing of this batch was written (the earlier ones were). '
             'Start from an empty database (reference-registry.sh --fresh-db).'
             % (e, ': image %s already exists' % dup if dup else ''))


def main():
    ap = argparse.ArgumentParser(
        description='Load a glimpse catalog (JSON lines) into the SQLite database '
                    'of the glance-registry reference (scripts/reference-registry.sh) '
                    'or of the Glance 33 reference (scripts/reference-glance.sh). '
                    'Stop the reference server while loading.')
    ap.add_argument('--db', required=True,
                    help='the database, e.g. /tmp/glance-reference/registry.db or '
                         '/tmp/glance33-reference/glance.db')
    ap.add_argument('--store', metavar='NAME',
                    help='the glance_store backend the locations are in, recorded in '
                         'their metadata as {"store": NAME} (Glance 33 with '
                         'enabled_backends; reference-glance.sh names its store fs)')
    ap.add_argument('--batch', type=int, default=5000,
                    help='images per transaction (default 5000)')
    ap.add_argument('--keep-indexes', action='store_true',
                    help='into an empty database, keep the secondary indexes during the '
                         'load instead of building them at the end')
    ap.add_argument('file', help="the catalog file ('-' for stdin)")
    args = ap.parse_args()
    if args.batch < 1:
        fail('--batch must be at least 1')

    conn = open_db(args.db)
    existing = conn.execute('SELECT count(*) FROM images').fetchone()[0]
    if existing:
        print('note: %s already holds %d images; adding to them' % (args.db, existing),
              file=sys.stderr)
    deferred = []
    if not existing and not args.keep_indexes:
        # Into an empty database, building the secondary indexes once at the end
        # (from sorted data) is much faster than growing them row by row with
        # random UUID keys. UNIQUE/primary-key indexes stay (they cannot be dropped).
        deferred = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            "AND tbl_name IN ('images', 'image_properties', 'image_locations', "
            "'image_members')").fetchall()
    old_journal = conn.execute('PRAGMA journal_mode').fetchone()[0]
    if conn.execute('PRAGMA journal_mode=WAL').fetchone()[0] != 'wal':
        fail('cannot switch %s to WAL (is the registry still running?)' % args.db)
    conn.execute('PRAGMA synchronous=OFF')
    conn.execute('PRAGMA cache_size=-131072')  # 128 MiB, whatever the file size

    try:
        src = sys.stdin.buffer if args.file == '-' else open(args.file, 'rb')
    except OSError as e:
        fail('cannot read %s: %s' % (args.file, e))

    now = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M:%S.%f')
    started = time.monotonic()
    if deferred:
        conn.execute('BEGIN')
        for name, _ in deferred:
            conn.execute('DROP INDEX "%s"' % name)
        conn.execute('COMMIT')
    try:
        loc_meta = json.dumps({'store': args.store}) if args.store else '{}'
        count, skipped = load(conn, src, args.batch, now, started, loc_meta)
    finally:
        # Also when the load fails or is interrupted: the schema must stay whole.
        if conn.in_transaction:
            conn.execute('ROLLBACK')
        if deferred:
            print('creating %d indexes...' % len(deferred), file=sys.stderr, flush=True)
            conn.execute('BEGIN')
            for _, sql in deferred:
                conn.execute(sql.replace('CREATE INDEX', 'CREATE INDEX IF NOT EXISTS', 1))
            conn.execute('COMMIT')
    loaded = time.monotonic() - started

    print('ANALYZE...', file=sys.stderr, flush=True)
    conn.execute('ANALYZE')
    conn.execute('PRAGMA wal_checkpoint(TRUNCATE)')
    if old_journal.lower() != 'wal':
        conn.execute('PRAGMA journal_mode=%s' % old_journal)
    conn.close()
    total = time.monotonic() - started
    print('imported %d images into %s in %.1fs (%.0f images/s)%s'
          % (count, args.db, total, count / total if total else 0,
             '; %d lines skipped' % skipped if skipped else ''), file=sys.stderr)
    return 1 if skipped else 0


def load(conn, src, batch, now, started, loc_meta='{}'):
    """Streams the records of src into the database; returns (images, skipped)."""
    images, props, locs, members = [], [], [], []
    count = nprops = nlocs = nmembers = 0
    skipped = 0
    with src:
        for lineno, line in enumerate(src, 1):
            if not line.strip():
                continue
            try:
                image_row, p, l, m = rows_for(json.loads(line), now, loc_meta)
            except (ValueError, Invalid) as e:  # json errors are ValueErrors
                skipped += 1
                if skipped <= 20:
                    print('line %d skipped: %s' % (lineno, e), file=sys.stderr)
                elif skipped == 21:
                    print('(not reporting further skipped lines)', file=sys.stderr)
                continue
            images.append(image_row)
            props.extend(p)
            locs.extend(l)
            members.extend(m)
            count += 1
            nprops += len(p)
            nlocs += len(l)
            nmembers += len(m)
            if len(images) >= batch:
                flush(conn, images, props, locs, members)
                images, props, locs, members = [], [], [], []
            if count % 100000 == 0:
                secs = time.monotonic() - started
                print('%d images (%d properties) in %.1fs, %.0f images/s'
                      % (count, nprops, secs, count / secs), file=sys.stderr, flush=True)
    flush(conn, images, props, locs, members)
    print('%d images, %d properties, %d locations, %d members loaded in %.1fs'
          % (count, nprops, nlocs, nmembers, time.monotonic() - started),
          file=sys.stderr, flush=True)
    return count, skipped


if __name__ == '__main__':
    sys.exit(main())
