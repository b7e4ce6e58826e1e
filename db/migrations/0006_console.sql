-- 0006 operator console (api/console/): sign-in sessions, corrections of reads, the live feed.
--
-- Owned by the console. Never edit once applied: add a new NNNN_*.sql instead.

-- ---------------------------------------------------------------------------------------
-- Console sessions: an operator signs in with an API key once; the browser then holds a random
-- session token in an HttpOnly cookie. Only its SHA-256 is stored; the session dies with its key
-- (revoked or deleted) and at expires_at.
CREATE TABLE console_sessions (
    token_hash text        PRIMARY KEY,
    key_id     int         NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    csrf_token text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX console_sessions_expires_idx ON console_sessions (expires_at);

COMMENT ON TABLE console_sessions IS 'Signed-in browser sessions of the operator console (a session acts as its API key).';
COMMENT ON COLUMN console_sessions.token_hash IS 'Hex SHA-256 of the session cookie; the cookie itself is never stored.';
COMMENT ON COLUMN console_sessions.key_id IS 'The API key the operator signed in with (its name and role apply).';
COMMENT ON COLUMN console_sessions.csrf_token IS 'Token every changing request of the session must echo (form field or X-CSRF-Token).';
COMMENT ON COLUMN console_sessions.expires_at IS 'The session ends at this time (api.console.session_ttl_s after sign-in).';

-- ---------------------------------------------------------------------------------------
-- Corrections of plate reads by operators. The event keeps its read (plate_events.plate is the
-- flow's); the latest correction of an event is its plate as far as people are concerned.
-- Search finds an event by its read and by any of its corrections.
CREATE TABLE plate_corrections (
    id           bigserial   PRIMARY KEY,
    event_id     uuid        NOT NULL,
    plate        text        NOT NULL CHECK (plate <> ''),
    previous     text        NOT NULL,
    actor        text        NOT NULL,
    reason       text        NOT NULL DEFAULT '',
    at           timestamptz NOT NULL DEFAULT now(),
    alerts_done  timestamptz NULL
);
CREATE INDEX plate_corrections_event_idx ON plate_corrections (event_id, at);
CREATE INDEX plate_corrections_plate_trgm_idx ON plate_corrections USING gin (plate gin_trgm_ops);
CREATE INDEX plate_corrections_fold_trgm_idx ON plate_corrections USING gin (alpr_fold_plate(plate) gin_trgm_ops);
CREATE INDEX plate_corrections_pending_idx ON plate_corrections (id) WHERE alerts_done IS NULL;

COMMENT ON TABLE plate_corrections IS 'Operator corrections of plate reads; the event keeps its original read.';
COMMENT ON COLUMN plate_corrections.event_id IS 'The corrected event (plate_events.event_id).';
COMMENT ON COLUMN plate_corrections.plate IS 'The plate as corrected (normalised).';
COMMENT ON COLUMN plate_corrections.previous IS 'The plate before this correction (the read, or the previous correction).';
COMMENT ON COLUMN plate_corrections.actor IS 'API key name of the operator who corrected it.';
COMMENT ON COLUMN plate_corrections.reason IS 'Free text given with the correction.';
COMMENT ON COLUMN plate_corrections.alerts_done IS 'When the corrected plate was matched against the watchlists (NULL: not yet).';

-- ---------------------------------------------------------------------------------------
-- Live feed: one notification per statement that stores events, alerts or corrections (not per row), so the
-- console's listener wakes as soon as rows are committed; it reads them by updated_at.
CREATE INDEX plate_events_updated_at_idx ON plate_events (updated_at);

CREATE FUNCTION alpr_notify_live() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('alpr_live', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION alpr_notify_live() IS 'NOTIFY alpr_live (payload: the table) after a statement stores events or alerts.';

DO $do$
BEGIN
    CREATE TRIGGER plate_events_live AFTER INSERT OR UPDATE ON plate_events
        FOR EACH STATEMENT EXECUTE FUNCTION alpr_notify_live();
EXCEPTION WHEN OTHERS THEN
    -- A storage path that refuses statement triggers: the console polls instead.
    RAISE NOTICE 'no live trigger on plate_events (%); the console polls', SQLERRM;
END
$do$;
CREATE TRIGGER alerts_live AFTER INSERT ON alerts
    FOR EACH STATEMENT EXECUTE FUNCTION alpr_notify_live();
CREATE TRIGGER plate_corrections_live AFTER INSERT ON plate_corrections
    FOR EACH STATEMENT EXECUTE FUNCTION alpr_notify_live();
