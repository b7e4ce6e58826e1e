-- Vehicles on plate events: the vehicle carrying the plate (type, colour, make/model, box) as the
-- edge described it, and "no-plate" events: a vehicle that passed with no plate seen on it
-- (cameras with no_plate_events), stored with an empty plate and the vehicle's crop.
-- New columns are nullable (or constant-default), so existing rows and writers stay valid.

ALTER TABLE plate_events
    ADD COLUMN vehicle_type   text    NULL,
    ADD COLUMN vehicle_colour text    NULL,
    ADD COLUMN vehicle_make   text    NULL,
    ADD COLUMN vehicle_model  text    NULL,
    ADD COLUMN vehicle_bbox   int4[]  NULL,
    ADD COLUMN no_plate       boolean NOT NULL DEFAULT false;

COMMENT ON COLUMN plate_events.vehicle_type IS 'Type of the vehicle carrying the plate (car, truck, bus, motorcycle), voted over its track; NULL when no vehicle was tracked.';
COMMENT ON COLUMN plate_events.vehicle_colour IS 'Body colour of the vehicle (black, blue, brown, green, grey, orange, purple, red, white, yellow), voted over its track.';
COMMENT ON COLUMN plate_events.vehicle_make IS 'Vehicle make, from a plugged-in make/model classifier (none is shipped).';
COMMENT ON COLUMN plate_events.vehicle_model IS 'Vehicle model, from a plugged-in make/model classifier (none is shipped).';
COMMENT ON COLUMN plate_events.vehicle_bbox IS 'Vehicle box {x, y, w, h} in pixels of the frame of the best crop.';
COMMENT ON COLUMN plate_events.no_plate IS 'True: a vehicle passed with no plate seen (plate and plate_raw are empty; the crop is the vehicle).';

-- Searches by vehicle: type and colour per camera over time.
CREATE INDEX plate_events_vehicle_idx ON plate_events (vehicle_type, vehicle_colour, first_seen);

-- Per plate: no-plate events have no plate to group by.
CREATE OR REPLACE VIEW plate_sightings AS
SELECT plate,
       min(first_seen)                              AS first_seen,
       max(last_seen)                               AS last_seen,
       count(*)                                     AS events,
       sum(sightings)                               AS sightings,
       array_agg(DISTINCT camera_id ORDER BY camera_id) AS cameras,
       array_agg(DISTINCT site ORDER BY site)       AS sites,
       max(confidence)                              AS best_confidence
  FROM plate_events
 WHERE NOT no_plate
 GROUP BY plate;
