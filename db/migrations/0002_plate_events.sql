-- 0002 plate_events: the time-partitioned table of plate reads, its upkeep and its views.
--
-- The storage path is chosen here, at run time, from what the server offers:
--   timescaledb  plate_events is a hypertable on first_seen, compressed (segment by camera_id),
--                with a retention policy; hourly_counts is a continuous aggregate.
--   partman      native range partitions (one per day) managed by pg_partman (schema partman):
--                premade future partitions, retention drops expired partitions.
--   native       native range partitions created and dropped by alpr_maintain() (this file).
-- With partman or native, pg_cron (when the server preloads it and this is its database)
-- schedules the upkeep; otherwise `alpr db maintain` must be run on a schedule.
--
-- Inputs, set by db.migrate on the session (psql users may SET them by hand):
--   alpr.storage               auto | timescaledb | partman | native   (default auto)
--   alpr.reads_retention_days  days of plate reads to keep              (default 90)
-- The choice is recorded in storage_layout, which `alpr db status` reports.

CREATE TABLE storage_layout (
    singleton          boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    path               text        NOT NULL CHECK (path IN ('timescaledb', 'partman', 'native')),
    scheduler          text        NOT NULL CHECK (scheduler IN ('timescaledb', 'pg_cron', 'external')),
    partition_interval interval    NOT NULL,
    premake            int         NOT NULL CHECK (premake >= 1),
    retention          interval    NOT NULL CHECK (retention > interval '0'),
    chosen_at          timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE storage_layout IS 'How plate_events is stored on this server (one row, written by migration 0002).';
COMMENT ON COLUMN storage_layout.path IS 'timescaledb (hypertable) | partman (pg_partman native partitions) | native (partitions by alpr_maintain()).';
COMMENT ON COLUMN storage_layout.scheduler IS 'What runs the upkeep: timescaledb jobs, pg_cron, or external (`alpr db maintain` on a schedule).';
COMMENT ON COLUMN storage_layout.partition_interval IS 'Time span of one partition / chunk (UTC aligned).';
COMMENT ON COLUMN storage_layout.premake IS 'Partitions kept ready ahead of (and created behind) the current one.';
COMMENT ON COLUMN storage_layout.retention IS 'Plate reads older than this are dropped (database.reads_retention_days).';
COMMENT ON COLUMN storage_layout.chosen_at IS 'When the path was chosen.';

-- ---------------------------------------------------------------------------------------
-- Choose the path, create the extension it needs and the table itself (a hypertable must
-- start as a plain table, the other paths as a partitioned one).
DO $do$
DECLARE
    wanted text := coalesce(nullif(current_setting('alpr.storage', true), ''), 'auto');
    days   int  := coalesce(nullif(current_setting('alpr.reads_retention_days', true), ''), '90')::int;
    chosen text;
BEGIN
    IF wanted NOT IN ('auto', 'timescaledb', 'partman', 'native') THEN
        RAISE EXCEPTION 'alpr.storage must be auto, timescaledb, partman or native, got %', wanted;
    END IF;
    IF days < 1 THEN
        RAISE EXCEPTION 'alpr.reads_retention_days must be >= 1, got %', days;
    END IF;

    IF wanted IN ('auto', 'timescaledb')
       AND EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS timescaledb;
            chosen := 'timescaledb';
        EXCEPTION WHEN OTHERS THEN
            -- Typically: not in shared_preload_libraries.
            RAISE NOTICE 'timescaledb is installed but cannot be created: %', SQLERRM;
        END;
    END IF;

    IF chosen IS NULL AND wanted IN ('auto', 'partman')
       AND EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_partman') THEN
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_partman') THEN
                CREATE SCHEMA IF NOT EXISTS partman;
                CREATE EXTENSION pg_partman SCHEMA partman;
            END IF;
            chosen := 'partman';
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE 'pg_partman is installed but cannot be created: %', SQLERRM;
        END;
    END IF;

    IF chosen IS NULL AND wanted IN ('auto', 'native') THEN
        chosen := 'native';
    ELSIF chosen IS NULL THEN
        RAISE EXCEPTION 'storage path % was requested but its extension is not available on this server', wanted;
    END IF;

    EXECUTE format($table$
        CREATE TABLE plate_events (
            event_id    uuid        NOT NULL,
            first_seen  timestamptz NOT NULL,
            last_seen   timestamptz NOT NULL,
            frame_ts    timestamptz NOT NULL,
            site        text        NOT NULL,
            camera_id   text        NOT NULL,
            track_id    text        NOT NULL,
            plate       text        NOT NULL,
            plate_raw   text        NOT NULL,
            plate_hash  bytea       NULL,
            region      text        NULL,
            confidence  real        NOT NULL,
            sightings   int         NOT NULL DEFAULT 1,
            crop_key    text        NULL,
            crop_url    text        NULL,
            provisional boolean     NOT NULL DEFAULT false,
            inserted_at timestamptz NOT NULL DEFAULT now(),
            updated_at  timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (event_id, first_seen)
        ) %s$table$,
        CASE WHEN chosen = 'timescaledb' THEN '' ELSE 'PARTITION BY RANGE (first_seen)' END);

    INSERT INTO storage_layout (path, scheduler, partition_interval, premake, retention)
    VALUES (chosen, CASE WHEN chosen = 'timescaledb' THEN 'timescaledb' ELSE 'external' END,
            interval '1 day', 4, make_interval(days => days));
    RAISE NOTICE 'plate_events storage path: %', chosen;
END
$do$;

-- Fuzzy search (plate % 'AB123CD', similarity(plate, ...)); pg_trgm >= 1.4 also serves = and LIKE.
CREATE INDEX plate_events_plate_trgm_idx ON plate_events USING gin (plate gin_trgm_ops);
CREATE INDEX plate_events_plate_time_idx ON plate_events (plate, first_seen);
CREATE INDEX plate_events_camera_time_idx ON plate_events (camera_id, first_seen);
CREATE INDEX plate_events_first_seen_idx ON plate_events (first_seen);

COMMENT ON TABLE plate_events IS 'One row per plate event (a tracked vehicle''s plate, read and voted over its best crops); time-partitioned on first_seen.';
COMMENT ON COLUMN plate_events.event_id IS 'Deterministic uuid of the event; updates of a provisional event keep it.';
COMMENT ON COLUMN plate_events.first_seen IS 'First frame time (UTC) of the track; the partitioning column.';
COMMENT ON COLUMN plate_events.last_seen IS 'Last frame time (UTC) of the track.';
COMMENT ON COLUMN plate_events.frame_ts IS 'Frame time of the best read.';
COMMENT ON COLUMN plate_events.site IS 'Site name of the camera.';
COMMENT ON COLUMN plate_events.camera_id IS 'Camera that saw the plate.';
COMMENT ON COLUMN plate_events.track_id IS 'Edge track id (unique per camera and edge run).';
COMMENT ON COLUMN plate_events.plate IS 'Normalised plate text (upper case, no separators); trigram indexed.';
COMMENT ON COLUMN plate_events.plate_raw IS 'Plate text of the best read, as the OCR returned it.';
COMMENT ON COLUMN plate_events.plate_hash IS 'Keyed hash of the plate, when plates are pseudonymised.';
COMMENT ON COLUMN plate_events.region IS 'Region / country of the plate format, when known.';
COMMENT ON COLUMN plate_events.confidence IS 'Confidence of the voted plate, 0..1.';
COMMENT ON COLUMN plate_events.sightings IS 'Crops (reads) that contributed to the event.';
COMMENT ON COLUMN plate_events.crop_key IS 'Object-storage key of the best crop.';
COMMENT ON COLUMN plate_events.crop_url IS 'URL of the best crop, when one was published.';
COMMENT ON COLUMN plate_events.provisional IS 'True while the track is still open; the final event replaces it.';
COMMENT ON COLUMN plate_events.inserted_at IS 'When the row was first written.';
COMMENT ON COLUMN plate_events.updated_at IS 'When the row was last written.';

-- ---------------------------------------------------------------------------------------
-- Upkeep: retention of plate_events and rejected_reads, partitions ahead of time.
-- Idempotent; `alpr db maintain` and the pg_cron job call it. p_retention (when given)
-- replaces the stored retention; p_now is injectable for tests (native path only: pg_partman
-- and TimescaleDB use the server clock). Returns one line per action taken.
CREATE FUNCTION alpr_maintain(p_retention interval DEFAULT NULL, p_now timestamptz DEFAULT now())
RETURNS SETOF text
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
DECLARE
    layout          storage_layout;
    parent          text := format('%I.plate_events', current_schema());
    retention_moved boolean := false;
    cutoff          timestamptz;
    default_rel     regclass;
    partman_schema  text;
    origin          constant timestamptz := timestamptz '2000-01-01 00:00:00+00';
    current_start   timestamptz;
    bucket          timestamptz;
    part_name       text;
    part            record;
    upper_bound     timestamptz;
    children        text[];
    n               bigint;
BEGIN
    -- One upkeep at a time (cron job, `alpr db maintain`, flow schedule).
    PERFORM pg_advisory_xact_lock(hashtext('alpr_maintain'));
    IF p_retention IS NOT NULL AND p_retention <= interval '0' THEN
        RAISE EXCEPTION 'alpr_maintain: retention must be positive, got %', p_retention;
    END IF;

    SELECT * INTO STRICT layout FROM storage_layout FOR UPDATE;
    IF p_retention IS NOT NULL AND p_retention <> layout.retention THEN
        UPDATE storage_layout SET retention = p_retention;
        RETURN NEXT format('retention changed from %s to %s', layout.retention, p_retention);
        layout.retention := p_retention;
        retention_moved := true;
    END IF;
    cutoff := p_now - layout.retention;

    DELETE FROM rejected_reads WHERE observed_at < cutoff;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        RETURN NEXT format('deleted %s rejected reads older than %s', n, cutoff);
    END IF;

    IF layout.path = 'timescaledb' THEN
        -- Chunks are created on insert. The retention policy job drops expired ones; dropping
        -- them here too applies a changed retention at once and covers builds without policies.
        IF retention_moved THEN
            BEGIN
                PERFORM remove_retention_policy('plate_events', if_exists => true);
                PERFORM add_retention_policy('plate_events', drop_after => layout.retention);
                RETURN NEXT format('timescaledb retention policy set to %s', layout.retention);
            EXCEPTION WHEN OTHERS THEN
                RETURN NEXT format('timescaledb retention policy unavailable (%s)', SQLERRM);
            END;
        END IF;
        RETURN QUERY SELECT 'dropped expired chunk ' || c FROM drop_chunks('plate_events', older_than => cutoff) AS c;
        RETURN;
    END IF;

    -- Rows outside every partition wait in the default partition; expired ones are deleted.
    SELECT p.partdefid::regclass INTO default_rel
      FROM pg_partitioned_table p WHERE p.partrelid = 'plate_events'::regclass AND p.partdefid <> 0;
    IF default_rel IS NULL THEN
        CREATE TABLE plate_events_default PARTITION OF plate_events DEFAULT;
        default_rel := 'plate_events_default'::regclass;
        RETURN NEXT 'created partition plate_events_default';
    END IF;
    EXECUTE format('DELETE FROM %s WHERE first_seen < $1', default_rel) USING cutoff;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        RETURN NEXT format('deleted %s expired plate events from %s', n, default_rel);
    END IF;

    IF layout.path = 'partman' THEN
        LOCK TABLE plate_events IN SHARE ROW EXCLUSIVE MODE;  -- see the native path below
        SELECT nsp.nspname INTO STRICT partman_schema
          FROM pg_extension e JOIN pg_namespace nsp ON nsp.oid = e.extnamespace
         WHERE e.extname = 'pg_partman';
        IF retention_moved THEN
            EXECUTE format('UPDATE %I.part_config SET retention = $1, retention_keep_table = false'
                           ' WHERE parent_table = $2', partman_schema)
              USING layout.retention::text, parent;
        END IF;
        EXECUTE format('SELECT count(*) FROM %s', default_rel) INTO n;
        IF n > 0 THEN
            EXECUTE format('SELECT %I.partition_data_time($1, p_batch_count => 100000)', partman_schema)
              INTO n USING parent;
            RETURN NEXT format('pg_partman moved %s rows out of %s', n, default_rel);
        END IF;
        children := ARRAY(SELECT inhrelid::regclass::text FROM pg_inherits
                           WHERE inhparent = 'plate_events'::regclass);
        EXECUTE format('SELECT %I.run_maintenance($1)', partman_schema) USING parent;
        RETURN QUERY
            SELECT 'pg_partman created partition ' || c
              FROM unnest(ARRAY(SELECT inhrelid::regclass::text FROM pg_inherits
                                 WHERE inhparent = 'plate_events'::regclass)) AS c
             WHERE c <> ALL (children)
             ORDER BY 1;
        RETURN QUERY
            SELECT 'pg_partman dropped expired partition ' || c
              FROM unnest(children) AS c
             WHERE to_regclass(c) IS NULL
             ORDER BY 1;
        RETURN;
    END IF;

    -- Native. Inserts wait while partitions change: an insert routed to the default
    -- partition just before a partition for its row is attached would fail its check.
    -- Readers are not blocked.
    LOCK TABLE plate_events IN SHARE ROW EXCLUSIVE MODE;
    FOR part IN
        SELECT c.oid::regclass::text AS rel, pg_get_expr(c.relpartbound, c.oid) AS bound
          FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'plate_events'::regclass
         ORDER BY 1
    LOOP
        upper_bound := substring(part.bound FROM 'TO \(''([^'']+)''\)')::timestamptz;
        IF upper_bound IS NOT NULL AND upper_bound <= cutoff THEN
            EXECUTE format('DROP TABLE %s', part.rel);
            RETURN NEXT format('dropped expired partition %s (up to %s)', part.rel, upper_bound);
        END IF;
    END LOOP;

    -- Partitions for [now - premake, now + premake] and for rows waiting in the default
    -- partition, each filled from it before it is attached.
    current_start := date_bin(layout.partition_interval, p_now, origin);
    FOR bucket IN EXECUTE format(
        'SELECT generate_series($1 - $2 * $3, $1 + $2 * $3, $3)'
        ' UNION SELECT DISTINCT date_bin($3, first_seen, $4) FROM %s ORDER BY 1', default_rel)
        USING current_start, layout.premake, layout.partition_interval, origin
    LOOP
        CONTINUE WHEN bucket + layout.partition_interval <= cutoff;
        -- Named like pg_partman's daily partitions (plate_events_p2026_01_31).
        part_name := 'plate_events_p' || to_char(bucket AT TIME ZONE 'UTC',
            CASE WHEN layout.partition_interval >= interval '1 day' THEN 'YYYY_MM_DD' ELSE 'YYYY_MM_DD_HH24MI' END);
        CONTINUE WHEN to_regclass(quote_ident(part_name)) IS NOT NULL;
        EXECUTE format('CREATE TABLE %I (LIKE plate_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part_name);
        EXECUTE format('WITH moved AS (DELETE FROM %s WHERE first_seen >= $1 AND first_seen < $2 RETURNING *)'
                       ' INSERT INTO %I SELECT * FROM moved', default_rel, part_name)
          USING bucket, bucket + layout.partition_interval;
        GET DIAGNOSTICS n = ROW_COUNT;
        EXECUTE format('ALTER TABLE plate_events ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                       part_name, bucket, bucket + layout.partition_interval);
        RETURN NEXT format('created partition %s [%s, %s) with %s rows', part_name, bucket,
                           bucket + layout.partition_interval, n);
    END LOOP;
END
$fn$;

COMMENT ON FUNCTION alpr_maintain(interval, timestamptz) IS 'Upkeep of plate_events and rejected_reads (partitions ahead, retention); idempotent. Called by `alpr db maintain` and pg_cron.';

-- ---------------------------------------------------------------------------------------
-- Set up the chosen path: hypertable, pg_partman parent, or the first native partitions;
-- then try pg_cron for the upkeep.
DO $do$
DECLARE
    layout         storage_layout;
    parent         text := format('%I.plate_events', current_schema());
    partman_schema text;
    partman_major  int;
    has_cron       boolean := false;
BEGIN
    SELECT * INTO STRICT layout FROM storage_layout;

    IF layout.path = 'timescaledb' THEN
        PERFORM create_hypertable('plate_events', 'first_seen',
                                  chunk_time_interval => layout.partition_interval,
                                  create_default_indexes => false);
        -- Compression and policies are TimescaleDB Community features: an Apache-only build
        -- gets an uncompressed hypertable whose retention alpr_maintain() applies.
        BEGIN
            ALTER TABLE plate_events SET (timescaledb.compress,
                                          timescaledb.compress_segmentby = 'camera_id',
                                          timescaledb.compress_orderby = 'first_seen DESC');
            PERFORM add_compression_policy('plate_events', compress_after => interval '7 days');
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE 'timescaledb compression unavailable: %', SQLERRM;
        END;
        BEGIN
            PERFORM add_retention_policy('plate_events', drop_after => layout.retention);
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE 'timescaledb retention policy unavailable (%): run `alpr db maintain`', SQLERRM;
            UPDATE storage_layout SET scheduler = 'external';
        END;
        RAISE NOTICE 'plate_events is a hypertable, retention %', layout.retention;
        RETURN;
    END IF;

    IF layout.path = 'partman' THEN
        SELECT nsp.nspname, split_part(e.extversion, '.', 1)::int INTO STRICT partman_schema, partman_major
          FROM pg_extension e JOIN pg_namespace nsp ON nsp.oid = e.extnamespace
         WHERE e.extname = 'pg_partman';
        -- pg_partman 4 names native partitioning 'native'; 5 dropped trigger-based sets
        -- and calls it 'range' (the default).
        EXECUTE format('SELECT %I.create_parent(p_parent_table => $1, p_control => $2, p_interval => $3,'
                       ' p_premake => $4 %s)', partman_schema,
                       CASE WHEN partman_major < 5 THEN ', p_type => ''native''' ELSE '' END)
          USING parent, 'first_seen', layout.partition_interval::text, layout.premake;
        EXECUTE format('UPDATE %I.part_config SET retention = $1, retention_keep_table = false,'
                       ' infinite_time_partitions = true WHERE parent_table = $2', partman_schema)
          USING layout.retention::text, parent;
        RAISE NOTICE 'plate_events is partitioned by pg_partman (schema %), retention %',
            partman_schema, layout.retention;
    ELSE
        PERFORM count(*) FROM alpr_maintain();
        RAISE NOTICE 'plate_events has native partitions; retention %', layout.retention;
    END IF;

    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_cron') THEN
        BEGIN
            -- Fails unless pg_cron is in shared_preload_libraries and this database is
            -- cron.database_name.
            CREATE EXTENSION IF NOT EXISTS pg_cron;
            has_cron := true;
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE 'pg_cron cannot be used here (%)', SQLERRM;
        END;
    END IF;
    IF has_cron THEN
        IF layout.path = 'partman' THEN
            PERFORM cron.schedule('alpr-partman-maintenance', '7 * * * *',
                                  format('CALL %I.run_maintenance_proc()', partman_schema));
        END IF;
        PERFORM cron.schedule('alpr-maintain', '17 * * * *',
                              format('SELECT count(*) FROM %I.alpr_maintain()', current_schema()));
        UPDATE storage_layout SET scheduler = 'pg_cron';
        RAISE NOTICE 'upkeep scheduled with pg_cron (hourly)';
    ELSE
        RAISE NOTICE 'no pg_cron: run `alpr db maintain` on a schedule (at least daily)';
    END IF;
END
$do$;

-- ---------------------------------------------------------------------------------------
-- Views. hourly_counts is a continuous aggregate with TimescaleDB, a plain view otherwise;
-- both have the same columns. Hours are UTC.
DO $do$
DECLARE
    continuous boolean := false;
BEGIN
    IF (SELECT path FROM storage_layout) = 'timescaledb' THEN
      BEGIN
        EXECUTE $v$
            CREATE MATERIALIZED VIEW hourly_counts
            WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
            SELECT time_bucket(interval '1 hour', first_seen) AS hour, site, camera_id,
                   count(*) AS events, sum(sightings) AS sightings, avg(confidence) AS avg_confidence
              FROM plate_events
             GROUP BY time_bucket(interval '1 hour', first_seen), site, camera_id
            WITH NO DATA$v$;
        PERFORM add_continuous_aggregate_policy('hourly_counts', start_offset => interval '3 days',
                                                end_offset => interval '1 hour',
                                                schedule_interval => interval '30 minutes');
        continuous := true;
      EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE 'continuous aggregate unavailable (%): hourly_counts is a plain view', SQLERRM;
      END;
    END IF;
    IF continuous THEN
        -- The user-facing object of a continuous aggregate is a view in some versions.
        EXECUTE format('COMMENT ON %s hourly_counts IS %L',
                       CASE WHEN (SELECT relkind FROM pg_class WHERE oid = 'hourly_counts'::regclass) = 'm'
                            THEN 'MATERIALIZED VIEW' ELSE 'VIEW' END,
                       'Plate events per camera per hour (UTC); TimescaleDB continuous aggregate, real-time.');
    ELSE
        CREATE VIEW hourly_counts AS
        SELECT date_trunc('hour', first_seen, 'UTC') AS hour, site, camera_id,
               count(*) AS events, sum(sightings) AS sightings, avg(confidence) AS avg_confidence
          FROM plate_events
         GROUP BY date_trunc('hour', first_seen, 'UTC'), site, camera_id;
        COMMENT ON VIEW hourly_counts IS 'Plate events per camera per hour (UTC).';
    END IF;
END
$do$;

COMMENT ON COLUMN hourly_counts.hour IS 'Start of the hour (UTC) of first_seen.';
COMMENT ON COLUMN hourly_counts.site IS 'Site name of the camera.';
COMMENT ON COLUMN hourly_counts.camera_id IS 'Camera.';
COMMENT ON COLUMN hourly_counts.events IS 'Plate events that started in the hour.';
COMMENT ON COLUMN hourly_counts.sightings IS 'Sum of their sightings (reads).';
COMMENT ON COLUMN hourly_counts.avg_confidence IS 'Mean confidence of their plates.';

CREATE VIEW plate_sightings AS
SELECT plate,
       min(first_seen)                              AS first_seen,
       max(last_seen)                               AS last_seen,
       count(*)                                     AS events,
       sum(sightings)                               AS sightings,
       array_agg(DISTINCT camera_id ORDER BY camera_id) AS cameras,
       array_agg(DISTINCT site ORDER BY site)       AS sites,
       max(confidence)                              AS best_confidence
  FROM plate_events
 GROUP BY plate;

COMMENT ON VIEW plate_sightings IS 'Per normalised plate: when it was first and last seen, how often, and by which cameras.';
COMMENT ON COLUMN plate_sightings.plate IS 'Normalised plate text.';
COMMENT ON COLUMN plate_sightings.first_seen IS 'Earliest first_seen of its events.';
COMMENT ON COLUMN plate_sightings.last_seen IS 'Latest last_seen of its events.';
COMMENT ON COLUMN plate_sightings.events IS 'Number of plate events.';
COMMENT ON COLUMN plate_sightings.sightings IS 'Sum of their sightings (reads).';
COMMENT ON COLUMN plate_sightings.cameras IS 'Distinct cameras, sorted.';
COMMENT ON COLUMN plate_sightings.sites IS 'Distinct sites, sorted.';
COMMENT ON COLUMN plate_sightings.best_confidence IS 'Highest confidence of its events.';
