#!/bin/sh
# Install the system packages of the local service stack on Debian 12 (bookworm):
# PostgreSQL 15 with pg_partman and pg_cron, and Prometheus; and TimescaleDB, which Debian does not
# package for PostgreSQL 15: it is built from source (the tarball in ../shared/vendor, else the same
# upstream tag from GitHub; sha256 checked either way) into a PostgreSQL 15 tree of its own,
# $ALPR_TIMESCALEDB_HOME (default /opt/alpr/postgresql-15-timescaledb): a copy of the system's
# binaries with links to its libraries and share files, plus TimescaleDB. Not into the system
# PostgreSQL: there, every server that does not preload it would list it as available, and
# `CREATE EXTENSION timescaledb` on such a server ends the session with a FATAL error. The local
# stack and the tests start their private cluster from this tree (services/postgres.py).
# Idempotent: installed packages are skipped, and nothing is fetched or built when everything is
# present. Run as root (or with sudo).
#
#   scripts/install-system-deps.sh            # install what is missing
#   scripts/install-system-deps.sh --check    # only list what is missing; exit 1 if anything is
set -eu

PACKAGES="postgresql-15 postgresql-15-partman postgresql-15-cron prometheus"
# The tests also start a real RTSP server (GStreamer rtsp-server through the system python3-gi),
# check deploy/alertmanager/alertmanager.yml with amtool (prometheus-alertmanager) and
if [ "${ALPR_WITH_TEST_DEPS:-0}" = "1" ]; then
    PACKAGES="$PACKAGES python3-gi gstreamer1.0-rtsp gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good"
    PACKAGES="$PACKAGES prometheus-alertmanager"
    # ... the console's browser tests drive Debian's Chromium (Playwright's own download cannot work).
    PACKAGES="$PACKAGES chromium chromium-driver"
    # ... and bench/api.py measures the API with a compiled load generator.
    PACKAGES="$PACKAGES wrk"
fi

# TimescaleDB: version, pinned checksum of its `git archive` tarball, where it is looked for.
TSDB_VERSION="2.26.4"
TSDB_SHA256="81d29bf1552519c873d777d4ae41b7f3d6b5d5b31155109f56fcaaf1cab0290f"
TSDB_URL="https://github.com/timescale/timescaledb/archive/refs/tags/$TSDB_VERSION.tar.gz"
TSDB_BUILD_PACKAGES="cmake postgresql-server-dev-15 build-essential libssl-dev"
PG_HOME="/usr/lib/postgresql/15"
TSDB_HOME="${ALPR_TIMESCALEDB_HOME:-/opt/alpr/postgresql-15-timescaledb}"
TSDB_PG="$TSDB_HOME/lib/postgresql/15"
TSDB_SHARE="$TSDB_HOME/share/postgresql/15"
REPO_ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TSDB_TARBALL="${ALPR_TIMESCALEDB_TARBALL:-$REPO_ROOT/../shared/vendor/timescaledb-$TSDB_VERSION.tar.gz}"

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

missing=""
for pkg in $PACKAGES; do
    if installed "$pkg"; then
        echo "ok       $pkg"
    else
        echo "missing  $pkg"
        missing="$missing $pkg"
    fi
done

tsdb_installed() {
    [ -f "$TSDB_PG/lib/timescaledb-$TSDB_VERSION.so" ] && [ -f "$TSDB_SHARE/extension/timescaledb.control" ] \
        && cmp -s "$PG_HOME/bin/postgres" "$TSDB_PG/bin/postgres"  # same server build as the system's
}
tsdb_missing=0
if tsdb_installed; then
    echo "ok       timescaledb"
else
    echo "missing  timescaledb"
    tsdb_missing=1
    for pkg in $TSDB_BUILD_PACKAGES; do
        installed "$pkg" || missing="$missing $pkg"
    done
fi

if [ -z "$missing" ] && [ "$tsdb_missing" = 0 ]; then
    echo "all system dependencies are installed"
    exit 0
fi
if [ "${1:-}" = "--check" ]; then
    exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "error: not root and no sudo; run as root: apt-get install -y$missing" >&2
    exit 1
fi

if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086 # word splitting of the package list is intended
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086
    $SUDO apt-get install -y --no-install-recommends $missing
    echo "installed:$missing"
fi

if [ "$tsdb_missing" = 1 ]; then
    # The tree: PostgreSQL finds its lib and share dirs relative to its own executable, so real
    # copies of the binaries under $TSDB_HOME/lib/postgresql/15/bin use $TSDB_HOME's dirs.
    # Rebuilt from scratch each time (a PostgreSQL minor upgrade changes the binaries); only a
    # tree this script made (its marker file) is ever removed.
    if [ -e "$TSDB_HOME" ] && [ ! -f "$TSDB_HOME/.alpr-timescaledb" ]; then
        echo "error: $TSDB_HOME exists and was not made by this script; set ALPR_TIMESCALEDB_HOME" >&2
        exit 1
    fi
    $SUDO rm -rf "$TSDB_HOME"
    $SUDO mkdir -p "$TSDB_PG" "$TSDB_HOME/share/postgresql"
    $SUDO touch "$TSDB_HOME/.alpr-timescaledb"
    $SUDO cp -a "$PG_HOME/bin" "$TSDB_PG/"
    $SUDO cp -as "$PG_HOME/lib" "$TSDB_PG/"
    $SUDO cp -as "/usr/share/postgresql/15" "$TSDB_HOME/share/postgresql/"
    # Build in a scratch dir (about 40 s on 2 cores), install into a staging dir, copy into the tree.
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    if [ -f "$TSDB_TARBALL" ]; then
        cp "$TSDB_TARBALL" "$work/timescaledb.tar.gz"
    else
        echo "timescaledb: $TSDB_TARBALL not found; fetching tag $TSDB_VERSION from GitHub"
        curl -fsSL --retry 3 -o "$work/timescaledb.tar.gz" "$TSDB_URL"
    fi
    echo "$TSDB_SHA256  $work/timescaledb.tar.gz" | sha256sum -c --quiet - || {
        echo "error: timescaledb tarball checksum differs from $TSDB_SHA256" >&2
        exit 1
    }
    tar -xzf "$work/timescaledb.tar.gz" -C "$work"
    start=$(date +%s)
    (
        cd "$work/timescaledb-$TSDB_VERSION"
        ./bootstrap -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF \
            -DGENERATE_DOWNGRADE_SCRIPT=OFF -DPG_CONFIG="$PG_HOME/bin/pg_config"
        make -C build -s -j"$(nproc)"
        make -C build -s install DESTDIR="$work/stage"
    ) >"$work/build.log" 2>&1 || { tail -40 "$work/build.log" >&2; echo "error: timescaledb build failed" >&2; exit 1; }
    $SUDO cp --remove-destination "$work/stage$PG_HOME/lib/"* "$TSDB_PG/lib/"
    $SUDO cp --remove-destination "$work/stage/usr/share/postgresql/15/extension/"* "$TSDB_SHARE/extension/"
    tsdb_installed || { echo "error: timescaledb build finished but its files are missing" >&2; exit 1; }
    echo "installed: timescaledb $TSDB_VERSION in $TSDB_HOME (built in $(( $(date +%s) - start )) s)"
fi
