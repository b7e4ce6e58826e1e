#!/usr/bin/env bash
# Copy an alpr database on the plain PostgreSQL path (pg_partman or native partitions) into a new
# one on the TimescaleDB path. The target must exist, be migrated with `--storage timescaledb` by
# the same code (same migrations applied) and hold no data yet; the source is only read.
#
#   alpr db migrate --url "$TARGET" --storage timescaledb
#   scripts/move-to-timescaledb.sh "$SOURCE" "$TARGET"
#
# Rows of every table move with pg_dump --data-only; plate_events is dumped through its root
# (--load-via-partition-root), so each day's partition lands in the hypertable's chunks. Not
# copied: schema_migrations and storage_layout (the target has its own), pg_partman's and
# pg_cron's schemas, and plate_dictionary's rows (the target's triggers rebuild it from the
# plate_events rows as they are copied). Then the continuous aggregate is refreshed over all the data, and the
# compression policy runs once (chunks older than 7 days get compressed now, not at its next run).
# Stop the writers (flow, API) first, and point them at the target afterwards.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 SOURCE_URL TARGET_URL" >&2
    exit 2
fi
SOURCE="$1"
TARGET="$2"
BIN="${PG_BINDIR:-/usr/lib/postgresql/15/bin}"
psql_at() { "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -At "$@"; }

path=$(psql_at "$TARGET" -c "SELECT path FROM storage_layout")
if [ "$path" != "timescaledb" ]; then
    echo "error: the target's plate_events is on the $path path; migrate it with --storage timescaledb" >&2
    exit 1
fi
versions="SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations"
if [ "$(psql_at "$SOURCE" -c "$versions")" != "$(psql_at "$TARGET" -c "$versions")" ]; then
    echo "error: source and target have different migrations applied; run alpr db migrate on both" >&2
    exit 1
fi
if [ "$(psql_at "$TARGET" -c "SELECT EXISTS (SELECT 1 FROM plate_events)")" != "f" ]; then
    echo "error: the target already holds plate events" >&2
    exit 1
fi

start=$(date +%s)
"$BIN/pg_dump" --data-only --load-via-partition-root --no-owner --no-privileges \
    --exclude-table=schema_migrations --exclude-table=storage_layout --exclude-table-data=plate_dictionary \
    --exclude-schema=partman --exclude-schema=cron "$SOURCE" \
    | "$BIN/psql" -X -q -v ON_ERROR_STOP=1 --single-transaction -o /dev/null "$TARGET"

psql_at "$TARGET" -c "CALL refresh_continuous_aggregate('hourly_counts', NULL, NULL)"
psql_at "$TARGET" -c "SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = 'policy_compression'" |
    while read -r job; do psql_at "$TARGET" -c "CALL run_job($job)"; done
psql_at "$TARGET" -c "ANALYZE"
echo "moved $(psql_at "$TARGET" -c "SELECT count(*) FROM plate_events") plate events in $(( $(date +%s) - start )) s;" \
    "chunks: $(psql_at "$TARGET" -c "SELECT count(*) FROM show_chunks('plate_events')")"
