#!/usr/bin/env bash
# Token-issuance benchmark, loopback only, bounded in time.
#
# For RS256, ES256 and EdDSA: starts a release build pinned to CPU 0 on a fresh data dir,
# drives the documented POST /oauth/token with wrk pinned to CPU 1 for DURATION seconds,
# then at half that rate with hey to read the p99 latency, and reads the server's peak RSS.
# In the same run, on the same core: `openssl speed` for the algorithm (the signing limit of
# that core), our library's in-process signing rate (crates/auth/examples/sign_rate.rs), and
# the peer node-oidc-provider (bench/oidc-peer, client_credentials with JWT access tokens,
# the same request) — skipped with a message where node or npm is missing. Prints the ratios.
# Finally measures start-to-ready on an existing data dir.
#
#   bench/token.sh            # DURATION=10 by default
#   DURATION=5 bench/token.sh
#   ALGS=ES256 bench/token.sh  # one algorithm
#   PEER=0 bench/token.sh      # without the node-oidc-provider comparison
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-10}"
PORT="${PORT:-18181}"
CONNECTIONS="${CONNECTIONS:-32}"
HEY_WORKERS="${HEY_WORKERS:-4}"
for tool in wrk hey taskset curl; do
  command -v "$tool" >/dev/null || { echo "bench needs $tool (apt-get install wrk hey util-linux curl)" >&2; exit 2; }
done
[ "$(nproc)" -ge 2 ] || echo "warning: fewer than 2 CPUs; server and load generator share a core" >&2

# BIN=path/to/brandstream measures that binary instead of a fresh release build (to compare
# two builds in one session).
if [ -z "${BIN:-}" ]; then
  cargo build --release -q -p brandstream
  BIN=target/release/brandstream
fi
cargo build --release -q -p brandstream-auth --example sign_rate
SIGN=target/release/examples/sign_rate
WORK=$(mktemp -d)
SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

start_server() { # data_dir alg
  BRANDSTREAM_SIGNING_ALG="$2" BRANDSTREAM_LOG_LEVEL=warn \
  BRANDSTREAM_RATE_LIMITS__PER_CLIENT_PER_SECOND=0 BRANDSTREAM_RATE_LIMITS__PER_ADDRESS_PER_SECOND=0 \
    taskset -c 0 "$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$1" 2>>"$WORK/server.log" &
  SERVER_PID=$!
  for _ in $(seq 1 500); do
    curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && return 0
    sleep 0.01
  done
  echo "server did not start" >&2; cat "$WORK/server.log" >&2; exit 1
}
stop_server() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=; }

# The peer: node-oidc-provider, installed from npm into bench/oidc-peer on first use.
PEER="${PEER:-1}"
if [ "$PEER" = 1 ]; then
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "peer skipped: node and npm are needed for node-oidc-provider (apt-get install nodejs npm)" >&2
    PEER=0
  elif [ ! -d bench/oidc-peer/node_modules/oidc-provider ] &&
       ! npm ci --prefix bench/oidc-peer --no-audit --no-fund >/dev/null 2>&1; then
    echo "peer skipped: npm could not install oidc-provider (offline?)" >&2
    PEER=0
  fi
fi

# Peak tokens/s of the server listening on PORT (wrk pinned to CPU 1); prints "rate p50".
peak() { # url
  taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d2s -s bench/token.lua "$1" >/dev/null
  local out
  out=$(taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s bench/token.lua "$1")
  if echo "$out" | grep -q "Non-2xx"; then echo "$out" >&2; echo "non-2xx responses under load" >&2; exit 1; fi
  echo "$(echo "$out" | awk '/Requests\/sec/ {print $2}') $(echo "$out" | awk '$1=="50%" {print $2}')"
}

# `openssl speed` signs/s for one algorithm on CPU 0.
openssl_rate() { # alg
  local name pattern
  case "$1" in
    RS256) name=rsa2048; pattern='^rsa 2048 bits' ;;
    ES256) name=ecdsap256; pattern='nistp256' ;;
    EdDSA) name=ed25519; pattern='Ed25519' ;;
  esac
  taskset -c 0 openssl speed -seconds 3 "$name" 2>/dev/null | awk -v p="$pattern" '$0 ~ p {print $(NF-1)}' | tail -1
}

ratio() { python3 -c "a, b = '$1', '$2'; print(f'{float(a) / float(b):.2f}' if a and b else '-')"; }

printf '%-6s %9s %9s %8s %9s %7s %9s %7s %8s %8s %7s\n' alg tokens/s openssl/s ×openssl lib/s ×lib peer/s ×peer p50_ms p99½_ms rss_MB
for alg in ${ALGS:-RS256 ES256 EdDSA}; do
  dir="$WORK/$alg"
  start_server "$dir" "$alg"
  org=$("$BIN" admin --data-dir "$dir" orgs list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
  cred=$("$BIN" admin --data-dir "$dir" credentials create --org "$org" --label bench --json 2>/dev/null)
  export CLIENT_ID=$(echo "$cred" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')
  export CLIENT_SECRET=$(echo "$cred" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
  read -r rate p50 < <(peak "http://127.0.0.1:$PORT/oauth/token")
  # Half of peak: HEY_WORKERS workers at a fixed rate each. hey starts their tickers together,
  # so each tick is a burst of HEY_WORKERS requests; fewer workers means smaller bursts.
  half=$(python3 -c "print(max(1, int(float('$rate') / 2 / $HEY_WORKERS)))")
  body="client_id=$CLIENT_ID&client_secret=$CLIENT_SECRET&grant_type=client_credentials&audience=https%3A%2F%2Fapi.sitecorecloud.io"
  p99=$(taskset -c 1 hey -z "${DURATION}s" -c "$HEY_WORKERS" -q "$half" -m POST -T application/x-www-form-urlencoded -d "$body" \
        "http://127.0.0.1:$PORT/oauth/token" | awk '/99%% in/ || /99% in/ {print $3 * 1000}')
  rss=$(awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$SERVER_PID/status")
  stop_server
  sign=$(taskset -c 0 "$SIGN" "$alg" 3 | awk '{print $2}')
  ossl=$(openssl_rate "$alg")
  peer=
  if [ "$PEER" = 1 ]; then
    PORT=$((PORT + 1)) ALG="$alg" taskset -c 0 node bench/oidc-peer/server.mjs 2>>"$WORK/peer.log" &
    SERVER_PID=$!
    for _ in $(seq 1 500); do
      curl -sf "http://127.0.0.1:$((PORT + 1))/.well-known/openid-configuration" >/dev/null 2>&1 && break
      sleep 0.02
    done
    read -r peer _ < <(peak "http://127.0.0.1:$((PORT + 1))/token")
    stop_server
  fi
  printf '%-6s %9.0f %9.0f %8s %9.0f %7s %9s %7s %8s %8s %7s\n' "$alg" "$rate" "${ossl:-0}" "$(ratio "$rate" "$ossl")" \
    "$sign" "$(ratio "$rate" "$sign")" "${peer:--}" "$(ratio "$rate" "$peer")" "$p50" "$p99" "$rss"
done

# Start to ready on an existing data dir (the RS256 one), median of 5.
times=()
for _ in 1 2 3 4 5; do
  t0=$(date +%s%N)
  start_server "$WORK/RS256" RS256
  t1=$(date +%s%N)
  times+=($(( (t1 - t0) / 1000000 )))
  stop_server
done
echo "start to ready (existing data dir), ms: ${times[*]} (median $(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p))"
