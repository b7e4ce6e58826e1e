-- 0004 query API: views for analysts (docs/sql.md), beside plate_sightings and hourly_counts (0002).
--
-- Owned by the API (api/). Never edit once applied: add a new NNNN_api_*.sql instead.

CREATE VIEW daily_counts AS
SELECT date_trunc('day', hour, 'UTC') AS day, site, camera_id,
       sum(events)::bigint AS events, sum(sightings)::bigint AS sightings
  FROM hourly_counts
 GROUP BY 1, 2, 3;

COMMENT ON VIEW daily_counts IS 'Plate events per camera per UTC day (rolled up from hourly_counts).';
COMMENT ON COLUMN daily_counts.day IS 'Start of the UTC day.';
COMMENT ON COLUMN daily_counts.events IS 'Plate events that started that day.';
COMMENT ON COLUMN daily_counts.sightings IS 'Sum of their sightings (reads).';

CREATE VIEW alert_status AS
SELECT a.alert_id, a.observed_at, a.plate, a.camera_id, a.site, a.severity, w.name AS watchlist,
       d.channel, d.status, d.attempts, d.last_error, d.delivered_at,
       d.delivered_at - a.observed_at AS delay
  FROM alerts a
  LEFT JOIN watchlists w ON w.id = a.watchlist_id
  LEFT JOIN alert_deliveries d ON d.alert_id = a.alert_id;

COMMENT ON VIEW alert_status IS 'One row per alert and channel: watchlist name, delivery state and delay from frame to delivery.';
COMMENT ON COLUMN alert_status.delay IS 'Time from the frame (observed_at) to delivery; NULL until delivered.';
