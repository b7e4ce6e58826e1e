-- 0005 hardening: crops whose upload failed wait here (durably) and are uploaded again.
--
-- Owned by the flow (flows/crop_retries.py). Never edit once applied: add a new file instead.
-- When object storage is down longer than the flow's upload retries, the event is stored
-- without its crop and the crop is kept here; the flow's retrier uploads it when the store
-- is back and sets crop_key/crop_url on the event's row. `alpr erase` deletes a plate's rows.

CREATE TABLE crop_retries (
    crop_key       text        PRIMARY KEY,
    event_id       uuid        NOT NULL,
    camera_id      text        NOT NULL,
    plate          text        NOT NULL,
    first_seen     timestamptz NOT NULL,
    attributes     jsonb       NOT NULL,
    image          bytea       NOT NULL,
    attempts       int         NOT NULL DEFAULT 0,
    last_error     text,
    uploaded_at    timestamptz,
    next_at        timestamptz NOT NULL DEFAULT now(),
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX crop_retries_next_idx ON crop_retries (next_at);
CREATE INDEX crop_retries_plate_idx ON crop_retries (plate);

COMMENT ON TABLE crop_retries IS 'Crops whose upload to object storage failed, retried by the flow until stored and linked to their event.';
COMMENT ON COLUMN crop_retries.crop_key IS 'Object key the crop is uploaded to (crops/YYYY/MM/DD/<camera>/<event_id>.<ext>).';
COMMENT ON COLUMN crop_retries.event_id IS 'The event whose row gets crop_key/crop_url once the upload succeeded.';
COMMENT ON COLUMN crop_retries.plate IS 'Normalised plate of the event (erasure finds the row by it).';
COMMENT ON COLUMN crop_retries.attributes IS 'Content-Type and user metadata of the object.';
COMMENT ON COLUMN crop_retries.uploaded_at IS 'When the object was stored; the row stays until the event row is linked (or a grace period passed).';
COMMENT ON COLUMN crop_retries.next_at IS 'Earliest time of the next attempt (exponential backoff).';
