#!/usr/bin/env bash
# Conformance of the SmartAPI simulator with the official, unmodified Python SDK, and the
# CPU cost per order of the SDK against broker-angelone's `AngelOne::place_order`.
#
# Self-contained and idempotent: creates (or reuses) a virtualenv under /var/tmp, installs
# smartapi-python and what it imports from PyPI, builds the simulator and the Rust order
# bench in release mode, starts three simulators on free ports of 127.0.0.1 (one with Angel
# One's quotas for conformance; two without for timing, one plain HTTP and one HTTPS, each
# in its own process so that the clients' CPU is measured apart from the simulator's), runs
# the script, and stops them on exit. Exits non-zero on any failure.
#
# Usage: broker-angelone/conformance/run.sh [ORDERS]   (default 20000)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
orders="${1:-20000}"
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
sim_pids=()
cleanup() {
    for pid in "${sim_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

# Starts a simulator named `$1` with the extra flags that follow, in the background.
start_simulator() {
    local name="$1"
    shift
    "$CARGO_TARGET_DIR/release/angelone-sim" --listen 127.0.0.1:0 \
        --account "$api_key:$client_code:$mpin:$totp_secret:127.0.0.1" "$@" \
        >"$work/$name.out" 2>"$work/$name.err" &
    sim_pids+=("$!")
}

# Prints the URL the simulator named `$1` (process `$2`) announces.
url_of() {
    local name="$1" pid="$2" found=""
    for _ in $(seq 1 100); do
        found="$(sed -n 's/^SMARTAPI_SIM_URL=//p' "$work/$name.out")"
        if [ -n "$found" ]; then
            echo "$found"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "the $name simulator exited: $(cat "$work/$name.err")" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "the $name simulator did not print its URL within 10 s" >&2
    return 1
}

# Conformance against Angel One's quotas (the simulator's default); timing without them, so
# that 20,000 orders do not take 2,000 s.
start_simulator conformance
url="$(url_of conformance "${sim_pids[0]}")"
start_simulator timing --no-quotas
timing_url="$(url_of timing "${sim_pids[1]}")"
start_simulator timing_tls --no-quotas --https --certificate "$work/timing_tls.pem"
tls_timing_url="$(url_of timing_tls "${sim_pids[2]}")"
echo "simulators at $url (quotas), $timing_url and $tls_timing_url (no quotas)"

# The SDK writes a logs/ folder into the working directory: keep it in the scratch folder.
cd "$work"
"$venv/bin/python" "$here/sdk_conformance.py" \
    --url "$url" --timing-url "$timing_url" --orders "$orders" \
    --tls-timing-url "$tls_timing_url" --tls-certificate "$work/timing_tls.pem" \
    --rust-bench "$CARGO_TARGET_DIR/release/examples/order_throughput" \
    --api-key "$api_key" --client-code "$client_code" --mpin "$mpin" --totp-secret "$totp_secret"
