#!/usr/bin/env sh
# Create the secret files deploy/docker-compose.yml mounts (random, mode 600), keeping existing ones.
# Run once before the first `docker compose up`; back them up with the database (docs/deploy.md).
set -eu
dir="$(dirname "$0")/secrets"
mkdir -p "$dir"
chmod 700 "$dir"
for name in postgres_password minio_root_password grafana_admin_password; do
  if [ ! -s "$dir/$name" ]; then
    (umask 077 && head -c 32 /dev/urandom | base64 | tr -d '/+=\n' | head -c 32 > "$dir/$name")
    echo "created $dir/$name"
  else
    echo "kept $dir/$name"
  fi
done
