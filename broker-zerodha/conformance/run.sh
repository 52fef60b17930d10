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
rust_figures="$("$CARGO_TARGET_DIR/release/examples/place_order_bench" "$url" "$api_key" "$api_secret" "$orders")"
echo "$rust_figures"

python_cpu="$(echo "$python_figures" | sed -n 's/^python_sdk orders=.* cpu_s=\([0-9.]*\).*/\1/p')"
rust_cpu="$(echo "$rust_figures" | sed -n 's/^rust_client orders=.* cpu_s=\([0-9.]*\).*/\1/p')"
[ -n "$python_cpu" ] && [ -n "$rust_cpu" ] || { echo "missing figures" >&2; exit 1; }
awk -v py="$python_cpu" -v rs="$rust_cpu" 'BEGIN {
    if (rs <= 0) { printf "CPU per order: ours below the 10 ms clock resolution over the run\n"; exit 0 }
    ratio = py / rs
    printf "CPU per order: python_sdk / rust_client = %.1fx (target >= 20x: %s)\n", ratio, (ratio >= 20 ? "met" : "NOT met")
}'
