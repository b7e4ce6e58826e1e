#!/bin/sh
# Install the system packages of the local service stack on Debian 12 (bookworm):
# PostgreSQL 15 with pg_partman and pg_cron, and Prometheus. Idempotent: installed packages
# are skipped, and nothing is fetched when everything is present. Run as root (or with sudo).
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

if [ -z "$missing" ]; then
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

export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086 # word splitting of the package list is intended
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y --no-install-recommends $missing
echo "installed:$missing"
