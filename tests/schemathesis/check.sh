#!/usr/bin/env bash
# The published OpenAPI document against the wire: starts a server on a fresh data dir,
# creates an organisation's credential, a kit (with its catalogue sections and fields) and a
# document, then runs Schemathesis over every documented operation with those ids pinned
# (schemathesis.toml), a fixed seed and a time budget. Fails on any 5xx and on any response
# that does not match its documented schema. Loopback only; stops by itself.
#
#   tests/schemathesis/check.sh                       # target/debug/brandstream
#   BIN=target/release/brandstream MAX_TIME=300 tests/schemathesis/check.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

BIN="${BIN:-target/debug/brandstream}"
PORT="${PORT:-18310}"
MAX_TIME="${MAX_TIME:-150}"
MAX_EXAMPLES="${MAX_EXAMPLES:-25}"
SEED="${SEED:-20261206}"
VENV="${VENV:-target/schemathesis-venv}"
[ -x "$BIN" ] || { echo "no server binary at $BIN (cargo build -p brandstream)" >&2; exit 2; }
if [ ! -x "$VENV/bin/st" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "schemathesis==4.32.5"
fi

WORK=$(mktemp -d)
SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

BRANDSTREAM_LOG_LEVEL=warn \
BRANDSTREAM_RATE_LIMITS__PER_CLIENT_PER_SECOND=0 BRANDSTREAM_RATE_LIMITS__PER_ADDRESS_PER_SECOND=0 \
  "$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" 2>"$WORK/server.log" &
SERVER_PID=$!
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 1 300); do
  curl -sf "$BASE/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf "$BASE/healthz" >/dev/null || { cat "$WORK/server.log" >&2; echo "server did not start" >&2; exit 1; }

json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
export ST_ORG_ID=$("$BIN" admin --data-dir "$WORK/data" orgs list --json | json 'd[0]["id"]')
cred=$("$BIN" admin --data-dir "$WORK/data" credentials create --org "$ST_ORG_ID" --label schemathesis --json 2>/dev/null)
client_id=$(echo "$cred" | json 'd["client_id"]')
client_secret=$(echo "$cred" | json 'd["client_secret"]')
token=$(curl -sf -X POST "$BASE/oauth/token" \
  -d "client_id=$client_id&client_secret=$client_secret&grant_type=client_credentials&audience=https%3A%2F%2Fapi.sitecorecloud.io" |
  json 'd["access_token"]')
auth=(-H "Authorization: Bearer $token")
kits="$BASE/api/brands/v1/organizations/$ST_ORG_ID/brandkits"
export ST_KIT_ID=$(curl -sf "${auth[@]}" -H 'Content-Type: application/json' -d '{"name": "Schemathesis kit"}' "$kits" | json 'd["id"]')
export ST_SECTION_ID=$(curl -sf "${auth[@]}" "$kits/$ST_KIT_ID/sections" | json '(d["data"] if isinstance(d, dict) else d)[0]["id"]')
fields="$BASE/api/brands/v2/organizations/$ST_ORG_ID/brandkits/$ST_KIT_ID/sections/$ST_SECTION_ID/fields"
export ST_FIELD_ID=$(curl -sf "${auth[@]}" "$fields" | json '(d["data"] if isinstance(d, dict) else d)[0]["id"]')
printf '# Schemathesis brand\n\n## Voice\n\nPlain and warm.\n' > "$WORK/brand.md"
export ST_DOCUMENT_ID=$(curl -sf "${auth[@]}" -F "file=@$WORK/brand.md;type=text/markdown" \
  -F 'create_request={"type": "brand guidelines"}' \
  "$BASE/api/documents/v2/organizations/$ST_ORG_ID/documents" | json 'd["id"]')
# An ingestion run over it (its id pinned), and a chunk it produced.
pipeline="$BASE/api/data/v1/organizations/$ST_ORG_ID/pipeline"
export ST_RUN_ID=$(curl -sf "${auth[@]}" -H 'Content-Type: application/json' \
  -d "{\"parameters\": {\"brand_kit_id\": \"$ST_KIT_ID\", \"documentIdsList\": \"$ST_DOCUMENT_ID\"}}" \
  "$pipeline/BrandIngestionPipeline" | json 'd["id"]')
for _ in $(seq 1 300); do
  status=$(curl -sf "${auth[@]}" "$pipeline/runs/$ST_RUN_ID" | json 'd["status"]')
  case "$status" in Succeeded | Failed | Cancelled) break ;; esac
  sleep 0.2
done
[ "$status" = Succeeded ] || { echo "the setup run ended $status" >&2; exit 1; }
export ST_CHUNK_ID=$(curl -sf "${auth[@]}" "$BASE/api/documents/v2/organizations/$ST_ORG_ID/chunks?query=voice" |
  json '(d["data"] if isinstance(d, dict) else d)[0]["id"]')

"$VENV/bin/st" --config-file tests/schemathesis/schemathesis.toml run "$BASE/api/docs/openapi.json" \
  "${auth[@]}" \
  --checks not_a_server_error,response_schema_conformance \
  --seed "$SEED" --max-examples "$MAX_EXAMPLES" --max-time "$MAX_TIME" \
  --phases examples,coverage,fuzzing --workers 1 --suppress-health-check filter_too_much \
  --generation-database none --request-timeout 20 --no-color
