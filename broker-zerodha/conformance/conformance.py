"""Drive the official, unmodified Kite Connect Python SDK against our simulator.

Checks generate_session, profile, margins, place_order, orders, modify_order, order_history,
cancel_order, order_trades, trades, positions, convert_position, holdings, ltp, quote, ohlc
and instruments; the refusals Kite makes (a forged checksum, an unprotected market order, a
cover order without a trigger or for delivery, an iceberg order without legs, an auction
order without its number) and the varieties' valid forms; an after-market order waiting for
the session; fills by moving the price (through the simulator's /_sim admin routes);
trades, positions and holdings after fills and on the next trading day (T+1); that a
modification takes no product (positions are converted instead); a burst of orders refused
with NetworkException (HTTP 429); unknown routes and wrong methods raising the SDK's own
GeneralException. The SDK's requests are spaced to Kite's quotas, as any client's must be,
except in the burst. Or, with --bench, logs in and times N place_order calls. Exits non-zero
on any failure.

Every check goes through check(), which raises whatever the interpreter's flags: a bare
`assert` would vanish under PYTHONOPTIMIZE and let a broken simulator pass.
"""

import argparse
import datetime
import inspect
import os
import resource
import sys
import time
import urllib.parse

import requests
from kiteconnect import KiteConnect, exceptions

IST = datetime.timezone(datetime.timedelta(hours=5, minutes=30))


class ConformanceFailure(Exception):
    """A check failed."""


def check(condition, message):
    """Fails the run when condition is false (also under python -O)."""
    if not condition:
        raise ConformanceFailure(message)


def login_request_token(root, api_key, state):
    """What the user's browser does: open the login page and read the redirect back."""
    query = urllib.parse.urlencode(
        {"v": "3", "api_key": api_key, "redirect_params": urllib.parse.urlencode({"state": state})}
    )
    answer = requests.get(f"{root}/connect/login?{query}", allow_redirects=False, timeout=5)
    check(answer.status_code in (302, 303), f"login page answered {answer.status_code}")
    params = urllib.parse.parse_qs(urllib.parse.urlparse(answer.headers["location"]).query)
    check(params.get("status") == ["success"], f"login redirect {params}")
    check(params.get("state") == [state], f"state did not come back: {params}")
    return params["request_token"][0]


def logged_in(root, api_key, api_secret):
    kite = KiteConnect(api_key, root=root)
    session = kite.generate_session(login_request_token(root, api_key, "csrf42"), api_secret=api_secret)
    check(bool(session["access_token"]), "no access token")
    check(bool(session["user_id"]), "no user id")
    return kite, session


def paced(kite):
    """Spaces the SDK's requests to Kite's quotas (quotes 1/s, everything else 10/s), as
    every client must; the SDK itself is left as it is: only its HTTP session's request
    function is wrapped."""
    send = kite.reqsession.request
    last = {}

    def request(method, url, *args, **kwargs):
        path = urllib.parse.urlparse(url).path
        kind = "quote" if path.startswith("/quote") else (
            "order" if path.startswith("/orders/") and method in ("POST", "PUT", "DELETE") else "other")
        interval = 1.05 if kind == "quote" else 0.105
        wait = last.get(kind, 0) + interval - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        last[kind] = time.monotonic()
        return send(method, url, *args, **kwargs)

    kite.reqsession.request = request
    return kite


class Admin:
    """The simulator's own /_sim routes: move prices and the clock."""

    def __init__(self, root, token):
        self.root = root
        self.token = token

    def post(self, route, body):
        answer = requests.post(f"{self.root}/_sim{route}", json=body,
                               headers={"X-Sim-Admin": self.token}, timeout=5)
        check(answer.status_code == 200, f"/_sim{route} answered {answer.status_code}: {answer.text}")
        return answer.json()["data"]

    def now(self):
        answer = requests.get(f"{self.root}/_sim/clock", headers={"X-Sim-Admin": self.token}, timeout=5)
        check(answer.status_code == 200, f"/_sim/clock answered {answer.status_code}")
        return datetime.datetime.fromisoformat(answer.json()["data"]["now"])

    def next_trading_day(self):
        """Moves the clock to 09:16 IST of the next trading day."""
        day = self.now().astimezone(IST).date() + datetime.timedelta(days=1)
        while day.weekday() >= 5:
            day += datetime.timedelta(days=1)
        target = datetime.datetime.combine(day, datetime.time(9, 16), tzinfo=IST)
        self.post("/clock", {"now": target.isoformat()})


def refused(call, exception, wording):
    """Checks that call() raises the SDK's `exception` whose message contains `wording`."""
    try:
        call()
    except exception as error:
        check(wording in str(error), f"{exception.__name__} {error!r} lacks {wording!r}")
        return error
    raise ConformanceFailure(f"accepted where Kite raises {exception.__name__} ({wording})")


def conformance(root, api_key, api_secret, admin):
    forged_kite = KiteConnect(api_key, root=root)
    forged = login_request_token(root, api_key, "forged")
    try:
        forged_kite.generate_session(forged, api_secret="not-the-secret")
        raise ConformanceFailure("a forged checksum was accepted")
    except exceptions.TokenException:
        pass

    kite, session = logged_in(root, api_key, api_secret)
    paced(kite)

    profile = kite.profile()
    check(profile["user_id"] == session["user_id"], f"profile {profile}")
    check("NSE" in profile["exchanges"], f"profile {profile}")

    margins = kite.margins()
    check(margins["equity"]["enabled"] is True, f"margins {margins}")
    check(margins["equity"]["net"] > 0, f"margins {margins}")
    check(kite.margins(segment="equity")["available"]["cash"] > 0, "equity cash")

    order_id = kite.place_order(
        variety=kite.VARIETY_REGULAR,
        exchange=kite.EXCHANGE_NSE,
        tradingsymbol="SBIN",
        transaction_type=kite.TRANSACTION_TYPE_BUY,
        quantity=2,
        product=kite.PRODUCT_CNC,
        order_type=kite.ORDER_TYPE_LIMIT,
        price=790.5,
        validity=kite.VALIDITY_DAY,
        tag="conformance1",
    )
    check(bool(order_id), "no order id")

    orders = kite.orders()
    placed = [order for order in orders if order["order_id"] == order_id]
    check(len(placed) == 1, f"orders {orders}")
    check(placed[0]["status"] == "OPEN", f"order {placed[0]}")
    check(placed[0]["tag"] == "conformance1", f"order {placed[0]}")
    check(placed[0]["price"] == 790.5, f"order {placed[0]}")

    modified = kite.modify_order(variety=kite.VARIETY_REGULAR, order_id=order_id, price=791, quantity=3)
    check(modified == order_id, f"modified {modified}")
    check(kite.order_history(order_id)[-1]["price"] == 791, "modified price")

    cancelled = kite.cancel_order(variety=kite.VARIETY_REGULAR, order_id=order_id)
    check(cancelled == order_id, f"cancelled {cancelled}")
    history = kite.order_history(order_id)
    check(history[-1]["status"] == "CANCELLED", f"history {history[-1]}")
    check(history[0]["status"] == "PUT ORDER REQ RECEIVED", f"history {history[0]}")

    try:
        kite.place_order(
            variety=kite.VARIETY_REGULAR, exchange="NSE", tradingsymbol="SBIN",
            transaction_type="BUY", quantity=1, product="MIS", order_type="MARKET",
        )
        raise ConformanceFailure("a market order without protection was accepted")
    except exceptions.InputException:
        pass

    filled = kite.place_order(
        variety="regular", exchange="NSE", tradingsymbol="SBIN", transaction_type="BUY",
        quantity=4, product="MIS", order_type="MARKET", market_protection=2, tag="conformance2",
    )
    check(kite.order_history(filled)[-1]["status"] == "COMPLETE", "market order filled")
    check([trade["quantity"] for trade in kite.order_trades(filled)] == [4], "order trades")
    check(any(trade["order_id"] == filled for trade in kite.trades()), "trade book")
    net = kite.positions()["net"]
    check(any(position["tradingsymbol"] == "SBIN" and position["quantity"] == 4 for position in net),
          f"positions {net}")
    converted = kite.convert_position(
        exchange="NSE", tradingsymbol="SBIN", transaction_type="BUY", position_type="day",
        quantity=4, old_product="MIS", new_product="CNC",
    )
    check(converted is True, f"convert_position {converted}")
    # A modification takes no product: Kite's modify_order has no such parameter, and a
    # position changes product by conversion, as above.
    check("product" not in inspect.signature(kite.modify_order).parameters, "modify_order takes a product")
    net = kite.positions()["net"]
    check(any(p["tradingsymbol"] == "SBIN" and p["product"] == "CNC" and p["quantity"] == 4 for p in net),
          f"converted position {net}")
    check(kite.holdings()[0]["quantity"] > 0, "holdings")

    varieties(kite)
    amo = kite.place_order(
        variety=kite.VARIETY_AMO, exchange="NSE", tradingsymbol="SBIN", transaction_type="BUY",
        quantity=1, product="CNC", order_type="LIMIT", price=700, tag="confamo",
    )
    waiting = kite.order_history(amo)[-1]
    check(waiting["status"] == "AMO REQ RECEIVED", f"amo {waiting}")
    check(waiting["exchange_order_id"] is None and waiting["exchange_timestamp"] is None,
          f"an after-market order reached the exchange before the session: {waiting}")

    fills(kite, admin)
    burst(root, api_key, kite.access_token)
    unknown_routes(kite)

    ltp = kite.ltp("NSE:INFY", "NSE:SBIN")
    check(set(ltp) == {"NSE:INFY", "NSE:SBIN"}, f"ltp {ltp}")
    quote = kite.quote("NSE:INFY")["NSE:INFY"]
    check(quote["ohlc"]["close"] > 0 and len(quote["depth"]["buy"]) == 5, f"quote {quote}")
    check(kite.ohlc("NSE:INFY")["NSE:INFY"]["last_price"] > 0, "ohlc")
    instruments = kite.instruments()
    check(any(row["tradingsymbol"] == "SBIN" and row["lot_size"] == 1 for row in instruments),
          f"instruments {instruments}")

    next_day(root, api_key, api_secret, admin, kite, amo)
    print(f"python_sdk conformance at {root}: generate_session profile margins place_order orders "
          "modify_order order_history cancel_order order_trades trades positions convert_position "
          "holdings varieties amo fills rate_limit unknown_routes ltp quote ohlc instruments "
          "next_day ok")


def varieties(kite):
    """Cover, iceberg and auction orders: refused without their fields, placed with them."""
    base = dict(exchange="NSE", tradingsymbol="SBIN", transaction_type="BUY", quantity=10,
                order_type="LIMIT", price=790)
    refused(lambda: kite.place_order(variety=kite.VARIETY_CO, product="MIS", **base),
            exceptions.InputException, "trigger price")
    refused(lambda: kite.place_order(variety=kite.VARIETY_CO, product="CNC", trigger_price=780, **base),
            exceptions.InputException, "`product`")
    refused(lambda: kite.place_order(variety=kite.VARIETY_ICEBERG, product="MIS", **base),
            exceptions.InputException, "`iceberg_legs`")
    refused(lambda: kite.place_order(variety=kite.VARIETY_ICEBERG, product="MIS", iceberg_legs=2,
                                     iceberg_quantity=9, **base),
            exceptions.InputException, "`iceberg_quantity`")
    sell = dict(base, transaction_type="SELL", quantity=1, price=850)
    refused(lambda: kite.place_order(variety=kite.VARIETY_AUCTION, product="CNC", **sell),
            exceptions.InputException, "`auction_number`")

    cover = kite.place_order(variety=kite.VARIETY_CO, product="MIS", trigger_price=780, **base)
    iceberg = kite.place_order(variety=kite.VARIETY_ICEBERG, product="MIS", iceberg_legs=2,
                               iceberg_quantity=5, **base)
    leg = kite.order_history(iceberg)[-1]
    check(leg["quantity"] == 5 and leg["meta"]["iceberg"]["legs"] == 2, f"iceberg leg {leg}")
    auction = kite.place_order(variety=kite.VARIETY_AUCTION, product="CNC", auction_number="22", **sell)
    check(kite.order_history(auction)[-1]["auction_number"] == "22", "auction number")
    for variety, order_id in [("co", cover), ("iceberg", iceberg), ("auction", auction)]:
        check(kite.cancel_order(variety=variety, order_id=order_id) == order_id, f"cancel {variety}")


def fills(kite, admin):
    """A resting limit fills when the price comes to it, a stop when the price crosses it."""
    resting = kite.place_order(
        variety="regular", exchange="NSE", tradingsymbol="SBIN", transaction_type="BUY",
        quantity=2, product="CNC", order_type="LIMIT", price=800, tag="confrest",
    )
    stop = kite.place_order(
        variety="regular", exchange="NSE", tradingsymbol="SBIN", transaction_type="SELL",
        quantity=1, product="MIS", order_type="SL-M", trigger_price=795, market_protection=-1,
    )
    check(kite.order_history(resting)[-1]["status"] == "OPEN", "the limit rests")
    check(kite.order_history(stop)[-1]["status"] == "TRIGGER PENDING", "the stop waits")
    admin.post("/prices", {"NSE:SBIN": 799.95})
    filled = kite.order_history(resting)[-1]
    check(filled["status"] == "COMPLETE" and filled["average_price"] == 800, f"resting fill {filled}")
    check([t["quantity"] for t in kite.order_trades(resting)] == [2], "the fill's trade")
    admin.post("/prices", {"NSE:SBIN": 794.5})
    stopped = kite.order_history(stop)[-1]
    check(stopped["status"] == "COMPLETE" and stopped["average_price"] == 794.5, f"stop fill {stopped}")
    trades = kite.trades()
    check({resting, stop} <= {trade["order_id"] for trade in trades}, f"trade book {trades}")
    net = kite.positions()["net"]
    delivery = [p for p in net if p["tradingsymbol"] == "SBIN" and p["product"] == "CNC"]
    check(len(delivery) == 1 and delivery[0]["quantity"] == 6, f"delivery position {net}")
    day = kite.positions()["day"]
    check(any(p["product"] == "MIS" and p["quantity"] == -1 for p in day), f"day positions {day}")
    holding = [h for h in kite.holdings() if h["tradingsymbol"] == "SBIN"][0]
    check(holding["t1_quantity"] == 0, f"the day's buys are positions, not holdings: {holding}")


def burst(root, api_key, access_token):
    """An unpaced burst of orders: Kite refuses what goes over 10 a second with a 429."""
    hurried = KiteConnect(api_key, access_token=access_token, root=root)
    refusals = []
    for _ in range(12):
        try:
            hurried.place_order(variety="regular", exchange="NSE", tradingsymbol="SBIN",
                                transaction_type="BUY", quantity=1, product="MIS",
                                order_type="LIMIT", price=700, tag="confburst")
        except exceptions.NetworkException as error:
            check(error.code == 429, f"rate limit status {error.code}")
            check(isinstance(error, exceptions.KiteException), "a KiteException")
            refusals.append(error)
    check(len(refusals) >= 1, "a burst of 12 orders went through Kite's 10/s")
    time.sleep(1.1)


def unknown_routes(kite):
    """Routes the simulator does not serve and wrong methods raise the SDK's exception."""
    for call in (kite.get_auction_instruments, kite.get_gtts):
        error = refused(call, exceptions.GeneralException, "Route not found")
        check(error.code == 404, f"status {error.code}")
    error = refused(lambda: kite._delete("user.profile"), exceptions.GeneralException, "not allowed")
    check(error.code == 405, f"status {error.code}")


def next_day(root, api_key, api_secret, admin, kite, amo):
    """The next trading day: the session is over, the after-market order is at the exchange,
    the delivery buys are T+1 holdings, the order book is the new day's."""
    admin.next_trading_day()
    refused(kite.profile, exceptions.TokenException, "")
    kite, _ = logged_in(root, api_key, api_secret)
    paced(kite)
    released = kite.order_history(amo)[-1]
    check(released["status"] == "OPEN" and released["exchange_order_id"],
          f"the after-market order at the session {released}")
    holding = [h for h in kite.holdings() if h["tradingsymbol"] == "SBIN"][0]
    check(holding["t1_quantity"] == 6 and holding["quantity"] == 16, f"T+1 holding {holding}")
    check(kite.trades() == [], "the trade book is the day's")


def cpu_seconds():
    """User plus system CPU seconds of this whole process (start-up included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def bench(root, api_key, api_secret, count, warm_up=100):
    kite, _ = logged_in(root, api_key, api_secret)

    def place():
        kite.place_order(
            variety="regular", exchange="NSE", tradingsymbol="SBIN", transaction_type="BUY",
            quantity=1, product="CNC", order_type="LIMIT", price=790, tag="pybench",
        )

    for _ in range(warm_up):
        place()
    started_wall, started_cpu = time.perf_counter(), cpu_seconds()
    for _ in range(count):
        place()
    wall = time.perf_counter() - started_wall
    process_cpu = cpu_seconds()
    loop_cpu = process_cpu - started_cpu
    print(f"python_sdk orders={count} wall_s={wall:.3f} loop_cpu_s={loop_cpu:.3f} "
          f"loop_cpu_per_order_us={loop_cpu * 1e6 / count:.1f} process_cpu_s={process_cpu:.3f} "
          f"process_cpu_per_order_us={process_cpu * 1e6 / count:.1f}")


def self_check():
    """Proves the checks survive python -O: a failing check must raise."""
    try:
        check(False, "deliberately false")
    except ConformanceFailure:
        print(f"checks run with optimize level {sys.flags.optimize}")
        return
    raise SystemExit("check() did not raise: the conformance checks would be skipped")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root")
    parser.add_argument("--api-key")
    parser.add_argument("--api-secret")
    parser.add_argument("--bench", type=int, default=0, metavar="ORDERS",
                        help="log in and time this many place_order calls instead of the checks")
    parser.add_argument("--self-check", action="store_true")
    arguments = parser.parse_args()
    if arguments.self_check:
        self_check()
        return
    if not (arguments.root and arguments.api_key and arguments.api_secret):
        parser.error("--root, --api-key and --api-secret are required")
    if arguments.bench > 0:
        bench(arguments.root, arguments.api_key, arguments.api_secret, arguments.bench)
    else:
        token = os.environ.get("KITE_SIM_ADMIN_TOKEN")
        if not token:
            parser.error("KITE_SIM_ADMIN_TOKEN (the simulator's admin token) is required")
        conformance(arguments.root, arguments.api_key, arguments.api_secret,
                    Admin(arguments.root, token))


if __name__ == "__main__":
    try:
        main()
    except ConformanceFailure as failure:
        print(f"conformance FAILED: {failure}", file=sys.stderr)
        sys.exit(1)
