#!/usr/bin/env bash
# Conformance of the Kite simulator with the official Python SDK, and the CPU cost per order
# of the SDK versus our client against the same simulator, over plain HTTP and over HTTPS.
#
# Creates a virtualenv under /var/tmp, installs kiteconnect from PyPI, builds the simulator
# binary and the bench example (release), starts simulators on 127.0.0.1 with free ports
# (plain HTTP, and HTTPS with a certificate the clients are told to trust): two as Kite is
# (its quotas enforced), for the SDK's conformance checks (once under PYTHONOPTIMIZE, which
# must not skip them; they move prices and the clock through the simulator's admin routes),
# and two without quotas and with ample cash for the bench, which times ORDERS (default 20,000)
# place_order calls on each transport through the SDK, through `Broker::place_order` of our
# `Zerodha`, and through our raw client. Start-up is excluded from the loop figures; the
# whole-process figures include it. Exits non-zero on any failure and always stops the
# simulators. The ratios are reported, not enforced.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
workspace="$(cd "$here/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/target}"
venv="${KITE_CONFORMANCE_VENV:-/var/tmp/broker-zerodha-conformance-venv}"
orders="${ORDERS:-20000}"
api_key="conformancekey"
api_secret="conformanceSECRET"

if [ "$(getconf CLK_TCK)" != "100" ]; then
    echo "the bench assumes 100 clock ticks a second in /proc/self/stat" >&2
    exit 1
fi
if grep -nE '^\s*assert\b' "$here/conformance.py"; then
    echo "conformance.py uses bare assert, which python -O skips: use check()" >&2
    exit 1
fi

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check "kiteconnect>=5.2,<6"
PYTHONOPTIMIZE=2 "$venv/bin/python" "$here/conformance.py" --self-check

(cd "$workspace" && cargo build --quiet --release -p broker-zerodha --features sim \
    --bin kite-sim --example place_order_bench)

scratch="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$scratch"
}
trap cleanup EXIT

# Starts a simulator; $1 names it, the rest are extra flags. Sets url_$1, admin_$1 (the admin
# token) and cert_$1 (HTTPS).
start_simulator() {
    local name="$1"
    shift
    local output="$scratch/$name.out"
    : >"$output"
    KITE_SIM_API_SECRET="$api_secret" "$CARGO_TARGET_DIR/release/kite-sim" \
        --listen 127.0.0.1:0 --api-key "$api_key" --allow-ip 127.0.0.1 "$@" >"$output" &
    pids+=("$!")
    local url=""
    for _ in $(seq 1 100); do
        url="$(sed -n 's/^KITE_SIM_URL=//p' "$output")"
        [ -n "$url" ] && break
        kill -0 "${pids[-1]}" 2>/dev/null || { echo "kite-sim ($name) exited early" >&2; exit 1; }
        sleep 0.1
    done
    [ -n "$url" ] || { echo "kite-sim ($name) did not report its URL" >&2; exit 1; }
    printf -v "url_$name" '%s' "$url"
    printf -v "admin_$name" '%s' "$(sed -n 's/^KITE_SIM_ADMIN_TOKEN=//p' "$output")"
    printf -v "cert_$name" '%s' "$(sed -n 's/^KITE_SIM_CERTIFICATE=//p' "$output")"
    echo "simulator ($name) at $url"
}

start_simulator http
start_simulator https --https --certificate-out "$scratch/simulator.pem"
start_simulator bench_http --no-quotas --cash 1000000000
start_simulator bench_https --no-quotas --cash 1000000000 --https --certificate-out "$scratch/bench.pem"
# requests (under the SDK) trusts a simulator's certificate through REQUESTS_CA_BUNDLE, set
# per run (the certificates have the same subject, so one bundle of both would not do).

sdk() { "$venv/bin/python" "$here/conformance.py" --api-key "$api_key" --api-secret "$api_secret" "$@"; }
bench="$CARGO_TARGET_DIR/release/examples/place_order_bench"
field() { sed -n "s/.*$1=\\([0-9.]*\\).*/\\1/p"; }

KITE_SIM_ADMIN_TOKEN="$admin_http" sdk --root "$url_http"
KITE_SIM_ADMIN_TOKEN="$admin_https" REQUESTS_CA_BUNDLE="$cert_https" PYTHONOPTIMIZE=2 \
    sdk --root "$url_https"

for transport in http https; do
    url_var="url_bench_$transport"
    url="${!url_var}"
    certificate=()
    [ "$transport" = https ] && certificate=("$cert_bench_https")
    python_figures="$(REQUESTS_CA_BUNDLE="${certificate[0]:-}" sdk --root "$url" --bench "$orders")"
    broker_figures="$("$bench" broker "$url" "$api_key" "$api_secret" "$orders" "${certificate[@]}")"
    raw_figures="$("$bench" raw "$url" "$api_key" "$api_secret" "$orders" "${certificate[@]}")"
    echo "[$transport] $python_figures"
    echo "[$transport] $broker_figures"
    echo "[$transport] $raw_figures"
    for measure in loop process; do
        python_us="$(echo "$python_figures" | field "${measure}_cpu_per_order_us")"
        broker_us="$(echo "$broker_figures" | field "${measure}_cpu_per_order_us")"
        raw_us="$(echo "$raw_figures" | field "${measure}_cpu_per_order_us")"
        [ -n "$python_us" ] && [ -n "$broker_us" ] && [ -n "$raw_us" ] \
            || { echo "missing $measure figures" >&2; exit 1; }
        awk -v t="$transport" -v m="$measure" -v py="$python_us" -v br="$broker_us" -v raw="$raw_us" 'BEGIN {
            if (br <= 0 || raw <= 0) { printf "[%s] %s CPU per order: ours is below the clock resolution\n", t, m; exit 0 }
            printf "[%s] %s CPU per order: python_sdk %.1f us / Zerodha::place_order %.1f us = %.1fx (raw client %.1f us = %.1fx); issue 10 aims at 50x\n", t, m, py, br, py / br, raw, py / raw
        }'
    done
done
