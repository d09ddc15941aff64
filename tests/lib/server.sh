# Sourced by the runs that drive a release server from outside (tests/api, tests/scim):
#
#   vs_serve NAME PORT [--postgres]
#
# starts `$bin serve` on 127.0.0.1:PORT with a fresh temporary data folder and mail outbox
# ($work/outbox), on embedded SQLite or (--postgres) on a fresh PostgreSQL database at
# 127.0.0.1:5432 named after NAME, waits until it is ready, and stops it, removes the folder and
# drops the database when the script exits. Sets $work and $url; needs $bin.
vs_serve() {
  local name="$1" port="$2"
  pg_db=""
  if [ "${3:-}" = "--postgres" ]; then
    pg_db="vouchsafe_${name}_$$"
    psql -h 127.0.0.1 -U postgres -d test -qc "CREATE DATABASE $pg_db" >/dev/null
    export VOUCHSAFE_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$pg_db"
  fi
  work="$(mktemp -d)"
  url="http://127.0.0.1:$port"
  server_pid=""
  trap vs_cleanup EXIT
  export VOUCHSAFE_BIND="127.0.0.1:$port" VOUCHSAFE_PUBLIC_URL="$url" VOUCHSAFE_DATA_DIR="$work/data"
  export VOUCHSAFE_MAIL_OUTBOX_DIR="$work/outbox" VOUCHSAFE_ARGON2_CONCURRENCY=2
  "$bin" serve >"$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 100); do
    curl -fsS "$url/readyz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fsS "$url/readyz" >/dev/null
}

vs_cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
  if [ -n "$pg_db" ]; then psql -h 127.0.0.1 -U postgres -d test -qc "DROP DATABASE IF EXISTS $pg_db" >/dev/null; fi
}
