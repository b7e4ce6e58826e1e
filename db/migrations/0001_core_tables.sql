-- 0001 core tables: everything except the time-partitioned plate_events (see 0002).
--
-- Each migration runs in one transaction under `db.migrate`; never edit an applied file
-- (its checksum is recorded in schema_migrations): add a new NNNN_name.sql instead.

-- Trigram matching for fuzzy plate search ("plate % 'AB123CD'", similarity()).
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- ---------------------------------------------------------------------------------------
-- Reads the flow rejected (failed validation, too low confidence, ...). Kept for auditing
-- and tuning; trimmed to database.reads_retention_days by alpr_maintain().
CREATE TABLE rejected_reads (
    id          bigserial PRIMARY KEY,
    observed_at timestamptz NOT NULL,
    site        text        NOT NULL,
    camera_id   text        NOT NULL,
    track_id    text        NOT NULL,
    plate_raw   text        NOT NULL,
    reason      text        NOT NULL,
    confidence  real        NOT NULL,
    crop_key    text        NULL,
    event_id    uuid        NULL
);
CREATE INDEX rejected_reads_observed_at_idx ON rejected_reads (observed_at);
CREATE INDEX rejected_reads_camera_time_idx ON rejected_reads (camera_id, observed_at);

COMMENT ON TABLE rejected_reads IS 'Plate reads rejected by the flow (invalid format, low confidence, ...), kept for auditing and tuning.';
COMMENT ON COLUMN rejected_reads.observed_at IS 'Frame time (UTC) of the rejected read.';
COMMENT ON COLUMN rejected_reads.site IS 'Site name of the camera.';
COMMENT ON COLUMN rejected_reads.camera_id IS 'Camera that produced the read.';
COMMENT ON COLUMN rejected_reads.track_id IS 'Edge track id (unique per camera and edge run).';
COMMENT ON COLUMN rejected_reads.plate_raw IS 'OCR text as read, before normalisation.';
COMMENT ON COLUMN rejected_reads.reason IS 'Why the read was rejected (machine-readable reason code).';
COMMENT ON COLUMN rejected_reads.confidence IS 'OCR confidence, 0..1.';
COMMENT ON COLUMN rejected_reads.crop_key IS 'Object-storage key of the crop, when it was stored.';
COMMENT ON COLUMN rejected_reads.event_id IS 'Plate event the read belonged to, when one was emitted.';

-- ---------------------------------------------------------------------------------------
-- Watchlists and their entries (patterns matched against every plate event).
CREATE TABLE watchlists (
    id          serial PRIMARY KEY,
    name        text        NOT NULL UNIQUE,
    description text        NOT NULL DEFAULT '',
    severity    text        NOT NULL DEFAULT 'medium',
    channels    text[]      NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE watchlists IS 'Named lists of plates of interest; a hit on any entry raises an alert.';
COMMENT ON COLUMN watchlists.name IS 'Unique name, shown in alerts.';
COMMENT ON COLUMN watchlists.description IS 'Free text: why the list exists, who owns it.';
COMMENT ON COLUMN watchlists.severity IS 'Default severity of alerts from this list (an entry may override it).';
COMMENT ON COLUMN watchlists.channels IS 'Alert channels to notify (e.g. webhook, slack).';
COMMENT ON COLUMN watchlists.created_at IS 'When the list was created.';

CREATE TABLE watchlist_entries (
    id           bigserial PRIMARY KEY,
    watchlist_id int         NOT NULL REFERENCES watchlists (id) ON DELETE CASCADE,
    pattern      text        NOT NULL CHECK (pattern <> ''),
    match_type   text        NOT NULL DEFAULT 'exact' CHECK (match_type IN ('exact', 'regex', 'fuzzy')),
    max_distance int         NOT NULL DEFAULT 1 CHECK (max_distance >= 0),
    severity     text        NULL,
    note         text        NULL,
    expires_at   timestamptz NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX watchlist_entries_watchlist_idx ON watchlist_entries (watchlist_id);
-- Lets operators find entries similar to a plate ("is this car already listed?").
CREATE INDEX watchlist_entries_pattern_trgm_idx ON watchlist_entries USING gin (pattern gin_trgm_ops);

COMMENT ON TABLE watchlist_entries IS 'Patterns of a watchlist, matched against normalised plates by the flow.';
COMMENT ON COLUMN watchlist_entries.watchlist_id IS 'Owning watchlist; entries are deleted with it.';
COMMENT ON COLUMN watchlist_entries.pattern IS 'Normalised plate (exact, fuzzy) or a regular expression (regex).';
COMMENT ON COLUMN watchlist_entries.match_type IS 'exact | regex | fuzzy (edit distance up to max_distance).';
COMMENT ON COLUMN watchlist_entries.max_distance IS 'Largest edit distance still a hit, for fuzzy entries.';
COMMENT ON COLUMN watchlist_entries.severity IS 'Overrides the watchlist severity when set.';
COMMENT ON COLUMN watchlist_entries.note IS 'Free text shown with alerts (reason for listing, case number).';
COMMENT ON COLUMN watchlist_entries.expires_at IS 'The entry stops matching after this time; NULL = never.';

-- ---------------------------------------------------------------------------------------
-- Alerts raised by watchlist hits, and their delivery per channel.
-- No foreign keys to plate_events/watchlist_entries: alerts are history and must outlive
-- expired reads (retention) and deleted entries.
CREATE TABLE alerts (
    alert_id     uuid PRIMARY KEY,
    event_id     uuid        NOT NULL,
    entry_id     bigint      NOT NULL,
    watchlist_id int         NOT NULL,
    plate        text        NOT NULL,
    camera_id    text        NOT NULL,
    site         text        NOT NULL,
    observed_at  timestamptz NOT NULL,
    severity     text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alerts_observed_at_idx ON alerts (observed_at);
CREATE INDEX alerts_event_idx ON alerts (event_id);
CREATE INDEX alerts_watchlist_time_idx ON alerts (watchlist_id, observed_at);
CREATE INDEX alerts_plate_idx ON alerts (plate);

COMMENT ON TABLE alerts IS 'Watchlist hits (one per plate event and watchlist entry); alert_id = uuid5(event_id, entry_id).';
COMMENT ON COLUMN alerts.alert_id IS 'uuid5 of event_id and entry_id: writing an alert twice is a no-op.';
COMMENT ON COLUMN alerts.camera_id IS 'Camera that saw the plate.';
COMMENT ON COLUMN alerts.site IS 'Site name of the camera.';
COMMENT ON COLUMN alerts.event_id IS 'The plate event that matched (plate_events.event_id).';
COMMENT ON COLUMN alerts.entry_id IS 'The watchlist entry that matched (watchlist_entries.id at the time).';
COMMENT ON COLUMN alerts.watchlist_id IS 'The watchlist of the entry (watchlists.id at the time).';
COMMENT ON COLUMN alerts.plate IS 'Normalised plate that matched.';
COMMENT ON COLUMN alerts.observed_at IS 'Frame time of the best read of the event.';
COMMENT ON COLUMN alerts.severity IS 'Effective severity (entry, else watchlist).';
COMMENT ON COLUMN alerts.created_at IS 'When the alert row was written.';

CREATE TABLE alert_deliveries (
    alert_id     uuid        NOT NULL REFERENCES alerts (alert_id) ON DELETE CASCADE,
    channel      text        NOT NULL,
    status       text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts     int         NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error   text        NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz NULL,
    PRIMARY KEY (alert_id, channel)
);
CREATE INDEX alert_deliveries_open_idx ON alert_deliveries (status, updated_at) WHERE status <> 'delivered';

COMMENT ON TABLE alert_deliveries IS 'Delivery state of each alert on each channel (webhook, slack, ...).';
COMMENT ON COLUMN alert_deliveries.alert_id IS 'The alert delivered (alerts.alert_id); rows go with the alert.';
COMMENT ON COLUMN alert_deliveries.channel IS 'Channel name, as listed in watchlists.channels.';
COMMENT ON COLUMN alert_deliveries.status IS 'pending | delivered | failed (gave up after retries).';
COMMENT ON COLUMN alert_deliveries.attempts IS 'Delivery attempts so far.';
COMMENT ON COLUMN alert_deliveries.last_error IS 'Error of the last failed attempt.';
COMMENT ON COLUMN alert_deliveries.delivered_at IS 'When the channel accepted the alert.';

-- ---------------------------------------------------------------------------------------
-- API access and audit.
CREATE TABLE api_keys (
    id         serial PRIMARY KEY,
    name       text        NOT NULL UNIQUE,
    key_hash   text        NOT NULL UNIQUE,
    role       text        NOT NULL DEFAULT 'read' CHECK (role IN ('read', 'admin')),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz NULL
);

COMMENT ON TABLE api_keys IS 'API keys of the query API; only a hash of each key is stored.';
COMMENT ON COLUMN api_keys.name IS 'Unique label of the key (who or what uses it).';
COMMENT ON COLUMN api_keys.key_hash IS 'Hash of the secret key; the key itself is shown once at creation.';
COMMENT ON COLUMN api_keys.role IS 'read: search only; admin: also manage watchlists and keys.';
COMMENT ON COLUMN api_keys.revoked_at IS 'The key is refused from this time on; NULL = active.';

CREATE TABLE audit_log (
    id      bigserial PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    actor   text        NOT NULL,
    action  text        NOT NULL,
    details jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_at_idx ON audit_log (at);

COMMENT ON TABLE audit_log IS 'Who did what through the API (searches, watchlist and key changes).';
COMMENT ON COLUMN audit_log.at IS 'When the action happened.';
COMMENT ON COLUMN audit_log.actor IS 'API key name (or system component) that acted.';
COMMENT ON COLUMN audit_log.action IS 'What was done, e.g. search, watchlist.create, key.revoke.';
COMMENT ON COLUMN audit_log.details IS 'Parameters of the action (JSON).';
