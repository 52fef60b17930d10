"""Drives the official, unmodified SmartAPI Python SDK against the broker-angelone simulator.

1. Conformance: generateSession (MPIN + pyotp TOTP), getProfile, rmsLimit, placeOrder,
   orderBook, cancelOrder, plus a wrong TOTP, asserting every answer.
2. Timing: N placeOrder calls through the SDK, and N through the Rust client (a release-mode
   example binary run as a child process), printing wall and CPU seconds for both.

Exits non-zero on any conformance failure. Run by run.sh, which starts the simulator.
"""

import argparse
import resource
import subprocess
import sys
import time

import pyotp
from SmartApi import SmartConnect


def check(condition, what, detail=""):
    if not condition:
        print(f"FAIL: {what} {detail}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


def order_params(tag):
    return {
        "variety": "NORMAL",
        "tradingsymbol": "SBIN-EQ",
        "symboltoken": "3045",
        "transactiontype": "BUY",
        "exchange": "NSE",
        "ordertype": "LIMIT",
        "producttype": "DELIVERY",
        "duration": "DAY",
        "price": "801.05",
        "squareoff": "0",
        "stoploss": "0",
        "quantity": "1",
        "ordertag": tag,
    }


def conformance(args):
    bad = SmartConnect(api_key=args.api_key, root=args.url, timeout=10)
    wrong_code = str((int(pyotp.TOTP(args.totp_secret).now()) + 500000) % 1000000).zfill(6)
    refused = bad.generateSession(args.client_code, args.mpin, wrong_code)
    check(refused["status"] is False and refused["errorcode"] == "AB1050",
          "a wrong TOTP is refused with AB1050", refused)

    sdk = SmartConnect(api_key=args.api_key, root=args.url, timeout=10)
    session = sdk.generateSession(args.client_code, args.mpin, pyotp.TOTP(args.totp_secret).now())
    check(session["status"] is True, "generateSession succeeds", session.get("message"))
    check(session["data"]["clientcode"] == args.client_code, "generateSession reads the profile's client code")
    check(session["data"]["jwtToken"].startswith("Bearer "), "generateSession keeps the bearer token")

    profile = sdk.getProfile(sdk.refresh_token)
    check(profile["status"] is True and profile["data"]["clientcode"] == args.client_code,
          "getProfile returns the client code")
    check("NSE" in profile["data"]["exchanges"], "getProfile lists the exchanges")

    funds = sdk.rmsLimit()
    check(funds["status"] is True and float(funds["data"]["net"]) > 0, "rmsLimit returns net funds",
          funds.get("data"))

    order_id = sdk.placeOrder(order_params("conformance1"))
    check(isinstance(order_id, str) and order_id.isdigit(), "placeOrder returns a numeric order id", order_id)

    book = sdk.orderBook()
    check(book["status"] is True, "orderBook succeeds")
    rows = [row for row in book["data"] if row["orderid"] == order_id]
    check(len(rows) == 1 and rows[0]["status"] == "open", "the placed order is open in the book", rows)
    check(rows[0]["ordertag"] == "conformance1" and rows[0]["price"] in ("801.05", 801.05),
          "the book keeps the tag and price", rows[0])

    cancelled = sdk.cancelOrder(order_id, "NORMAL")
    check(cancelled["status"] is True and cancelled["data"]["orderid"] == order_id, "cancelOrder succeeds",
          cancelled)
    book = sdk.orderBook()
    rows = [row for row in book["data"] if row["orderid"] == order_id]
    check(rows[0]["status"] == "cancelled", "the order is cancelled in the book", rows)

    again = sdk.cancelOrder(order_id, "NORMAL")
    check(again["status"] is False and again["errorcode"], "cancelling twice is refused with a code", again)
    return sdk


def time_sdk(sdk, orders):
    params = order_params("sdkbench")
    wall = time.perf_counter()
    cpu = time.process_time()
    for number in range(orders):
        # placeOrder deletes None values from the dict it is given: pass a fresh copy.
        order_id = sdk.placeOrder(dict(params))
        if not order_id:
            print(f"FAIL: SDK order {number} was not accepted", file=sys.stderr)
            sys.exit(1)
    return time.perf_counter() - wall, time.process_time() - cpu


def time_rust(args):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    result = subprocess.run(
        [args.rust_bench, args.url, str(args.orders), args.api_key, args.client_code, args.mpin,
         args.totp_secret],
        capture_output=True, text=True, timeout=600,
    )
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        print(f"FAIL: the Rust client bench failed: {result.stderr.strip()}", file=sys.stderr)
        sys.exit(1)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    loop_wall = float(result.stdout.split("rust_wall_seconds=")[1].split()[0])
    return wall, loop_wall, cpu


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--rust-bench", required=True)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--client-code", required=True)
    parser.add_argument("--mpin", required=True)
    parser.add_argument("--totp-secret", required=True)
    args = parser.parse_args()

    sdk = conformance(args)
    print("conformance: the official SDK works against the simulator")

    sdk_wall, sdk_cpu = time_sdk(sdk, args.orders)
    rust_wall, rust_loop_wall, rust_cpu = time_rust(args)
    n = args.orders
    print(f"timing: {n} placeOrder calls against the same simulator")
    print(f"  official Python SDK: wall {sdk_wall:.3f} s, CPU {sdk_cpu:.3f} s "
          f"({sdk_cpu / n * 1e6:.0f} us CPU/order)")
    print(f"  broker-angelone:     wall {rust_wall:.3f} s (order loop {rust_loop_wall:.3f} s), "
          f"CPU {rust_cpu:.3f} s ({rust_cpu / n * 1e6:.0f} us CPU/order, whole process incl. start-up and login)")
    ratio = sdk_cpu / rust_cpu if rust_cpu > 0 else float("inf")
    verdict = "met" if ratio >= 20 else "NOT met"
    print(f"  CPU per order: Rust client uses {ratio:.1f}x less than the SDK (target >= 20x: {verdict})")


if __name__ == "__main__":
    main()
