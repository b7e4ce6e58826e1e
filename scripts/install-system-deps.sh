#!/bin/sh
# Install the system packages of the local service stack on Debian 12 (bookworm):
# PostgreSQL 15 with pg_partman and pg_cron, and Prometheus; and TimescaleDB, which Debian does not
# package for PostgreSQL 15: it is built from source (the tarball in ../shared/vendor, else the same
# upstream tag from GitHub; sha256 checked either way) into PostgreSQL's lib and extension dirs.
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
fi

# TimescaleDB: version, pinned checksum of its `git archive` tarball, where it is looked for.
TSDB_VERSION="2.26.4"
TSDB_SHA256="81d29bf1552519c873d777d4ae41b7f3d6b5d5b31155109f56fcaaf1cab0290f"
TSDB_URL="https://github.com/timescale/timescaledb/archive/refs/tags/$TSDB_VERSION.tar.gz"
TSDB_BUILD_PACKAGES="cmake postgresql-server-dev-15 build-essential libssl-dev"
PG_LIBDIR="/usr/lib/postgresql/15/lib"
PG_EXTDIR="/usr/share/postgresql/15/extension"
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
    [ -f "$PG_LIBDIR/timescaledb-$TSDB_VERSION.so" ] && [ -f "$PG_EXTDIR/timescaledb--$TSDB_VERSION.sql" ]
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
    # Build in a scratch dir (about 40 s on 2 cores); `make install` only adds files to PostgreSQL's
    # lib and extension dirs. A running server needs shared_preload_libraries=timescaledb to use it
    # (the local stack and the tests start a private cluster that preloads it: services/postgres.py).
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
            -DGENERATE_DOWNGRADE_SCRIPT=OFF -DPG_CONFIG=/usr/lib/postgresql/15/bin/pg_config >/dev/null
        make -C build -s -j"$(nproc)" >/dev/null
        $SUDO make -C build -s install >/dev/null
    )
    tsdb_installed || { echo "error: timescaledb build finished but its files are missing" >&2; exit 1; }
    echo "installed: timescaledb $TSDB_VERSION (built from source in $(( $(date +%s) - start )) s)"
fi
