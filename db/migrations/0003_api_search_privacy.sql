-- 0003 query API: confusion-aware plate search, erasure records, indexes the API filters on.
--
-- Owned by the API (api/). Never edit once applied: add a new NNNN_api_*.sql instead.

-- levenshtein() for fuzzy and confusion-aware plate search.
CREATE EXTENSION IF NOT EXISTS fuzzystrmatch;

-- The plate with every character an OCR engine confuses folded to one representative
-- (O/Q/D -> 0, I/L -> 1, B -> 8, S -> 5, Z -> 2, G -> 6), as operators.normalise.fold_confusions.
-- Two plates that differ only by confusions fold to the same text.
CREATE FUNCTION alpr_fold_plate(plate text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN translate(plate, 'OQDILBSZG', '001118526');

COMMENT ON FUNCTION alpr_fold_plate(text) IS 'Plate with OCR-confusable characters folded (O/Q/D->0, I/L->1, B->8, S->5, Z->2, G->6); same as operators.normalise.fold_confusions.';

-- Confusion-aware edit distance, as operators.normalise.plate_distance: edits between
-- confusable characters cost `confusion_cost`, others 1.
CREATE FUNCTION alpr_plate_distance(a text, b text, confusion_cost real DEFAULT 0.5) RETURNS real
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN levenshtein(alpr_fold_plate(a), alpr_fold_plate(b))
       + confusion_cost * (levenshtein(a, b) - levenshtein(alpr_fold_plate(a), alpr_fold_plate(b)));

COMMENT ON FUNCTION alpr_plate_distance(text, text, real) IS 'Confusion-aware edit distance of two normalised plates (operators.normalise.plate_distance).';

-- Candidate lookup of confusion-aware search: trigrams of the folded plate.
CREATE INDEX plate_events_plate_fold_trgm_idx ON plate_events USING gin (alpr_fold_plate(plate) gin_trgm_ops);
-- Search by site and time, and by time alone newest first (the API's default order).
CREATE INDEX plate_events_site_time_idx ON plate_events (site, first_seen);
CREATE INDEX audit_log_actor_at_idx ON audit_log (actor, at);

-- ---------------------------------------------------------------------------------------
-- Erasures (`alpr erase PLATE`, POST /admin/erase). The plate itself is not kept: only a
-- digest (HMAC-SHA256 with api.privacy.secret when set, else SHA-256), so that a later
-- request about the same plate can be answered without storing it.
CREATE TABLE erasures (
    id               bigserial PRIMARY KEY,
    at               timestamptz NOT NULL DEFAULT now(),
    actor            text        NOT NULL,
    plate_digest     text        NOT NULL,
    events           int         NOT NULL DEFAULT 0,
    rejected_reads   int         NOT NULL DEFAULT 0,
    alerts           int         NOT NULL DEFAULT 0,
    objects          int         NOT NULL DEFAULT 0,
    audit_redacted   int         NOT NULL DEFAULT 0,
    reason           text        NOT NULL DEFAULT ''
);
CREATE INDEX erasures_digest_idx ON erasures (plate_digest);

COMMENT ON TABLE erasures IS 'Record of each plate erasure: who, when, what was removed (the plate only as a digest).';
COMMENT ON COLUMN erasures.actor IS 'API key name or cli:<user> that erased.';
COMMENT ON COLUMN erasures.plate_digest IS 'hmac-sha256:<hex> (keyed with api.privacy.secret) or sha256:<hex> of the normalised plate.';
COMMENT ON COLUMN erasures.events IS 'plate_events rows deleted.';
COMMENT ON COLUMN erasures.rejected_reads IS 'rejected_reads rows deleted (normalised plate_raw equal to the plate).';
COMMENT ON COLUMN erasures.alerts IS 'alerts rows deleted (with their deliveries).';
COMMENT ON COLUMN erasures.objects IS 'Crop objects deleted from object storage.';
COMMENT ON COLUMN erasures.audit_redacted IS 'audit_log rows whose details named the plate, redacted.';
COMMENT ON COLUMN erasures.reason IS 'Free text: the request that asked for it (ticket, legal basis).';
