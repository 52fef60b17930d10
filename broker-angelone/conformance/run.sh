#!/usr/bin/env bash
# Conformance of the SmartAPI simulator with the official, unmodified Python SDK, and the
# CPU cost per order of the SDK against broker-angelone's client.
#
# Self-contained and idempotent: creates (or reuses) a virtualenv under /var/tmp, installs
# smartapi-python and what it imports from PyPI, builds the simulator and the Rust order
# bench in release mode, starts the simulator on a free port of 127.0.0.1, runs the script,
# and stops the simulator on exit. Exits non-zero on any failure.
#
# Usage: broker-angelone/conformance/run.sh [ORDERS]   (default 2000)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
orders="${1:-2000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/target}"
venv=/var/tmp/broker-angelone-conformance-venv

# The simulator's account (test values, not real credentials).
api_key="confKEY9x2"
client_code="C4242"
mpin="97315864"
totp_secret="GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
# smartapi-python does not declare logzero and websocket-client, though it imports them.
"$venv/bin/pip" install --quiet --disable-pip-version-check \
    "smartapi-python==1.5.5" pyotp logzero websocket-client

cargo build --quiet --release --manifest-path "$root/Cargo.toml" -p broker-angelone \
    --features sim --bin angelone-sim --example order_throughput

work="$(mktemp -d /var/tmp/broker-angelone-conformance.XXXXXX)"
sim_pid=""
cleanup() {
    if [ -n "$sim_pid" ]; then
        kill "$sim_pid" 2>/dev/null || true
        wait "$sim_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

"$CARGO_TARGET_DIR/release/angelone-sim" --listen 127.0.0.1:0 \
    --account "$api_key:$client_code:$mpin:$totp_secret:127.0.0.1" \
    >"$work/sim.out" 2>"$work/sim.err" &
sim_pid=$!

url=""
for _ in $(seq 1 100); do
    url="$(sed -n 's/^SMARTAPI_SIM_URL=//p' "$work/sim.out")"
    if [ -n "$url" ]; then
        break
    fi
    if ! kill -0 "$sim_pid" 2>/dev/null; then
        echo "the simulator exited: $(cat "$work/sim.err")" >&2
        exit 1
    fi
    sleep 0.1
done
if [ -z "$url" ]; then
    echo "the simulator did not print its URL within 10 s" >&2
    exit 1
fi
echo "simulator at $url"

# The SDK writes a logs/ folder into the working directory: keep it in the scratch folder.
cd "$work"
"$venv/bin/python" "$here/sdk_conformance.py" \
    --url "$url" --orders "$orders" \
    --rust-bench "$CARGO_TARGET_DIR/release/examples/order_throughput" \
    --api-key "$api_key" --client-code "$client_code" --mpin "$mpin" --totp-secret "$totp_secret"
