#!/usr/bin/env bash
# The order hot path's instruction-count guard: counts the CPU instructions one order costs
# through `Broker::place_order` (policy, instrument check, rate limiter, session, HTTP,
# decoding) for both brokers, over plain HTTP and over TLS, and fails when any of them grows
# by more than 20 % over the committed baseline (instructions_per_order.baseline).
#
# Instruction counts (callgrind) are steadier on a shared machine than CPU times. Each
# simulator runs in its own process, outside callgrind: only the client is counted, and only
# inside `Broker::place_order` (callgrind collects while the order future is polled): the
# start-up's clock calibration (quanta's, in the rate limiter) runs for as long as it takes,
# and moved whole-process counts by millions of instructions from run to run. The runtime's
# own scheduling and waiting between polls is not counted. The first order's one-time costs
# are excluded by running each bench twice, with FEW and with MANY orders, and dividing the
# difference by MANY - FEW.
#
# Usage: broker-core/perf/instructions_per_order.sh [--update]
#   --update   writes the measured figures as the new baseline instead of comparing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
workspace="$(cd "$here/../.." && pwd)"
baseline="$here/instructions_per_order.baseline"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/target}"
few=200
many=1200
# The most a figure may grow over its baseline, in percent.
tolerance=20

update=false
case "${1:-}" in
    "") ;;
    --update) update=true ;;
    *) echo "usage: $0 [--update]" >&2; exit 2 ;;
esac
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }

(cd "$workspace" && cargo build --quiet --release -p broker-angelone --features sim \
    --bin angelone-sim --example order_throughput)
(cd "$workspace" && cargo build --quiet --release -p broker-zerodha --features sim \
    --bin kite-sim --example place_order_bench)
release="$CARGO_TARGET_DIR/release"

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

# The simulators' test accounts (not real credentials).
angel_key="perfKEY9x2" angel_client="C4242" angel_mpin="97315864"
angel_totp="GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
kite_key="perfkey" kite_secret="perfSECRET"

# Starts a simulator named $1 (the command follows), waits for the line starting with $2 that
# announces its URL, and sets url_$1 and cert_$1 (from the line starting with $3, if any).
start_simulator() {
    local name="$1" url_line="$2" cert_line="$3"
    shift 3
    "$@" >"$scratch/$name.out" 2>"$scratch/$name.err" &
    pids+=("$!")
    local url=""
    for _ in $(seq 1 100); do
        url="$(sed -n "s/^$url_line=//p" "$scratch/$name.out")"
        [ -n "$url" ] && break
        kill -0 "${pids[-1]}" 2>/dev/null \
            || { echo "simulator $name exited: $(cat "$scratch/$name.err")" >&2; exit 1; }
        sleep 0.1
    done
    [ -n "$url" ] || { echo "simulator $name did not report its URL" >&2; exit 1; }
    printf -v "url_$name" '%s' "$url"
    printf -v "cert_$name" '%s' "$(sed -n "s/^$cert_line=//p" "$scratch/$name.out")"
}

# `exec`, so that the background job started for a simulator is the simulator itself and the
# clean-up stops it.
angel_sim() {
    exec "$release/angelone-sim" --listen 127.0.0.1:0 --no-quotas \
        --account "$angel_key:$angel_client:$angel_mpin:$angel_totp:127.0.0.1" "$@"
}
kite_sim() {
    KITE_SIM_API_SECRET="$kite_secret" exec "$release/kite-sim" --listen 127.0.0.1:0 \
        --api-key "$kite_key" --allow-ip 127.0.0.1 --no-quotas --cash 1000000000 "$@"
}
start_simulator angel_http SMARTAPI_SIM_URL SMARTAPI_SIM_CERTIFICATE angel_sim
start_simulator angel_https SMARTAPI_SIM_URL SMARTAPI_SIM_CERTIFICATE \
    angel_sim --https --certificate "$scratch/angel.pem"
start_simulator kite_http KITE_SIM_URL KITE_SIM_CERTIFICATE kite_sim
start_simulator kite_https KITE_SIM_URL KITE_SIM_CERTIFICATE \
    kite_sim --https --certificate-out "$scratch/kite.pem"

# The instructions a command executes (every thread), under callgrind.
instructions() {
    local log="$scratch/callgrind.log"
    valgrind --tool=callgrind --callgrind-out-file=/dev/null --collect-atstart=no \
        "--toggle-collect=*as broker_core::broker::Broker>::place_order::{{closure}}" \
        "$@" >"$scratch/bench.out" 2>"$log" \
        || { echo "failed under callgrind: $*" >&2; cat "$scratch/bench.out" "$log" >&2; exit 1; }
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$log"
}

# Instructions per order of the bench named $1; $2 is the bench command, in which ORDERS
# stands for the order count. The lowest of three measurements: an order costs a few thousand
# instructions more when the client polls before the simulator has answered, which a loaded
# machine makes more frequent; the lowest figure is the path's own cost.
per_order() {
    local name="$1" template="$2" best=""
    for _ in 1 2 3; do
        local counts=()
        for orders in "$few" "$many"; do
            # shellcheck disable=SC2086 # the template is split into words on purpose
            counts+=("$(instructions ${template//ORDERS/$orders})")
        done
        local figure=$(((counts[1] - counts[0]) / (many - few)))
        if [ -z "$best" ] || [ "$figure" -lt "$best" ]; then best="$figure"; fi
    done
    echo "$best"
}

angel_bench() {
    echo "$release/examples/order_throughput $1 ORDERS $angel_key $angel_client $angel_mpin $angel_totp ${2:-}"
}
kite_bench() {
    echo "$release/examples/place_order_bench broker $1 $kite_key $kite_secret ORDERS ${2:-}"
}

declare -A measured
measured[angelone_http]="$(per_order angelone_http "$(angel_bench "$url_angel_http")")"
measured[angelone_https]="$(per_order angelone_https "$(angel_bench "$url_angel_https" "$cert_angel_https")")"
measured[zerodha_http]="$(per_order zerodha_http "$(kite_bench "$url_kite_http")")"
measured[zerodha_https]="$(per_order zerodha_https "$(kite_bench "$url_kite_https" "$cert_kite_https")")"
names=(angelone_http angelone_https zerodha_http zerodha_https)

if $update; then
    {
        echo "# Instructions per order through Broker::place_order (callgrind; see instructions_per_order.sh)."
        echo "# Measured by --update once: prefer typical figures over several runs (the load moves them)."
        for name in "${names[@]}"; do echo "$name ${measured[$name]}"; done
    } >"$baseline"
    echo "baseline written to $baseline:"
    cat "$baseline"
    exit 0
fi

[ -f "$baseline" ] || { echo "no baseline at $baseline: run with --update" >&2; exit 1; }
failed=0
for name in "${names[@]}"; do
    expected="$(awk -v name="$name" '$1 == name { print $2 }' "$baseline")"
    [ -n "$expected" ] || { echo "$name has no baseline in $baseline" >&2; exit 1; }
    got="${measured[$name]}"
    limit=$((expected * (100 + tolerance) / 100))
    change="$(awk -v got="$got" -v base="$expected" 'BEGIN { printf "%+.1f", (got - base) * 100 / base }')"
    if [ "$got" -gt "$limit" ]; then
        echo "FAIL: $name: $got instructions per order, ${change}% over the baseline $expected (limit $limit)"
        failed=1
    else
        echo "ok: $name: $got instructions per order (baseline $expected, ${change}%)"
    fi
done
if [ "$failed" -ne 0 ]; then
    echo "the order hot path grew by more than ${tolerance}%: find the cause with callgrind, or, if the growth is intended, rerun with --update and say why in the commit" >&2
    exit 1
fi
