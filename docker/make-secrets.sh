#!/bin/sh
# Makes the secret files docker/compose.yaml mounts, under docker/secrets/: random passwords and
# keys, the database URL made from the Postgres password, and the viewer-session signing key
# (docker/session-key.mjs). An existing file is kept: the database and MinIO were initialised
# with it. Lucida runs as UID 10001, and Compose mounts secret files with their host owner and
# mode, so Lucida's four are given to 10001 (which needs root: otherwise the command is printed).
#   docker/make-secrets.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dir="$here/secrets"
umask 077
mkdir -p "$dir"

random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

# make NAME COMMAND...: writes COMMAND's output to docker/secrets/NAME unless it exists.
make() {
  name=$1; shift
  if [ -e "$dir/$name" ]; then echo "kept     secrets/$name"; return; fi
  "$@" > "$dir/$name.new"
  chmod 0400 "$dir/$name.new"
  mv "$dir/$name.new" "$dir/$name"
  echo "created  secrets/$name"
}

make postgres_password random_hex 32
database_url() { printf 'postgres://lucida:%s@postgres:5432/lucida\n' "$(cat "$dir/postgres_password")"; }
make database_url database_url
make minio_root_user sh -c 'printf "minio-admin-%s" "$(od -An -N4 -tx1 /dev/urandom | tr -d " \n")"'
make minio_root_password random_hex 32
make s3_access_key sh -c 'printf "lucida-%s" "$(od -An -N8 -tx1 /dev/urandom | tr -d " \n")"'
make s3_secret_key random_hex 32
session_key() {
  if command -v node >/dev/null 2>&1; then
    node "$here/session-key.mjs"
  else
    docker run --rm -v "$here/session-key.mjs:/session-key.mjs:ro" node:20-bookworm-slim node /session-key.mjs
  fi
}
make session_key.json session_key

lucida_files="database_url s3_access_key s3_secret_key session_key.json"
if [ "$(id -u)" = 0 ]; then
  for f in $lucida_files; do chown 10001:10001 "$dir/$f"; done
else
  echo "Lucida (UID 10001) must be able to read its secrets; run:"
  printf '  sudo chown 10001:10001'; for f in $lucida_files; do printf ' %s' "$dir/$f"; done; echo
fi
