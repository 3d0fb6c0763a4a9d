#!/bin/sh
# First start: initialise PGDATA with POSTGRES_USER as superuser (password POSTGRES_PASSWORD,
# required) and create POSTGRES_DB; then run the server, listening on all addresses with
# password (scram-sha-256) authentication over TCP and trust on the local socket.
set -eu

if [ "${1:-}" != postgres ]; then
  exec "$@"
fi
shift

: "${PGDATA:=/var/lib/postgresql/data}"
user=${POSTGRES_USER:-postgres}
database=${POSTGRES_DB:-$user}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "docker-entrypoint.sh: POSTGRES_PASSWORD is empty; set it to initialise the database in $PGDATA." >&2
    exit 1
  fi
  mkdir -p "$PGDATA"
  chmod 0700 "$PGDATA"
  # The password goes through a file that only this user can read, never the command line.
  password_file=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" >"$password_file"
  initdb --username="$user" --pwfile="$password_file" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 -D "$PGDATA" >/dev/null
  rm -f "$password_file"
  if [ "$database" != postgres ]; then
    echo "CREATE DATABASE \"$database\" OWNER \"$user\";" | postgres --single -D "$PGDATA" postgres >/dev/null
  fi
  echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  echo "docker-entrypoint.sh: initialised $PGDATA with database $database owned by $user."
fi

exec postgres -D "$PGDATA" "$@"
