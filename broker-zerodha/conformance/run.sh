#!/usr/bin/env bash
# Conformance of the Kite simulator with the official Python SDK, and the CPU cost per order
# of the SDK versus our client against the same simulator.
#
# Creates a virtualenv under /var/tmp, installs kiteconnect from PyPI, builds the simulator
# binary and the bench example (release), starts the simulator on 127.0.0.1 with a free port,
# runs the SDK through generate_session, profile, margins, place_order, orders, cancel_order,
# then times ORDERS place_order calls through each client. Exits non-zero on any failure and
# always stops the simulator.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
workspace="$(cd "$here/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/target}"
venv="${KITE_CONFORMANCE_VENV:-/var/tmp/broker-zerodha-conformance-venv}"
orders="${ORDERS:-2000}"
api_key="conformancekey"
api_secret="conformanceSECRET"

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check "kiteconnect>=5.2,<6"

(cd "$workspace" && cargo build --quiet --release -p broker-zerodha --features sim \
    --bin kite-sim --example place_order_bench)

sim_output="$(mktemp)"
KITE_SIM_API_SECRET="$api_secret" "$CARGO_TARGET_DIR/release/kite-sim" \
    --listen 127.0.0.1:0 --api-key "$api_key" --allow-ip 127.0.0.1 >"$sim_output" &
sim_pid=$!
cleanup() {
    kill "$sim_pid" 2>/dev/null || true
    wait "$sim_pid" 2>/dev/null || true
    rm -f "$sim_output"
}
trap cleanup EXIT

url=""
for _ in $(seq 1 100); do
    url="$(sed -n 's/^KITE_SIM_URL=//p' "$sim_output")"
    [ -n "$url" ] && break
    kill -0 "$sim_pid" 2>/dev/null || { echo "kite-sim exited early" >&2; exit 1; }
    sleep 0.1
done
[ -n "$url" ] || { echo "kite-sim did not report its URL" >&2; exit 1; }
echo "simulator at $url"

python_figures="$("$venv/bin/python" "$here/conformance.py" --root "$url" \
    --api-key "$api_key" --api-secret "$api_secret" --orders "$orders")"
echo "$python_figures"
bench="$CARGO_TARGET_DIR/release/examples/place_order_bench"
rust_figures="$("$bench" "$url" "$api_key" "$api_secret" "$orders")"
echo "$rust_figures"
# CPU time from /proc has 10 ms ticks: a ten times longer run gives a steadier per-order figure.
rust_long_figures="$("$bench" "$url" "$api_key" "$api_secret" "$((orders * 10))")"
echo "$rust_long_figures"

per_order() { sed -n 's/.*cpu_per_order_us=\([0-9.]*\).*/\1/p'; }
python_us="$(echo "$python_figures" | grep '^python_sdk orders=' | per_order)"
rust_us="$(echo "$rust_long_figures" | per_order)"
[ -n "$python_us" ] && [ -n "$rust_us" ] || { echo "missing figures" >&2; exit 1; }
awk -v py="$python_us" -v rs="$rust_us" 'BEGIN {
    if (rs <= 0) { print "CPU per order: ours is below the clock resolution"; exit 0 }
    ratio = py / rs
    printf "CPU per order: python_sdk %.1f us / rust_client %.1f us = %.1fx (target >= 20x: %s)\n", py, rs, ratio, (ratio >= 20 ? "met" : "NOT met")
}'
