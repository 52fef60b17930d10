"""Drives the official, unmodified SmartAPI Python SDK against the broker-angelone simulator.

1. Conformance, against a simulator with Angel One's quotas (its default): generateSession
   (MPIN + pyotp TOTP), getProfile, rmsLimit, placeOrder, orderBook, cancelOrder, a wrong TOTP,
   SmartAPI's refusals (an unknown symbol token, a product change by modifyOrder, a wrong
   variety), orders that fill (at once, or when the price moves on the simulator's admin route)
   and the trade book, positions, holdings, all holdings and convertPosition after them,
   candles, a route the simulator does not implement (answered with SmartAPI's JSON error),
   a burst of 15 orders of which Angel One's rate limit lets 10 through, and the session's
   end (generateTokens needs the bearer, works once and ends the old token; a logout ends the
   refresh token), asserting every answer.
2. Timing, against simulators without quotas (one plain HTTP, one HTTPS), each in its own
   process so that only the clients are measured: N placeOrder calls through the SDK, and N
   through `Broker::place_order` of the Rust `AngelOne` (a release-mode example binary run as
   a child process), printing wall and CPU seconds for both: the SDK's order loop, and for
   Rust both the order loop alone (start-up and login excluded) and the whole process, with
   the ratios (the target is 50x; reported, not enforced).

Exits non-zero on any conformance failure. Run by run.sh, which starts the simulators.
"""

import argparse
import os
import resource
import subprocess
import sys
import time

import pyotp
import requests
from SmartApi import SmartConnect
from SmartApi.smartExceptions import DataException


def check(condition, what, detail=""):
    if not condition:
        print(f"FAIL: {what} {detail}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


def pace():
    """Angel One allows the books, positions, holdings and logins one request a second."""
    time.sleep(1.05)


def order_params(tag, price="790", **changes):
    params = {
        "variety": "NORMAL",
        "tradingsymbol": "SBIN-EQ",
        "symboltoken": "3045",
        "transactiontype": "BUY",
        "exchange": "NSE",
        "ordertype": "LIMIT",
        "producttype": "DELIVERY",
        "duration": "DAY",
        "price": price,
        "squareoff": "0",
        "stoploss": "0",
        "quantity": "1",
        "ordertag": tag,
    }
    params.update(changes)
    return params


def admin(url, route, body):
    """The simulator's admin route (not a SmartAPI route): moves prices, fills orders."""
    answer = requests.post(f"{url}/_sim/{route}", json=body, timeout=10).json()
    check(answer["status"] is True, f"the simulator's /_sim/{route} answers", answer)
    return answer["data"]


def book_row(sdk, order_id):
    pace()
    book = sdk.orderBook()
    check(book["status"] is True, "orderBook succeeds", book.get("message"))
    rows = [row for row in book["data"] if row["orderid"] == order_id]
    check(len(rows) == 1, f"order {order_id} is in the book", rows)
    return rows[0]


def session_and_orders(args):
    bad = SmartConnect(api_key=args.api_key, root=args.url, timeout=10)
    wrong_code = str((int(pyotp.TOTP(args.totp_secret).now()) + 500000) % 1000000).zfill(6)
    refused = bad.generateSession(args.client_code, args.mpin, wrong_code)
    check(refused["status"] is False and refused["errorcode"] == "AB1050",
          "a wrong TOTP is refused with AB1050", refused)
    pace()

    sdk = SmartConnect(api_key=args.api_key, root=args.url, timeout=10)
    session = sdk.generateSession(args.client_code, args.mpin, pyotp.TOTP(args.totp_secret).now())
    check(session["status"] is True, "generateSession succeeds", session.get("message"))
    check(session["data"]["clientcode"] == args.client_code, "generateSession reads the profile's client code")
    check(session["data"]["jwtToken"].startswith("Bearer "), "generateSession keeps the bearer token")

    profile = sdk.getProfile(sdk.refresh_token)
    check(profile["status"] is True and profile["data"]["clientcode"] == args.client_code,
          "getProfile returns the client code")
    check("nse_cm" in profile["data"]["exchanges"], "getProfile lists the live segment codes",
          profile["data"]["exchanges"])

    funds = sdk.rmsLimit()
    check(funds["status"] is True and float(funds["data"]["net"]) > 0, "rmsLimit returns net funds",
          funds.get("data"))
    check("utilisedpayout" in funds["data"], "rmsLimit carries every RMS field", funds["data"])

    order_id = sdk.placeOrder(order_params("conformance1"))
    check(isinstance(order_id, str) and order_id.isdigit(), "placeOrder returns a numeric order id", order_id)
    row = book_row(sdk, order_id)
    check(row["status"] == "open", "a limit below the last price rests open", row)
    check(row["ordertag"] == "conformance1" and row["price"] == 790 and row["quantity"] == "1",
          "the book keeps the tag, the price as a number and the quantity as a string", row)

    changed = sdk.modifyOrder({
        "variety": "NORMAL", "orderid": order_id, "ordertype": "LIMIT", "producttype": "INTRADAY",
        "duration": "DAY", "price": "790", "quantity": "1", "tradingsymbol": "SBIN-EQ",
        "symboltoken": "3045", "exchange": "NSE",
    })
    check(changed["status"] is False and changed["errorcode"] == "AB1012",
          "modifyOrder refuses a product change instead of reporting a success it did not apply",
          changed)
    row = book_row(sdk, order_id)
    check(row["producttype"] == "DELIVERY", "the product is unchanged", row)

    wrong = sdk.cancelOrder(order_id, "STOPLOSS")
    check(wrong["status"] is False and wrong["errorcode"] == "AB1008",
          "cancelOrder refuses another variety", wrong)
    cancelled = sdk.cancelOrder(order_id, "NORMAL")
    check(cancelled["status"] is True and cancelled["data"]["orderid"] == order_id, "cancelOrder succeeds",
          cancelled)
    row = book_row(sdk, order_id)
    check(row["status"] == "cancelled", "the order is cancelled in the book", row)
    again = sdk.cancelOrder(order_id, "NORMAL")
    check(again["status"] is False, "cancelling twice is refused", again)

    unknown = sdk._postRequest("api.order.place", order_params("conformance2", symboltoken="999999"))
    check(unknown["status"] is False and unknown["errorcode"] == "AB4006"
          and unknown["message"] == "Invalid symboltoken",
          "an unknown symbol token is refused with AB4006 Invalid symboltoken", unknown)
    return sdk


def fills_and_portfolio(sdk, args):
    # At the last price (801.05): fills at once.
    bought = sdk.placeOrder(order_params("conformance3", price="801.05", quantity="2"))
    row = book_row(sdk, bought)
    check(row["status"] == "complete" and row["averageprice"] == 801.05 and row["filledshares"] == "2",
          "a marketable limit fills at once", row)
    # Below it: rests until the price comes down on the simulator's feed.
    resting = sdk.placeOrder(order_params("conformance4", price="795", producttype="INTRADAY"))
    moved = admin(args.url, "price", {"exchange": "NSE", "symboltoken": "3045", "price": "794.95"})
    check(moved["filled"] == [resting], "a resting limit fills when the price reaches it", moved)
    row = book_row(sdk, resting)
    check(row["status"] == "complete", "the filled order is complete in the book", row)

    pace()
    trades = sdk.tradeBook()
    fills = {trade["orderid"]: trade for trade in trades["data"]}
    check(set(fills) == {bought, resting}, "tradeBook lists both fills", trades["data"])
    check(fills[bought]["fillsize"] == "2" and float(fills[bought]["fillprice"]) == 801.05,
          "the trade book has the fill's size and price", fills[bought])

    pace()
    positions = sdk.position()
    by_product = {row["producttype"]: row for row in positions["data"]}
    check(by_product["DELIVERY"]["netqty"] == "2" and by_product["INTRADAY"]["netqty"] == "1",
          "getPosition nets the fills per product", positions["data"])

    pace()
    holdings = sdk.holding()
    check(holdings["status"] is True and holdings["data"][0]["tradingsymbol"] == "SBIN-EQ"
          and holdings["data"][0]["t1quantity"] == 2,
          "getHolding shows the delivery purchase as T+1 shares", holdings["data"])
    pace()
    everything = sdk.allholding()
    check(everything["status"] is True and everything["data"]["totalholding"]["totalinvvalue"] == 1602.1,
          "getAllHolding totals the holdings", everything["data"])

    converted = sdk.convertPosition({
        "exchange": "NSE", "symboltoken": "3045", "oldproducttype": "INTRADAY",
        "newproducttype": "DELIVERY", "tradingsymbol": "SBIN-EQ", "transactiontype": "BUY",
        "quantity": 1, "type": "DAY",
    })
    check(converted["status"] is True, "convertPosition moves the intraday position", converted)
    nothing = sdk.convertPosition({
        "exchange": "NSE", "symboltoken": "1594", "oldproducttype": "INTRADAY",
        "newproducttype": "DELIVERY", "tradingsymbol": "INFY-EQ", "transactiontype": "BUY",
        "quantity": 1, "type": "DAY",
    })
    check(nothing["status"] is False and nothing["errorcode"] == "AB1016",
          "convertPosition without a position is refused", nothing)

    candles = sdk.getCandleData({
        "exchange": "NSE", "symboltoken": "3045", "interval": "ONE_HOUR",
        "fromdate": "2026-11-27 09:15", "todate": "2026-11-27 15:30",
    })
    check(candles["status"] is True and len(candles["data"]) == 7, "getCandleData answers candles",
          candles)
    quote = sdk.getMarketData("FULL", {"NSE": ["3045"]})
    depth = quote["data"]["fetched"][0]["depth"]
    check(len(depth["buy"]) == 5 and len(depth["sell"]) == 5, "a FULL quote has five levels of depth",
          depth)

    not_here = sdk.gttLists(["NEW"], 1, 10)
    check(isinstance(not_here, dict) and not_here["status"] is False,
          "a route the simulator does not implement answers SmartAPI's JSON error", not_here)


def rate_limit_burst(sdk):
    time.sleep(1.05)
    accepted, limited = 0, 0
    started = time.perf_counter()
    for number in range(15):
        try:
            order_id = sdk.placeOrder(order_params(f"burst{number}"))
            accepted += 1 if order_id else 0
        except DataException as error:
            # The SDK cannot read Angel One's plain-text 403 and raises, as against SmartAPI.
            if "exceeding access rate" in str(error):
                limited += 1
            else:
                raise
    elapsed = time.perf_counter() - started
    # Ten at once, then one every 100 ms: a slow machine may see one more pass per 100 ms.
    allowed = 10 + int(elapsed * 10)
    check(accepted + limited == 15 and 10 <= accepted <= allowed and limited >= 1,
          f"of 15 orders in {elapsed:.3f} s at most {allowed} go through and the rest meet "
          "the access-rate limit", (accepted, limited))


def session_renewal_and_logout(sdk, args):
    old_token, old_refresh = sdk.access_token, sdk.refresh_token
    anonymous = SmartConnect(api_key=args.api_key, root=args.url, timeout=10)
    no_bearer = anonymous._postRequest("api.token", {"refreshToken": old_refresh})
    check(no_bearer.get("errorCode") == "AG8001", "generateTokens without the bearer is refused",
          no_bearer)

    # generateTokens and logout share a budget of one request a second.
    time.sleep(1.05)
    renewed = sdk.generateToken(old_refresh)
    check(renewed["status"] is True and sdk.access_token != old_token,
          "generateToken renews the session", renewed.get("message"))
    stale = SmartConnect(api_key=args.api_key, root=args.url, timeout=10, access_token=old_token)
    answer = stale.rmsLimit()
    check(answer.get("errorCode") == "AG8001", "the old token stops working once renewed", answer)
    time.sleep(1.05)
    again = sdk._postRequest("api.token", {"refreshToken": old_refresh})
    check(again["status"] is False and again["errorcode"] == "AB8050",
          "a refresh token works once", again)

    new_refresh = renewed["data"]["refreshToken"]
    time.sleep(1.05)
    out = sdk.terminateSession(args.client_code)
    check(out["status"] is True, "terminateSession logs out", out)
    pace()
    later = SmartConnect(api_key=args.api_key, root=args.url, timeout=10)
    later.generateSession(args.client_code, args.mpin, pyotp.TOTP(args.totp_secret).now())
    time.sleep(1.05)
    dead = later._postRequest("api.token", {"refreshToken": new_refresh})
    check(dead["status"] is False and dead["errorcode"] == "AB8050",
          "a logged-out session's refresh token stops working", dead)


def conformance(args):
    sdk = session_and_orders(args)
    fills_and_portfolio(sdk, args)
    rate_limit_burst(sdk)
    session_renewal_and_logout(sdk, args)


def timing_session(args, url):
    sdk = SmartConnect(api_key=args.api_key, root=url, timeout=10)
    session = sdk.generateSession(args.client_code, args.mpin, pyotp.TOTP(args.totp_secret).now())
    check(session["status"] is True, "generateSession on the timing simulator succeeds")
    return sdk


def time_sdk(sdk, orders):
    # Below the last price: every order rests.
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


def time_rust(args, url, certificate):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    command = [args.rust_bench, url, str(args.orders), args.api_key, args.client_code, args.mpin,
               args.totp_secret]
    if certificate:
        command.append(certificate)
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        print(f"FAIL: the Rust client bench failed: {result.stderr.strip()}", file=sys.stderr)
        sys.exit(1)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    figures = dict(item.split("=", 1) for item in result.stdout.split())
    loop_wall = float(figures["rust_loop_wall_seconds"])
    loop_cpu = float(figures["rust_loop_cpu_seconds"]) if "rust_loop_cpu_seconds" in figures else None
    return wall, loop_wall, cpu, loop_cpu


def timing(args, transport, url, certificate):
    # requests trusts the HTTPS simulator's certificate through REQUESTS_CA_BUNDLE.
    if certificate:
        os.environ["REQUESTS_CA_BUNDLE"] = certificate
    else:
        os.environ.pop("REQUESTS_CA_BUNDLE", None)
    sdk_wall, sdk_cpu = time_sdk(timing_session(args, url), args.orders)
    rust_wall, rust_loop_wall, rust_cpu, rust_loop_cpu = time_rust(args, url, certificate)
    n = args.orders
    print(f"timing [{transport}]: {n} placeOrder calls against the same simulator")
    print(f"  official Python SDK, order loop:  wall {sdk_wall:.3f} s, CPU {sdk_cpu:.3f} s "
          f"({sdk_cpu / n * 1e6:.1f} us CPU/order)")
    if rust_loop_cpu is not None:
        print(f"  AngelOne::place_order, order loop: wall {rust_loop_wall:.3f} s, CPU {rust_loop_cpu:.3f} s "
              f"({rust_loop_cpu / n * 1e6:.1f} us CPU/order; start-up and login excluded)")
    print(f"  AngelOne::place_order, whole process: wall {rust_wall:.3f} s, CPU {rust_cpu:.3f} s "
          f"({rust_cpu / n * 1e6:.1f} us CPU/order; start-up and login included)")
    if rust_loop_cpu:
        ratio = sdk_cpu / rust_loop_cpu
        print(f"  [{transport}] CPU per order, order loops: the Rust client uses {ratio:.1f}x less than "
              f"the SDK (target >= 50x: {'met' if ratio >= 50 else 'NOT met'})")
    ratio = sdk_cpu / rust_cpu if rust_cpu > 0 else float("inf")
    print(f"  [{transport}] CPU per order, SDK loop vs whole Rust process: {ratio:.1f}x less "
          f"(target >= 50x: {'met' if ratio >= 50 else 'NOT met'})")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True, help="a simulator with Angel One's quotas")
    parser.add_argument("--timing-url", required=True, help="a plain-HTTP simulator without quotas")
    parser.add_argument("--tls-timing-url", required=True, help="an HTTPS simulator without quotas")
    parser.add_argument("--tls-certificate", required=True, help="the HTTPS simulator's certificate")
    parser.add_argument("--rust-bench", required=True)
    parser.add_argument("--orders", type=int, default=20000)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--client-code", required=True)
    parser.add_argument("--mpin", required=True)
    parser.add_argument("--totp-secret", required=True)
    args = parser.parse_args()

    conformance(args)
    print("conformance: the official SDK works against the simulator")

    timing(args, "http", args.timing_url, None)
    timing(args, "https", args.tls_timing_url, args.tls_certificate)


if __name__ == "__main__":
    main()
