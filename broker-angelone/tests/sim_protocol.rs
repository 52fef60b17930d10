//! The simulator speaks SmartAPI's protocol as SmartAPI does (issue 9): field types of live
//! answers, sessions that end as SmartAPI's end, per-account quotas on by default, JSON errors
//! for unknown routes, and IPv4 clients of a dual-stack listener.

mod common;

use std::time::Duration;

use broker_angelone::Endpoint;
use broker_angelone::models::RefreshBody;
use broker_angelone::sim::{SimAccount, SimConfig, Simulator};
use broker_core::sim::SimListen;
use broker_core::{Broker, BrokerError, BrokerSession, Exchange};
use common::{API_KEY, CLIENT_CODE, logged_in, raw_client, sbin_body, simulator};
use rust_decimal_macros::dec;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

/// Sends a request as the official SDK does and returns the status and the JSON body.
#[allow(clippy::unwrap_used)] // a test helper: a failure should fail the test loudly
async fn raw(
    simulator: &Simulator,
    method: reqwest::Method,
    path: &str,
    token: Option<&SecretString>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", simulator.url()))
        .header("X-PrivateKey", API_KEY)
        .header("Content-type", "application/json")
        .header("Accept", "application/json");
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {}", token.expose_secret()));
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{path}: HTTP {status} is not JSON: {text:?}"));
    (status, json)
}

#[tokio::test]
async fn answers_carry_the_field_types_of_live_smartapi_answers() {
    let simulator = common::simulator_without_quotas("127.0.0.1").await;
    let (broker, token) = logged_in(&simulator).await;
    let ack = broker
        .client()
        .place_order(&token, &sbin_body(dec!(790), 1))
        .await
        .unwrap();
    let get = reqwest::Method::GET;
    let post = reqwest::Method::POST;

    let (_, book) = raw(
        &simulator,
        get.clone(),
        Endpoint::OrderBook.path(),
        Some(&token),
        None,
    )
    .await;
    let row = &book["data"][0];
    assert_eq!(row["price"], json!(790), "prices are numbers: {row}");
    assert_eq!(row["quantity"], json!("1"), "quantities are strings: {row}");
    assert_eq!(row["filledshares"], json!("0"));
    assert_eq!(row["strikeprice"], json!(-1));
    assert_eq!(row["lotsize"], json!("1"));
    for field in [
        "squareoff",
        "stoploss",
        "trailingstoploss",
        "instrumenttype",
        "optiontype",
        "expirydate",
        "cancelsize",
        "exchtime",
        "exchorderupdatetime",
        "fillid",
        "filltime",
        "parentorderid",
        "uniqueorderid",
        "exchangeorderid",
    ] {
        assert!(row.get(field).is_some(), "{field} in {row}");
    }
    let details_path = format!(
        "{}{}",
        Endpoint::OrderDetails.path(),
        ack.uniqueorderid.unwrap()
    );
    let (_, details) = raw(&simulator, get.clone(), &details_path, Some(&token), None).await;
    assert_eq!(details["data"]["price"], json!(790));
    assert_eq!(details["data"]["quantity"], json!("1"));

    let (_, ltp) = raw(
        &simulator,
        post.clone(),
        Endpoint::Ltp.path(),
        Some(&token),
        Some(json!({"exchange": "NSE", "tradingsymbol": "SBIN-EQ", "symboltoken": "3045"})),
    )
    .await;
    assert_eq!(ltp["data"]["ltp"], json!(801.05));
    let (_, quote) = raw(
        &simulator,
        post.clone(),
        Endpoint::Quote.path(),
        Some(&token),
        Some(json!({"mode": "FULL", "exchangeTokens": {"NSE": ["3045"]}})),
    )
    .await;
    let full = &quote["data"]["fetched"][0];
    assert_eq!(full["ltp"], json!(801.05));
    assert_eq!(full["depth"]["buy"].as_array().unwrap().len(), 5);
    assert_eq!(full["depth"]["sell"].as_array().unwrap().len(), 5);
    assert_eq!(full["depth"]["buy"][0]["price"], json!(801.05));
    assert_eq!(full["depth"]["sell"][0]["price"], json!(801.1));
    for field in [
        "lastTradeQty",
        "exchFeedTime",
        "netChange",
        "percentChange",
        "avgPrice",
        "opnInterest",
        "lowerCircuit",
        "upperCircuit",
        "totBuyQuan",
        "totSellQuan",
        "52WeekLow",
        "52WeekHigh",
    ] {
        assert!(full.get(field).is_some(), "{field} in {full}");
    }
    let (_, ohlc) = raw(
        &simulator,
        post,
        Endpoint::Quote.path(),
        Some(&token),
        Some(json!({"mode": "OHLC", "exchangeTokens": {"NSE": ["3045"]}})),
    )
    .await;
    assert!(ohlc["data"]["fetched"][0].get("depth").is_none());

    let (_, profile) = raw(
        &simulator,
        get.clone(),
        Endpoint::Profile.path(),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(profile["data"]["exchanges"][0], json!("nse_cm"));
    let (_, funds) = raw(&simulator, get, Endpoint::Funds.path(), Some(&token), None).await;
    for field in [
        "net",
        "availablecash",
        "availableintradaypayin",
        "availablelimitmargin",
        "collateral",
        "m2munrealized",
        "m2mrealized",
        "utiliseddebits",
        "utilisedspan",
        "utilisedoptionpremium",
        "utilisedholdingsales",
        "utilisedexposure",
        "utilisedturnover",
        "utilisedpayout",
    ] {
        assert!(funds["data"].get(field).is_some(), "{field}");
    }
    // The client reads all of it, and the profile's live segment codes.
    let profile = broker.profile().await.unwrap();
    assert_eq!(
        profile.exchanges,
        [
            Exchange::Nse,
            Exchange::Nfo,
            Exchange::Bse,
            Exchange::Bfo,
            Exchange::Mcx,
            Exchange::Cds
        ]
    );
    let quotes = broker
        .quotes(&[broker_core::InstrumentRef::new(Exchange::Nse, "SBIN-EQ")])
        .await
        .unwrap();
    assert_eq!(quotes[0].last_price, dec!(801.05));
}

#[tokio::test]
async fn sessions_end_as_smartapi_ends_them() {
    let simulator = common::simulator_without_quotas("127.0.0.1").await;
    let client = raw_client(&simulator);
    let (broker, _) = logged_in(&simulator).await;
    let first = broker.session_tokens().await.unwrap();
    let refresh_token = first.refresh_token().unwrap().clone();
    let refresh = RefreshBody {
        refresh_token: &refresh_token,
    };

    // generateTokens needs the session's bearer.
    let error = client
        .generate_tokens(&SecretString::from("eyJsomeone-else"), &refresh)
        .await
        .err()
        .unwrap();
    assert!(error.needs_login(), "{error:?}");
    // With it, the old token stops working.
    let renewed = client
        .generate_tokens(first.access_token(), &refresh)
        .await
        .unwrap();
    let old = client.funds(first.access_token()).await.unwrap_err();
    assert!(old.needs_login(), "{old:?}");
    client.funds(&renewed.jwt_token).await.unwrap();
    // A refresh token works once.
    assert!(
        client
            .generate_tokens(&renewed.jwt_token, &refresh)
            .await
            .is_err()
    );

    // After a logout the refresh token is dead too.
    let logout = broker_angelone::models::LogoutBody {
        clientcode: CLIENT_CODE.into(),
    };
    client.logout(&renewed.jwt_token, &logout).await.unwrap();
    let renewed_refresh = RefreshBody {
        refresh_token: &renewed.refresh_token,
    };
    let error = client
        .generate_tokens(&renewed.jwt_token, &renewed_refresh)
        .await
        .err()
        .unwrap();
    assert!(error.needs_login(), "{error:?}");

    // A session ends at the next 05:00 IST on the simulator's clock.
    let (_, token) = logged_in(&simulator).await;
    client.funds(&token).await.unwrap();
    let now = simulator.now();
    let expiry = broker_core::BrokerKind::AngelOne
        .session_expires_at(now)
        .unwrap();
    simulator.advance_clock(expiry - now - chrono::Duration::seconds(1));
    client.funds(&token).await.unwrap();
    simulator.advance_clock(chrono::Duration::seconds(1));
    let error = client.funds(&token).await.unwrap_err();
    assert!(error.needs_login(), "{error:?}");
}

#[tokio::test]
async fn quotas_are_enforced_per_account_by_default_and_the_eleventh_order_in_a_second_is_refused()
{
    let other = SimAccount::new("otherKEY7", "O7777", "24681357", common::TOTP_SECRET)
        .with_registered_ip("127.0.0.1".parse().unwrap());
    let simulator = Simulator::start(SimConfig::new([common::account("127.0.0.1"), other]))
        .await
        .unwrap();
    let (broker, token) = logged_in(&simulator).await;
    // A client that does not pace itself.
    let client = raw_client(&simulator);
    let mut outcomes = Vec::new();
    for _ in 0..15 {
        outcomes.push(client.place_order(&token, &sbin_body(dec!(790), 1)).await);
    }
    let accepted = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
    let limited = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Err(BrokerError::RateLimited { .. })))
        .count();
    assert_eq!((accepted, limited), (10, 5), "{outcomes:?}");
    assert_eq!(simulator.accepted_orders().len(), 10);
    // The order book allows one request a second.
    client.order_book(&token).await.unwrap();
    assert!(matches!(
        client.order_book(&token).await,
        Err(BrokerError::RateLimited { .. })
    ));

    // Another account has its own budget.
    let credentials = broker_core::AngelOneCredentials::new(
        "otherKEY7".into(),
        "O7777",
        "24681357".into(),
        common::TOTP_SECRET.into(),
    )
    .unwrap();
    let options = common::options(&simulator, "127.0.0.1", Duration::from_secs(5));
    let second = broker_angelone::AngelOne::connect(credentials, None, &options).unwrap();
    second.orders().await.unwrap();
    // The default client paces itself and is never refused.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    broker.orders().await.unwrap();
    broker.orders().await.unwrap();
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_answer_smartapis_json_error() {
    let simulator = simulator("127.0.0.1").await;
    let (_, token) = logged_in(&simulator).await;
    let (status, body) = raw(
        &simulator,
        reqwest::Method::GET,
        "/rest/secure/angelbroking/order/v1/noSuchRoute",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["status"], json!(false));
    let (status, body) = raw(
        &simulator,
        reqwest::Method::POST,
        "/rest/secure/angelbroking/gtt/v1/ruleList",
        Some(&token),
        Some(json!({"status": ["NEW"], "page": 1, "count": 10})),
    )
    .await;
    assert_eq!(status, 404);
    assert!(
        body["message"].as_str().unwrap().contains("ruleList"),
        "{body}"
    );
    let (status, body) = raw(
        &simulator,
        reqwest::Method::DELETE,
        Endpoint::PlaceOrder.path(),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, 405);
    assert_eq!(body["status"], json!(false));
}

#[tokio::test]
async fn an_ipv4_client_of_a_listener_on_all_ipv6_addresses_is_judged_by_its_ipv4_address() {
    let listen = SimListen::on("[::]:0".parse().unwrap());
    let Ok(simulator) =
        Simulator::start(SimConfig::new([common::account("127.0.0.1")]).with_listen(listen)).await
    else {
        eprintln!("skipped: this machine cannot listen on [::]");
        return;
    };
    assert!(simulator.url().starts_with("http://127.0.0.1:"));
    let broker = common::broker(&simulator, "127.0.0.1");
    broker
        .place_order(&common::limit_buy("dual1"))
        .await
        .unwrap();
    let accepted = simulator.accepted_orders();
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].peer.to_string(), "127.0.0.1");
}
