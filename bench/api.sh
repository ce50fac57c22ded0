#!/usr/bin/env bash
# Brand Management read benchmark, loopback only, bounded in time.
#
# Starts a release build on a fresh data dir (both cores, as deployed), creates a credential,
# a token and a kit, then drives with wrk for DURATION seconds each:
#   1. GET /healthz                                  (unauthenticated, static)
#   2. GET /api/brands/v1/organizations/{org}/brandkits/{id}  (bearer verification + storage)
# and prints both rates and their ratio (target: authenticated ≥ 50 % of healthz).
#
#   bench/api.sh                 # DURATION=10, ALG=RS256
#   ALG=ES256 DURATION=5 bench/api.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-10}"
PORT="${PORT:-18183}"
ALG="${ALG:-RS256}"
CONNECTIONS="${CONNECTIONS:-32}"
for tool in wrk curl python3; do
  command -v "$tool" >/dev/null || { echo "bench needs $tool" >&2; exit 2; }
done
# BIN=path/to/brandstream measures that binary instead of a fresh release build (to compare
# two builds in one session).
if [ -z "${BIN:-}" ]; then
  cargo build --release -q -p brandstream
  BIN=target/release/brandstream
fi
WORK=$(mktemp -d)
SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

BRANDSTREAM_SIGNING_ALG="$ALG" BRANDSTREAM_LOG_LEVEL=warn \
  "$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" 2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 1 500); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.01; done

BASE="http://127.0.0.1:$PORT"
org=$("$BIN" admin --data-dir "$WORK/data" orgs list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
cred=$("$BIN" admin --data-dir "$WORK/data" credentials create --org "$org" --label bench --json 2>/dev/null)
id=$(echo "$cred" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')
secret=$(echo "$cred" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
token=$(curl -s -X POST "$BASE/oauth/token" --data-urlencode "client_id=$id" --data-urlencode "client_secret=$secret" \
  --data-urlencode grant_type=client_credentials | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
kit=$(curl -s -X POST "$BASE/api/brands/v1/organizations/$org/brandkits" -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/json' -d '{"name":"Bench kit"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
KIT_URL="$BASE/api/brands/v1/organizations/$org/brandkits/$kit"
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$KIT_URL")" = 200 ] || { echo "kit GET failed" >&2; exit 1; }

run() { wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" "$@" | awk '/Requests\/sec/ {print $2}'; }
wrk -t2 -c"$CONNECTIONS" -d2s "$BASE/healthz" >/dev/null
health=$(run "$BASE/healthz")
kit_rate=$(run -H "Authorization: Bearer $token" "$KIT_URL")
rss=$(awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$SERVER_PID/status")
printf 'GET /healthz                 %10.0f req/s\n' "$health"
printf 'GET …/brandkits/{id} (%s)  %10.0f req/s\n' "$ALG" "$kit_rate"
python3 -c "print(f'ratio                        {float(\"$kit_rate\") / float(\"$health\") * 100:9.0f} %')"
echo "peak RSS $rss MB"
