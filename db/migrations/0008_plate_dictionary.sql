-- 0008 plate dictionary: one row per distinct stored plate with the UTC days it was read on and
-- the cameras that read it.
--
-- Why: on the TimescaleDB path compressed chunks have no plate index, so a plate search over
-- 90 days plans and probes every chunk (exact: bloom filters) or decompresses them (prefix,
-- wildcard, fuzzy). api.search finds the candidate plates and their days here (trigram and
-- prefix indexes on a table of about one row per ten reads), then reads plate_events by exact
-- plate in the chunks / partitions of those days only, and of the plate's cameras only (on a
-- compressed chunk, segmented by camera, the segment-by index then selects those cameras'
-- batches instead of checking the bloom filter of every camera's). Both storage paths get it.
--
-- Kept exact by a row trigger on plate_events (insert; update of plate or first_seen; delete,
-- which covers `alpr erase` in its own transaction): a (plate, day) is in the dictionary when,
-- and only when, a row of plate_events carries it. Dropped chunks and partitions fire no row
-- trigger: alpr_plate_dictionary_expire() (called by alpr_maintain(), and on the TimescaleDB
-- path by a job of its own after the retention policy's) removes the days older than the oldest
-- read left, and plates left with no day. Empty plates (no-plate events) are not listed.
-- cameras is a superset, only ever a filter: every camera of a read of the plate is in it; a
-- camera whose reads of the plate were deleted or expired stays until the plate leaves.

CREATE TABLE plate_dictionary (
    plate text COLLATE "C" PRIMARY KEY,
    days  date[] NOT NULL CHECK (cardinality(days) > 0),
    cameras text[] NOT NULL CHECK (cardinality(cameras) > 0)
) WITH (fillfactor = 90);  -- room for HOT updates when a plate gets a new day

COMMENT ON TABLE plate_dictionary IS 'Each distinct plate of plate_events with the UTC days it was read on; kept by triggers and alpr_maintain(); api.search looks plates up here first.';
COMMENT ON COLUMN plate_dictionary.plate IS 'Plate as stored in plate_events.plate (normalised, or #hash when pseudonymised); C collation, so the primary key serves prefix LIKE.';
COMMENT ON COLUMN plate_dictionary.days IS 'UTC days (first_seen) with at least one read of the plate, ascending, no duplicates.';
COMMENT ON COLUMN plate_dictionary.cameras IS 'Cameras (camera_id) of the reads of the plate, no duplicates, a superset: cameras whose reads were deleted or expired stay while the plate has reads.';

-- The UTC day of a read: the dictionary's and the daily chunks' / partitions' unit.
CREATE FUNCTION alpr_read_day(first_seen timestamptz) RETURNS date
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN (first_seen AT TIME ZONE 'UTC')::date;

COMMENT ON FUNCTION alpr_read_day(timestamptz) IS 'UTC day of a read (plate_dictionary.days).';

-- Remove (plate, day) unless plate_events still holds a read of the plate on that day; the
-- plate goes when it has no day left.
CREATE FUNCTION alpr_plate_dictionary_forget(p_plate text, p_day date) RETURNS void
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
DECLARE
    lo timestamptz := p_day::timestamp AT TIME ZONE 'UTC';
BEGIN
    IF p_plate = '' OR EXISTS (SELECT 1 FROM plate_events
                                WHERE plate = p_plate AND first_seen >= lo AND first_seen < lo + interval '1 day') THEN
        RETURN;
    END IF;
    DELETE FROM plate_dictionary WHERE plate = p_plate AND days = ARRAY[p_day];
    UPDATE plate_dictionary SET days = array_remove(days, p_day)
     WHERE plate = p_plate AND days @> ARRAY[p_day];
END
$fn$;

COMMENT ON FUNCTION alpr_plate_dictionary_forget(text, date) IS 'Drop the plate''s day (and the plate with no day left) unless plate_events still holds a read of it that day.';

-- Inserts: add (plate, day) and the camera, writing nothing when the dictionary has both already
-- (the common case: a plate seen again the same day by a camera that read it before costs one
-- primary-key probe). Inline, not a function call: this runs for every row the sink writes. A
-- new day is usually the newest: appended. Updates add the new (plate, day, camera) and forget
-- the old day; deletes forget theirs (cameras stay: a superset).
CREATE FUNCTION alpr_plate_dictionary_track() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
DECLARE
    day date;
BEGIN
    IF TG_OP <> 'DELETE' AND NEW.plate <> '' THEN
        day := (NEW.first_seen AT TIME ZONE 'UTC')::date;
        PERFORM FROM plate_dictionary
          WHERE plate = NEW.plate AND days @> ARRAY[day] AND cameras @> ARRAY[NEW.camera_id];
        IF NOT FOUND THEN
            INSERT INTO plate_dictionary AS d (plate, days, cameras) VALUES (NEW.plate, ARRAY[day], ARRAY[NEW.camera_id])
            ON CONFLICT (plate) DO UPDATE
               SET days = CASE WHEN d.days @> EXCLUDED.days THEN d.days
                               WHEN d.days[cardinality(d.days)] < EXCLUDED.days[1] THEN d.days || EXCLUDED.days
                               ELSE ARRAY(SELECT DISTINCT x FROM unnest(d.days || EXCLUDED.days) AS x ORDER BY 1) END,
                   cameras = CASE WHEN d.cameras @> EXCLUDED.cameras THEN d.cameras
                                  ELSE d.cameras || EXCLUDED.cameras END
             WHERE NOT (d.days @> EXCLUDED.days AND d.cameras @> EXCLUDED.cameras);
        END IF;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        PERFORM alpr_plate_dictionary_forget(OLD.plate, alpr_read_day(OLD.first_seen));
    END IF;
    RETURN NULL;
END
$fn$;

COMMENT ON FUNCTION alpr_plate_dictionary_track() IS 'Row trigger of plate_events keeping plate_dictionary exact.';

-- Triggers before the backfill: they lock plate_events against writers until this migration
-- commits, so no read lands between the backfill and the trigger.
CREATE TRIGGER plate_events_dictionary_insert AFTER INSERT ON plate_events
    FOR EACH ROW WHEN (NEW.plate <> '') EXECUTE FUNCTION alpr_plate_dictionary_track();
CREATE TRIGGER plate_events_dictionary_update AFTER UPDATE OF plate, first_seen, camera_id ON plate_events
    FOR EACH ROW WHEN (OLD.plate IS DISTINCT FROM NEW.plate OR OLD.first_seen IS DISTINCT FROM NEW.first_seen
                       OR OLD.camera_id IS DISTINCT FROM NEW.camera_id)
    EXECUTE FUNCTION alpr_plate_dictionary_track();
CREATE TRIGGER plate_events_dictionary_delete AFTER DELETE ON plate_events
    FOR EACH ROW WHEN (OLD.plate <> '') EXECUTE FUNCTION alpr_plate_dictionary_track();

INSERT INTO plate_dictionary (plate, days, cameras)
SELECT plate, array_agg(DISTINCT day ORDER BY day), array_agg(DISTINCT camera_id ORDER BY camera_id)
  FROM (SELECT DISTINCT plate, alpr_read_day(first_seen) AS day, camera_id FROM plate_events WHERE plate <> '') AS reads
 GROUP BY plate;

-- Candidates of fuzzy (plate % text), wildcard (LIKE) and confusion search (folded trigrams);
-- prefix LIKE uses the primary key (C collation). No pending list (fastupdate): each search
-- would scan it whole until vacuum flushes it; only a new plate writes to these indexes.
CREATE INDEX plate_dictionary_plate_trgm_idx ON plate_dictionary USING gin (plate gin_trgm_ops)
    WITH (fastupdate = off);
CREATE INDEX plate_dictionary_fold_trgm_idx ON plate_dictionary USING gin (alpr_fold_plate(plate) gin_trgm_ops)
    WITH (fastupdate = off);

-- ---------------------------------------------------------------------------------------
-- Retention: days with no read left (chunks / partitions dropped) leave the dictionary; cameras
-- stay (a superset) until the plate has no day left: which cameras read the expired days is
-- no longer known without reading every chunk left.
CREATE FUNCTION alpr_plate_dictionary_expire() RETURNS SETOF text
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
DECLARE
    oldest date := (SELECT alpr_read_day(min(first_seen)) FROM plate_events);
    n      bigint;
BEGIN
    IF oldest IS NULL THEN
        DELETE FROM plate_dictionary;
    ELSE
        DELETE FROM plate_dictionary WHERE days[cardinality(days)] < oldest;
    END IF;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        RETURN NEXT format('plate dictionary: removed %s plates with no read left', n);
    END IF;
    UPDATE plate_dictionary SET days = ARRAY(SELECT x FROM unnest(days) AS x WHERE x >= oldest ORDER BY 1)
     WHERE days[1] < oldest;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        RETURN NEXT format('plate dictionary: removed days before %s from %s plates', oldest, n);
    END IF;
END
$fn$;

COMMENT ON FUNCTION alpr_plate_dictionary_expire() IS 'Remove plate_dictionary days older than the oldest read of plate_events, and plates left with none.';

-- alpr_maintain() (0002) drops expired chunks / partitions; the dictionary follows in the same
-- transaction. Renamed, not copied: the upkeep of plate_events stays in one place.
ALTER FUNCTION alpr_maintain(interval, timestamptz) RENAME TO alpr_maintain_reads;
COMMENT ON FUNCTION alpr_maintain_reads(interval, timestamptz) IS 'Upkeep of plate_events and rejected_reads (partitions ahead, retention); called by alpr_maintain().';

CREATE FUNCTION alpr_maintain(p_retention interval DEFAULT NULL, p_now timestamptz DEFAULT now())
RETURNS SETOF text
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
BEGIN
    RETURN QUERY SELECT * FROM alpr_maintain_reads(p_retention, p_now);
    RETURN QUERY SELECT * FROM alpr_plate_dictionary_expire();
END
$fn$;

COMMENT ON FUNCTION alpr_maintain(interval, timestamptz) IS 'Upkeep of plate_events, plate_dictionary and rejected_reads (partitions ahead, retention); idempotent. Called by `alpr db maintain` and pg_cron.';

-- The TimescaleDB retention policy drops chunks on its own schedule: a job follows it.
DO $do$
BEGIN
    IF (SELECT path FROM storage_layout) = 'timescaledb' THEN
        BEGIN
            EXECUTE $p$
                CREATE PROCEDURE alpr_plate_dictionary_expire_job(job_id int, config jsonb)
                LANGUAGE plpgsql
                SET search_path FROM CURRENT
                AS $job$ BEGIN PERFORM count(*) FROM alpr_plate_dictionary_expire(); END $job$$p$;
            EXECUTE 'COMMENT ON PROCEDURE alpr_plate_dictionary_expire_job(int, jsonb) IS'
                    ' ''TimescaleDB job: alpr_plate_dictionary_expire() after the retention policy dropped chunks.''';
            PERFORM add_job('alpr_plate_dictionary_expire_job', interval '1 hour');
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE 'timescaledb jobs unavailable (%): `alpr db maintain` expires the plate dictionary', SQLERRM;
        END;
    END IF;
END
$do$;
