"""Drive the official, unmodified Kite Connect Python SDK against our simulator.

Checks generate_session, profile, margins, place_order, orders, order_history and
cancel_order (plus a forged checksum being refused), then times N place_order calls.
Exits non-zero on any failure.
"""

import argparse
import sys
import time
import urllib.parse

import requests
from kiteconnect import KiteConnect, exceptions


def login_request_token(root, api_key, state):
    """What the user's browser does: open the login page and read the redirect back."""
    query = urllib.parse.urlencode(
        {"v": "3", "api_key": api_key, "redirect_params": urllib.parse.urlencode({"state": state})}
    )
    answer = requests.get(f"{root}/connect/login?{query}", allow_redirects=False, timeout=5)
    assert answer.status_code in (302, 303), answer.status_code
    params = urllib.parse.parse_qs(urllib.parse.urlparse(answer.headers["location"]).query)
    assert params["status"] == ["success"], params
    assert params["state"] == [state], params
    return params["request_token"][0]


def conformance(root, api_key, api_secret):
    kite = KiteConnect(api_key, root=root)

    forged = login_request_token(root, api_key, "forged")
    try:
        kite.generate_session(forged, api_secret="not-the-secret")
        raise AssertionError("a forged checksum was accepted")
    except exceptions.TokenException:
        pass

    session = kite.generate_session(login_request_token(root, api_key, "csrf42"), api_secret=api_secret)
    assert session["access_token"], "no access token"
    assert session["user_id"], "no user id"

    profile = kite.profile()
    assert profile["user_id"] == session["user_id"], profile
    assert "NSE" in profile["exchanges"], profile

    margins = kite.margins()
    assert margins["equity"]["enabled"] is True, margins
    assert margins["equity"]["net"] > 0, margins
    assert kite.margins(segment="equity")["available"]["cash"] > 0

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
    assert order_id, "no order id"

    orders = kite.orders()
    placed = [order for order in orders if order["order_id"] == order_id]
    assert len(placed) == 1, orders
    assert placed[0]["status"] == "OPEN", placed[0]
    assert placed[0]["tag"] == "conformance1", placed[0]
    assert placed[0]["price"] == 790.5, placed[0]

    modified = kite.modify_order(variety=kite.VARIETY_REGULAR, order_id=order_id, price=791, quantity=3)
    assert modified == order_id, modified
    assert kite.order_history(order_id)[-1]["price"] == 791

    cancelled = kite.cancel_order(variety=kite.VARIETY_REGULAR, order_id=order_id)
    assert cancelled == order_id, cancelled
    history = kite.order_history(order_id)
    assert history[-1]["status"] == "CANCELLED", history[-1]
    assert history[0]["status"] == "PUT ORDER REQ RECEIVED", history[0]

    try:
        kite.place_order(
            variety=kite.VARIETY_REGULAR, exchange="NSE", tradingsymbol="SBIN",
            transaction_type="BUY", quantity=1, product="MIS", order_type="MARKET",
        )
        raise AssertionError("a market order without protection was accepted")
    except exceptions.InputException:
        pass

    filled = kite.place_order(
        variety="regular", exchange="NSE", tradingsymbol="SBIN", transaction_type="BUY",
        quantity=4, product="MIS", order_type="MARKET", market_protection=2, tag="conformance2",
    )
    assert kite.order_history(filled)[-1]["status"] == "COMPLETE"
    assert [trade["quantity"] for trade in kite.order_trades(filled)] == [4]
    assert any(trade["order_id"] == filled for trade in kite.trades())
    net = kite.positions()["net"]
    assert any(position["tradingsymbol"] == "SBIN" and position["quantity"] == 4 for position in net), net
    assert kite.convert_position(
        exchange="NSE", tradingsymbol="SBIN", transaction_type="BUY", position_type="day",
        quantity=4, old_product="MIS", new_product="CNC",
    ) is True
    assert kite.holdings()[0]["quantity"] > 0

    ltp = kite.ltp("NSE:INFY", "NSE:SBIN")
    assert set(ltp) == {"NSE:INFY", "NSE:SBIN"}, ltp
    assert kite.quote("NSE:INFY")["NSE:INFY"]["ohlc"]["close"] > 0
    assert kite.ohlc("NSE:INFY")["NSE:INFY"]["last_price"] > 0
    instruments = kite.instruments()
    assert any(row["tradingsymbol"] == "SBIN" and row["lot_size"] == 1 for row in instruments), instruments
    print("python_sdk conformance: generate_session profile margins place_order orders "
          "modify_order order_history cancel_order order_trades trades positions convert_position "
          "holdings ltp quote ohlc instruments ok")
    return kite


def bench(kite, count):
    started_wall, started_cpu = time.perf_counter(), time.process_time()
    for _ in range(count):
        kite.place_order(
            variety="regular", exchange="NSE", tradingsymbol="SBIN", transaction_type="BUY",
            quantity=1, product="CNC", order_type="LIMIT", price=790, tag="pybench",
        )
    wall, cpu = time.perf_counter() - started_wall, time.process_time() - started_cpu
    print(f"python_sdk orders={count} wall_s={wall:.3f} cpu_s={cpu:.3f} "
          f"cpu_per_order_us={cpu * 1e6 / count:.1f}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--api-secret", required=True)
    parser.add_argument("--orders", type=int, default=2000)
    arguments = parser.parse_args()
    kite = conformance(arguments.root, arguments.api_key, arguments.api_secret)
    if arguments.orders > 0:
        bench(kite, arguments.orders)


if __name__ == "__main__":
    try:
        main()
    except AssertionError as failure:
        print(f"conformance FAILED: {failure}", file=sys.stderr)
        sys.exit(1)
