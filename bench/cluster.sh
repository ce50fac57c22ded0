#!/usr/bin/env bash
# Scale-out benchmark, loopback only, bounded in time.
#
# 1. Token issuance (RS256 unless ALG is set, the documented POST /oauth/token) on the embedded SQLite backend and
#    on PostgreSQL, one node pinned to CPU 0 and wrk pinned to CPU 1, DURATION seconds each.
# 2. One PostgreSQL node against two PostgreSQL nodes on the same database, wrk splitting its
#    connections between them. On a 2-core machine the two nodes, wrk and PostgreSQL share the
#    same two cores, so this shows the overhead of a second node, not the scaling a machine
#    with spare cores gives (see the README's deployment guide for the reasoning).
#
#   bench/cluster.sh                       # DURATION=10, PG_SERVER=postgres://postgres@127.0.0.1:5432
#   DURATION=5 bench/cluster.sh
#   ALG=ES256 bench/cluster.sh              # cheap signatures: the database's share shows more
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-10}"
PORT="${PORT:-18281}"
CONNECTIONS="${CONNECTIONS:-32}"
PG_SERVER="${PG_SERVER:-postgres://postgres@127.0.0.1:5432}"
for tool in wrk taskset curl psql; do
  command -v "$tool" >/dev/null || { echo "bench needs $tool (apt-get install wrk util-linux curl postgresql-client)" >&2; exit 2; }
done

cargo build --release -q -p brandstream
BIN=target/release/brandstream
WORK=$(mktemp -d)
DB="bs_bench_$$"
PIDS=()
export BRANDSTREAM_MASTER_KEY=$(head -c 32 /dev/urandom | base64)
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$PG_SERVER/postgres" -X -q -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
psql "$PG_SERVER/postgres" -X -q -c "CREATE DATABASE $DB"
PG_URL="$PG_SERVER/$DB"

start_node() { # cpu port data_dir [database_url]
  local args=(serve --listen "127.0.0.1:$2" --data-dir "$3")
  [ -n "${4:-}" ] && args+=(--database-url "$4")
  BRANDSTREAM_LOG_LEVEL=warn BRANDSTREAM_ISSUER="http://bench.test/" BRANDSTREAM_SIGNING_ALG="${ALG:-RS256}" \
  BRANDSTREAM_RATE_LIMITS__PER_CLIENT_PER_SECOND=0 BRANDSTREAM_RATE_LIMITS__PER_ADDRESS_PER_SECOND=0 \
    taskset -c "$1" "$BIN" "${args[@]}" 2>>"$WORK/server.log" &
  PIDS+=($!)
  for _ in $(seq 1 500); do
    curl -sf "http://127.0.0.1:$2/healthz" >/dev/null 2>&1 && return 0
    sleep 0.01
  done
  echo "node did not start" >&2; cat "$WORK/server.log" >&2; exit 1
}
stop_nodes() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
credential() { # admin args…
  local org cred
  org=$("$BIN" admin "$@" orgs list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
  cred=$("$BIN" admin "$@" credentials create --org "$org" --label bench --json 2>/dev/null)
  CLIENT_ID=$(echo "$cred" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')
  CLIENT_SECRET=$(echo "$cred" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
  export CLIENT_ID CLIENT_SECRET
}
load() { # cpu-list url…  → prints total requests/s
  local cpus=$1; shift
  local total=0 per=$(( CONNECTIONS / $# )) outs=() loaders=()
  for url in "$@"; do
    taskset -c "$cpus" wrk -t1 -c"$per" -d2s -s bench/token.lua "$url/oauth/token" >/dev/null
  done
  local i=0
  for url in "$@"; do
    taskset -c "$cpus" wrk -t1 -c"$per" -d"${DURATION}s" -s bench/token.lua "$url/oauth/token" >"$WORK/wrk.$i" &
    loaders+=($!); outs+=("$WORK/wrk.$i"); i=$((i + 1))
  done
  for loader in "${loaders[@]}"; do wait "$loader"; done
  for out in "${outs[@]}"; do
    if grep -q "Non-2xx" "$out"; then cat "$out" >&2; echo "non-2xx responses under load" >&2; exit 1; fi
    total=$(python3 -c "print($total + float('$(awk '/Requests\/sec/ {print $2}' "$out")'))")
  done
  printf '%.0f' "$total"
}

printf '%-44s %10s\n' "setup (${ALG:-RS256})" tokens/s
start_node 0 "$PORT" "$WORK/embedded"
credential --data-dir "$WORK/embedded"
embedded=$(load 1 "http://127.0.0.1:$PORT")
stop_nodes
printf '%-44s %10s\n' "embedded (SQLite), 1 node on 1 core" "$embedded"

start_node 0 "$PORT" "$WORK/pg-a" "$PG_URL"
credential --data-dir "$WORK/pg-a" --database-url "$PG_URL"
one=$(load 1 "http://127.0.0.1:$PORT")
printf '%-44s %10s  (%s of embedded)\n' "PostgreSQL, 1 node on 1 core" "$one" \
  "$(python3 -c "print(f'{$one / $embedded * 100:.0f}%')")"

start_node 1 "$((PORT + 1))" "$WORK/pg-b" "$PG_URL"
two=$(load 0,1 "http://127.0.0.1:$PORT" "http://127.0.0.1:$((PORT + 1))")
stop_nodes
printf '%-44s %10s  (%s of one node; all share 2 cores)\n' "PostgreSQL, 2 nodes (cores 0 and 1)" "$two" \
  "$(python3 -c "print(f'{$two / $one:.2f}x')")"
echo "audit events written to PostgreSQL: $(psql "$PG_URL" -X -q -t -A -c "SELECT COUNT(*) FROM audit_events")"
