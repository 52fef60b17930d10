#!/usr/bin/env bash
# Throughput of GET /v1/accounts: brokerd (release, file store) with 100 accounts for the caller,
# then `wrk` (or `oha`) with 100 connections for 10 s. Prints the tool's summary (requests/s,
# latency percentiles). Needs `wrk` (apt-get install wrk) or `oha` (cargo install oha --locked).
set -euo pipefail
cd "$(dirname "$0")/../../.."
command -v wrk >/dev/null || command -v oha >/dev/null \
  || { echo "neither wrk nor oha is installed" >&2; exit 1; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
[ "${SKIP_BUILD:-}" = 1 ] || cargo build --release -p brokerd
BIN="${BROKERD_BIN:-$CARGO_TARGET_DIR/release/brokerd}"

WORK="$(mktemp -d)"
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
SECRET="bench-jwt-secret-of-sufficient-length-0000"
printf 'kid0:%s' "$(head -c 32 /dev/urandom | base64)" > "$WORK/keys"
chmod 600 "$WORK/keys"
PORT=$((20000 + RANDOM % 20000))
BROKERD_LISTEN="127.0.0.1:$PORT" BROKERD_DATA_DIR="$WORK/data" BROKERD_KEYS_FILE="$WORK/keys" \
  BROKERD_JWT_SECRET="$SECRET" BROKERD_KITE_STATE_KEY="$(head -c 32 /dev/urandom | xxd -p -c 64)" \
  BROKERD_VERIFY_PER_MINUTE=1000 BROKERD_LOG=warn \
  "$BIN" --api-only &
PID=$!
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 1 50); do curl -fs "$BASE/healthz" >/dev/null && break; sleep 0.2; done

# An HS256 token for one user, valid an hour.
TOKEN="$(python3 - "$SECRET" <<'PY'
import base64, hashlib, hmac, json, sys, time, uuid
enc = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
head = enc(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
body = enc(json.dumps({"sub": str(uuid.uuid4()), "exp": int(time.time()) + 3600}).encode())
sig = enc(hmac.new(sys.argv[1].encode(), f"{head}.{body}".encode(), hashlib.sha256).digest())
print(f"{head}.{body}.{sig}")
PY
)"
for i in $(seq 1 100); do
  curl -fs -o /dev/null -X POST "$BASE/v1/accounts?verify=false" -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' \
    -d "{\"broker\":\"angel_one\",\"api_key\":\"benchKEY$i\",\"client_code\":\"B$i\",\"mpin\":\"1234\",\"totp_secret\":\"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\"}"
done
COUNT="$(curl -fs "$BASE/v1/accounts" -H "Authorization: Bearer $TOKEN" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
echo "accounts for the caller: $COUNT"
if command -v wrk >/dev/null; then
  wrk -t 2 -c 100 -d 10s --latency -H "Authorization: Bearer $TOKEN" "$BASE/v1/accounts"
else
  oha --no-tui -c 100 -z 10s -H "Authorization: Bearer $TOKEN" "$BASE/v1/accounts"
fi
