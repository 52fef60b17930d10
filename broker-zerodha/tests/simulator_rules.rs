//! What the simulator refuses as Kite refuses it, through raw requests shaped like the
//! official SDK's (form bodies, `X-Kite-Version: 3`): cover, iceberg and auction orders
//! without their fields, freeze quantities, ticks, modifications, closed markets, unknown
//! routes and methods, and the `/_sim` admin routes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on purpose

mod common;

use std::sync::Arc;

use broker_core::ManualClock;
use broker_zerodha::sim::{SimAccount, SimConfig, Simulator};
use chrono::{DateTime, Utc};
use common::sim::{RawKite, assert_input_exception};
use reqwest::Method;
use serde_json::Value;

/// A weekday at 10:00 IST, in session.
fn in_session() -> DateTime<Utc> {
    "2026-12-01T04:30:00Z".parse().unwrap()
}

async fn simulator() -> Simulator {
    Simulator::start(SimConfig::default().without_quotas())
        .await
        .unwrap()
}

const SBIN_LIMIT: [(&str, &str); 7] = [
    ("exchange", "NSE"),
    ("tradingsymbol", "SBIN"),
    ("transaction_type", "BUY"),
    ("quantity", "10"),
    ("product", "MIS"),
    ("order_type", "LIMIT"),
    ("price", "800"),
];

fn with(fields: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut form: Vec<_> = SBIN_LIMIT
        .iter()
        .filter(|(key, _)| !fields.iter().any(|(replaced, _)| replaced == key))
        .copied()
        .collect();
    form.extend(fields.iter().filter(|(_, value)| !value.is_empty()));
    form
}

#[tokio::test]
async fn cover_orders_need_a_trigger_and_the_intraday_product() {
    let simulator = simulator().await;
    let kite = RawKite::logged_in(&simulator, &SimAccount::demo()).await;
    assert_input_exception(
        &kite.place("co", &with(&[])).await,
        "Invalid trigger price entered",
    );
    assert_input_exception(
        &kite
            .place("co", &with(&[("product", "CNC"), ("trigger_price", "790")]))
            .await,
        "Invalid `product`",
    );
    assert_input_exception(
        &kite
            .place(
                "co",
                &with(&[
                    ("order_type", "SL"),
                    ("trigger_price", "790"),
                    ("price", "791"),
                ]),
            )
            .await,
        "Invalid `order_type`",
    );
    assert!(simulator.accepted_orders().is_empty(), "nothing placed");
    let (status, body) = kite.place("co", &with(&[("trigger_price", "790")])).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(simulator.accepted_orders().len(), 1);
}

#[tokio::test]
async fn iceberg_orders_need_their_legs_and_the_leg_quantity_kite_computes() {
    let simulator = simulator().await;
    let kite = RawKite::logged_in(&simulator, &SimAccount::demo()).await;
    assert_input_exception(
        &kite.place("iceberg", &with(&[])).await,
        "Missing or empty field `iceberg_legs`",
    );
    assert_input_exception(
        &kite.place("iceberg", &with(&[("iceberg_legs", "2")])).await,
        "Missing or empty field `iceberg_quantity`",
    );
    for legs in ["1", "51"] {
        assert_input_exception(
            &kite
                .place(
                    "iceberg",
                    &with(&[
                        ("quantity", "100"),
                        ("iceberg_legs", legs),
                        ("iceberg_quantity", "50"),
                    ]),
                )
                .await,
            "Invalid `iceberg_legs`",
        );
    }
    assert_input_exception(
        &kite
            .place(
                "iceberg",
                &with(&[("iceberg_legs", "2"), ("iceberg_quantity", "9")]),
            )
            .await,
        "Invalid `iceberg_quantity`",
    );
    assert!(simulator.accepted_orders().is_empty(), "nothing placed");
    let (status, body) = kite
        .place(
            "iceberg",
            &with(&[
                ("quantity", "11"),
                ("iceberg_legs", "2"),
                ("iceberg_quantity", "6"),
            ]),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let order = &simulator.orders("ZS1234")[0];
    assert_eq!(order.quantity, 6, "the first leg only");
    let meta = order.meta.iceberg.as_ref().unwrap();
    assert_eq!(
        (
            meta.leg,
            meta.legs,
            meta.total_quantity,
            meta.remaining_quantity
        ),
        (1, 2, 11, 5)
    );
}

#[tokio::test]
async fn auction_orders_need_their_auction_number() {
    let simulator = simulator().await;
    let kite = RawKite::logged_in(&simulator, &SimAccount::demo()).await;
    let sell = [("transaction_type", "SELL"), ("product", "CNC")];
    assert_input_exception(
        &kite.place("auction", &with(&sell)).await,
        "Missing or empty field `auction_number`",
    );
    let mut bad = sell.to_vec();
    bad.push(("auction_number", "2a"));
    assert_input_exception(
        &kite.place("auction", &with(&bad)).await,
        "Invalid `auction_number`",
    );
    let mut good = sell.to_vec();
    good.push(("auction_number", "22"));
    let (status, body) = kite.place("auction", &with(&good)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        simulator.orders("ZS1234")[0].auction_number.as_deref(),
        Some("22")
    );
}

#[tokio::test]
async fn required_fields_ticks_stop_sides_and_freeze_quantities_are_checked() {
    let simulator = simulator().await;
    let kite = RawKite::logged_in(&simulator, &SimAccount::demo()).await;
    let without_product: Vec<_> = SBIN_LIMIT
        .iter()
        .filter(|(key, _)| *key != "product")
        .copied()
        .collect();
    assert_input_exception(
        &kite.place("regular", &without_product).await,
        "Missing or empty field `product`",
    );
    assert_input_exception(
        &kite.place("regular", &with(&[("price", "800.03")])).await,
        "Tick size for this script is 0.05",
    );
    assert_input_exception(
        &kite
            .place(
                "regular",
                &with(&[
                    ("order_type", "SL"),
                    ("price", "800"),
                    ("trigger_price", "801"),
                ]),
            )
            .await,
        "Invalid `trigger_price`",
    );
    let future = [
        ("exchange", "NFO"),
        ("tradingsymbol", "NIFTY26DECFUT"),
        ("product", "NRML"),
        ("price", "24100"),
        ("quantity", "1801"),
    ];
    assert_input_exception(
        &kite.place("regular", &with(&future)).await,
        "higher than the maximum quantity of 1800",
    );
    assert_input_exception(
        &kite.place("regular", &with(&[("validity", "TTL")])).await,
        "Missing or empty field `validity_ttl`",
    );
    assert!(simulator.accepted_orders().is_empty(), "nothing placed");
}

#[tokio::test]
async fn modifications_keep_to_the_variety_and_to_kites_25_changes() {
    let simulator = simulator().await;
    let kite = RawKite::logged_in(&simulator, &SimAccount::demo()).await;
    let (_, body) = kite.place("regular", &with(&[("price", "790")])).await;
    let order_id = body["data"]["order_id"].as_str().unwrap().to_owned();
    let path = |variety: &str| format!("/orders/{variety}/{order_id}");
    let (status, _, body) = kite
        .send(Method::PUT, &path("amo"), &[("price", "791")])
        .await;
    assert_input_exception(&(status, body), "Invalid `variety`");
    let (status, _, body) = kite.send(Method::DELETE, &path("co"), &[]).await;
    assert_input_exception(&(status, body), "Invalid `variety`");
    // Kite's modification takes no `product` (products change by converting a position):
    // one sent anyway changes nothing.
    let (status, _, body) = kite
        .send(Method::PUT, &path("regular"), &[("product", "CNC")])
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(simulator.orders("ZS1234")[0].product, "MIS");
    for change in 1..25 {
        let price = format!("{}", 700 + change);
        let (status, _, body) = kite
            .send(Method::PUT, &path("regular"), &[("price", &price)])
            .await;
        assert_eq!(status, 200, "change {change}: {body}");
    }
    let (status, _, body) = kite
        .send(Method::PUT, &path("regular"), &[("price", "770")])
        .await;
    assert_input_exception(
        &(status, body),
        "Maximum allowed order modifications exceeded",
    );
    let order = &simulator.orders("ZS1234")[0];
    assert_eq!((order.product.as_str(), order.price), ("MIS", 724.into()));
}

#[tokio::test]
async fn with_market_hours_regular_orders_outside_the_session_are_refused_but_amo_is_not() {
    let evening: DateTime<Utc> = "2026-12-01T13:00:00Z".parse().unwrap();
    let simulator = Simulator::start(SimConfig {
        clock: Arc::new(ManualClock::new(evening)),
        market_hours: true,
        ..SimConfig::default().without_quotas()
    })
    .await
    .unwrap();
    let kite = RawKite::logged_in(&simulator, &SimAccount::demo()).await;
    assert_input_exception(
        &kite.place("regular", &with(&[])).await,
        "Markets are closed right now",
    );
    let (status, body) = kite.place("amo", &with(&[])).await;
    assert_eq!(status, 200, "{body}");
    simulator.set_clock(in_session());
    let kite = RawKite::logged_in(&simulator, &SimAccount::demo()).await;
    let (status, body) = kite.place("regular", &with(&[])).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_answer_kites_json_error_envelope() {
    let simulator = simulator().await;
    let kite = RawKite::logged_in(&simulator, &SimAccount::demo()).await;
    for (method, path, status) in [
        (Method::GET, "/nope", 404),
        (Method::GET, "/portfolio/holdings/auctions/x", 404),
        (Method::GET, "/orders/1/nope", 404),
        (Method::DELETE, "/user/profile", 405),
        (Method::PATCH, "/orders/regular", 405),
    ] {
        let (seen, content_type, body) = kite.send(method.clone(), path, &[]).await;
        assert_eq!(seen, status, "{method} {path}: {body}");
        assert!(
            content_type.contains("json"),
            "{method} {path}: {content_type}"
        );
        assert_eq!(body["status"], "error", "{method} {path}: {body}");
        assert_eq!(body["error_type"], "GeneralException", "{body}");
        assert!(body["message"].is_string(), "{body}");
        assert_eq!(body["data"], Value::Null);
    }
}

#[tokio::test]
async fn the_admin_routes_need_their_token_and_move_prices_the_clock_and_faults() {
    let simulator = Simulator::start(SimConfig {
        admin_token: Some("admin-secret".into()),
        clock: Arc::new(ManualClock::new(in_session())),
        ..SimConfig::default().without_quotas()
    })
    .await
    .unwrap();
    let kite = RawKite::logged_in(&simulator, &SimAccount::demo()).await;
    let admin = |path: &str, token: Option<&str>, body: Value| {
        let mut request = kite
            .http
            .post(format!("{}/_sim{path}", kite.url))
            .json(&body);
        if let Some(token) = token {
            request = request.header("X-Sim-Admin", token);
        }
        request.send()
    };
    let refused = admin(
        "/prices",
        Some("wrong"),
        serde_json::json!({"NSE:SBIN": 700}),
    )
    .await
    .unwrap();
    assert_eq!(refused.status(), 403);
    let refused = admin("/prices", None, serde_json::json!({"NSE:SBIN": 700}))
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);

    let (status, body) = kite.place("regular", &with(&[("price", "790")])).await;
    assert_eq!(status, 200, "{body}");
    let moved = admin(
        "/prices",
        Some("admin-secret"),
        serde_json::from_str(r#"{"NSE:SBIN": 789.95}"#).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(moved.status(), 200);
    let order = &simulator.orders("ZS1234")[0];
    assert_eq!(
        (order.status.as_str(), order.average_price),
        ("COMPLETE", 790.into()),
        "the resting buy at 790 filled when the price came down to it"
    );

    let fault = admin(
        "/faults",
        Some("admin-secret"),
        serde_json::json!({"method": "GET", "path": "/orders", "fault": {"server_error": 503}}),
    )
    .await
    .unwrap();
    assert_eq!(fault.status(), 200);
    let (status, _, _) = kite.send(Method::GET, "/orders", &[]).await;
    assert_eq!(status, 503);
    let unknown = admin(
        "/faults",
        Some("admin-secret"),
        serde_json::json!({"method": "GET", "path": "/nope", "fault": "hang"}),
    )
    .await
    .unwrap();
    assert_eq!(unknown.status(), 400);

    let clock = admin(
        "/clock",
        Some("admin-secret"),
        serde_json::json!({"advance_seconds": 86_400}),
    )
    .await
    .unwrap();
    assert_eq!(clock.status(), 200);
    assert_eq!(simulator.now(), in_session() + chrono::Duration::days(1));
    let (status, _, body) = kite.send(Method::GET, "/user/profile", &[]).await;
    assert_eq!(
        (status, body["error_type"].as_str()),
        (403, Some("TokenException")),
        "the day's session expired at 06:00 IST"
    );
    assert!(
        simulator.orders("ZS1234").is_empty(),
        "the order book is the day's"
    );

    let off = Simulator::start(SimConfig::default()).await.unwrap();
    let answer = reqwest::Client::new()
        .post(format!("{}/_sim/prices", off.url()))
        .header("X-Sim-Admin", "anything")
        .json(&serde_json::json!({"NSE:SBIN": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 404, "no admin token, no admin routes");
}
