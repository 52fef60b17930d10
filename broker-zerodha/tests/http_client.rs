//! Every Kite endpoint and error shape against a strict mock server: method, path, headers and
//! body are checked, and the answers are fixtures written from kiteconnect-mocks' real
//! samples, so each test also proves the endpoint decodes Kite's real shapes. Also the
//! client's hardening: no redirects followed, answers size-capped, order ids kept inside
//! their path segment.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on purpose

mod common;

use std::net::IpAddr;
use std::time::Duration;

use broker_core::transport::{MAX_API_ANSWER_BYTES, MAX_INSTRUMENT_MASTER_BYTES};
use broker_core::{
    Broker, BrokerError, BrokerSession, ConnectivityKind, EgressBinding, Exchange,
    HttpClientConfig, InstrumentKind, InstrumentRef, MarketProtection, OrderId, OrderModification,
    OrderRequest, OrderStatus, OrderTag, OrderType, PlacementOutcome, Product, SessionTokens,
    SharedInstruments, Side, ValidationError, Validity, Variety,
};
use broker_zerodha::{MarginSegment, Zerodha};
use chrono::Utc;
use common::*;
use rust_decimal_macros::dec;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use wiremock::matchers::{body_string, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn expect(server: &MockServer, http_method: &str, route: &str, fixture_name: &str) {
    Mock::given(method(http_method))
        .and(path(route))
        .and(header("x-kite-version", "3"))
        .and(header("authorization", AUTHORIZATION))
        .respond_with(json_fixture(200, fixture_name))
        .expect(1)
        .mount(server)
        .await;
}

fn sha256_hex(text: &str) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(text.as_bytes()))
}

/// A broker for `server` with no session yet, reporting to `recorded`.
fn logged_out(server: &MockServer, recorded: &Recorded, user_id: Option<&str>) -> Zerodha {
    let mut credentials = credentials();
    if let Some(user_id) = user_id {
        credentials = credentials.with_user_id(user_id).unwrap();
    }
    let options = options(&server.uri(), HttpClientConfig::default())
        .with_session_listener(recorded.listener());
    Zerodha::connect(&credentials, None, &options).unwrap()
}

async fn mount_token_exchange(server: &MockServer, request_token: &str) {
    let checksum = sha256_hex(&format!("{API_KEY}{request_token}{API_SECRET}"));
    Mock::given(method("POST"))
        .and(path("/session/token"))
        .and(header("x-kite-version", "3"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string(format!(
            "api_key={API_KEY}&request_token={request_token}&checksum={checksum}"
        )))
        .respond_with(json_fixture(200, "generate_session.json"))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn complete_login_posts_the_checksum_form_uses_the_session_and_reports_it() {
    let server = strict_server().await;
    mount_token_exchange(&server, "reqTOKEN1").await;
    Mock::given(method("GET"))
        .and(path("/user/profile"))
        .and(header(
            "authorization",
            "token fixturekey:fixtureACCESStoken",
        ))
        .respond_with(json_fixture(200, "profile.json"))
        .expect(1)
        .mount(&server)
        .await;
    let recorded = Recorded::default();
    let broker = logged_out(&server, &recorded, Some("mi4821"));
    assert!(broker.profile().await.unwrap_err().needs_login());

    let tokens = broker.complete_login(&"reqTOKEN1".into()).await.unwrap();
    assert_eq!(tokens.access_token().expose_secret(), "fixtureACCESStoken");
    assert!(
        tokens.refresh_token().is_none(),
        "Kite's empty refresh token is dropped"
    );
    assert_eq!(
        tokens.expires_at(),
        "2026-12-03T00:30:00Z"
            .parse::<chrono::DateTime<Utc>>()
            .unwrap(),
        "06:00 IST after a 09:05 IST login"
    );
    assert_eq!(recorded.summary(), ["started fixtureACCESStoken"]);
    assert_eq!(broker.profile().await.unwrap().user_id, "MI4821");
    assert_eq!(
        broker
            .session_tokens()
            .await
            .unwrap()
            .access_token()
            .expose_secret(),
        "fixtureACCESStoken"
    );
}

#[tokio::test]
async fn a_login_by_another_kite_user_is_refused_and_logged_out_again() {
    let server = strict_server().await;
    mount_token_exchange(&server, "reqTOKEN2").await;
    Mock::given(method("DELETE"))
        .and(path("/session/token"))
        .and(query_param("api_key", API_KEY))
        .and(query_param("access_token", "fixtureACCESStoken"))
        .respond_with(json_fixture(200, "session_logout.json"))
        .expect(1)
        .mount(&server)
        .await;
    let recorded = Recorded::default();
    let broker = logged_out(&server, &recorded, Some("AB1234"));
    let error = broker
        .complete_login(&"reqTOKEN2".into())
        .await
        .unwrap_err();
    match &error {
        BrokerError::InvalidCredentials { message } => {
            assert!(
                message.contains("MI4821") && message.contains("AB1234"),
                "{message}"
            );
        }
        other => panic!("expected InvalidCredentials, got {other:?}"),
    }
    assert!(!error.to_string().contains("fixtureACCESStoken"));
    assert!(recorded.summary().is_empty(), "nothing was reported");
    assert!(broker.session_tokens().await.is_none(), "nothing was used");
}

#[tokio::test]
async fn a_refused_checksum_is_a_credentials_problem() {
    let server = strict_server().await;
    Mock::given(method("POST"))
        .and(path("/session/token"))
        .respond_with(ResponseTemplate::new(403).set_body_raw(
            r#"{"status":"error","message":"Invalid `checksum`.","error_type":"TokenException","data":null}"#,
            "application/json",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let broker = logged_out(&server, &Recorded::default(), None);
    let error = broker.complete_login(&"x".into()).await.unwrap_err();
    assert!(
        matches!(error, BrokerError::InvalidCredentials { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn logins_are_the_account_holders_and_the_login_url_carries_the_state() {
    let server = strict_server().await;
    let broker = logged_out(&server, &Recorded::default(), None);
    let error = broker.login().await.unwrap_err();
    assert!(
        matches!(error, BrokerError::Unsupported { .. }),
        "{error:?}"
    );
    assert_eq!(broker.login_mode(), broker_core::LoginMode::Interactive);
    let url = broker.login_url(&[("state", "csrf-7f3a")]);
    assert!(
        url.as_str().starts_with(
            "https://kite.zerodha.com/connect/login?v=3&api_key=fixturekey&redirect_params=state%3Dcsrf-7f3a"
        ),
        "{url}"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn renew_access_token_posts_the_refresh_checksum() {
    let server = strict_server().await;
    let checksum = sha256_hex(&format!("{API_KEY}refreshTOK{API_SECRET}"));
    Mock::given(method("POST"))
        .and(path("/session/refresh_token"))
        .and(body_string(format!(
            "api_key={API_KEY}&refresh_token=refreshTOK&checksum={checksum}"
        )))
        .respond_with(json_fixture(200, "generate_session.json"))
        .expect(1)
        .mount(&server)
        .await;
    let broker = logged_in(&server);
    let session = broker
        .client()
        .renew_access_token(&"refreshTOK".into(), &API_SECRET.into())
        .await
        .unwrap();
    assert_eq!(session.access_token.expose_secret(), "fixtureACCESStoken");
}

#[tokio::test]
async fn logout_deletes_the_session_with_key_and_token_in_the_query_and_reports_its_end() {
    let server = strict_server().await;
    Mock::given(method("DELETE"))
        .and(path("/session/token"))
        .and(query_param("api_key", API_KEY))
        .and(query_param("access_token", ACCESS_TOKEN))
        .respond_with(json_fixture(200, "session_logout.json"))
        .expect(1)
        .mount(&server)
        .await;
    let recorded = Recorded::default();
    let options = options(&server.uri(), HttpClientConfig::default())
        .with_session_listener(recorded.listener());
    let broker = Zerodha::connect(&credentials(), Some(tokens()), &options).unwrap();
    broker.logout().await.unwrap();
    let after = broker.profile().await.unwrap_err();
    assert!(after.needs_login(), "{after}");
    assert_eq!(recorded.summary(), ["ended"]);
}

#[tokio::test]
async fn logging_out_of_a_session_kite_already_refuses_still_ends_it() {
    let server = strict_server().await;
    mount(
        &server,
        "DELETE",
        "/session/token",
        json_fixture(403, "error_token.json"),
        1,
    )
    .await;
    let recorded = Recorded::default();
    let options = options(&server.uri(), HttpClientConfig::default())
        .with_session_listener(recorded.listener());
    let broker = Zerodha::connect(&credentials(), Some(tokens()), &options).unwrap();
    broker.logout().await.unwrap();
    assert_eq!(recorded.summary(), ["ended"]);
    assert!(broker.session_tokens().await.is_none());
}

#[tokio::test]
async fn a_session_kite_refuses_is_dropped_and_reported_once() {
    let server = strict_server().await;
    mount(
        &server,
        "GET",
        "/orders",
        json_fixture(403, "error_token.json"),
        2,
    )
    .await;
    let recorded = Recorded::default();
    let options = options(&server.uri(), HttpClientConfig::default())
        .with_session_listener(recorded.listener());
    let broker = Zerodha::connect(&credentials(), Some(tokens()), &options).unwrap();
    let (first, second) = tokio::join!(broker.orders(), broker.orders());
    assert!(first.unwrap_err().needs_login());
    assert!(second.unwrap_err().needs_login());
    assert_eq!(recorded.summary(), ["ended"]);
    assert!(broker.session_tokens().await.is_none());
    assert!(
        broker.orders().await.unwrap_err().needs_login(),
        "refused locally"
    );
}

#[tokio::test]
async fn stored_sessions_are_resumed_unless_expired() {
    let server = strict_server().await;
    let expired = SessionTokens::new(
        ACCESS_TOKEN.into(),
        Utc::now() - chrono::Duration::seconds(1),
    )
    .unwrap();
    let options = options(&server.uri(), HttpClientConfig::default());
    let error = Zerodha::connect(&credentials(), Some(expired.clone()), &options).unwrap_err();
    assert!(
        matches!(error, broker_core::ConnectError::Session(ref inner) if inner.needs_login()),
        "{error:?}"
    );
    let broker = Zerodha::connect(&credentials(), None, &options).unwrap();
    assert!(broker.resume(expired).await.unwrap_err().needs_login());
    broker.resume(tokens()).await.unwrap();
    assert!(broker.session_tokens().await.is_some());
}

#[tokio::test]
async fn profile_and_funds_decode_into_domain_types() {
    let server = strict_server().await;
    expect(&server, "GET", "/user/profile", "profile.json").await;
    expect(
        &server,
        "GET",
        "/user/margins/equity",
        "margins_equity.json",
    )
    .await;
    expect(&server, "GET", "/user/margins", "margins.json").await;
    let broker = logged_in(&server);
    let profile = broker.profile().await.unwrap();
    assert_eq!(profile.user_id, "MI4821");
    assert_eq!(profile.exchanges.len(), 7, "MF is not an exchange");
    let funds = broker.funds().await.unwrap();
    assert_eq!(funds.net, dec!(150431.2));
    assert_eq!(funds.available_cash, dec!(162000.5));
    assert_eq!(funds.utilised, dec!(11569.3));
    let all = broker
        .client()
        .funds(&broker.authorization().unwrap())
        .await
        .unwrap();
    assert_eq!(all.commodity.unwrap().net, dec!(52010.75));
}

#[tokio::test]
async fn commodity_funds_use_their_segment_path() {
    let server = strict_server().await;
    expect(
        &server,
        "GET",
        "/user/margins/commodity",
        "margins_equity.json",
    )
    .await;
    let broker = logged_in(&server);
    let funds = broker
        .client()
        .segment_funds(&broker.authorization().unwrap(), MarginSegment::Commodity)
        .await
        .unwrap();
    assert!(funds.enabled);
}

#[tokio::test]
async fn place_order_sends_the_form_per_variety_with_protection_ttl_tag_and_algo_id() {
    let server = strict_server().await;
    Mock::given(method("POST"))
        .and(path("/orders/regular"))
        .and(header("x-kite-version", "3"))
        .and(header("authorization", AUTHORIZATION))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string(
            "exchange=NSE&tradingsymbol=SBIN&transaction_type=BUY&order_type=MARKET&quantity=10&product=MTF&validity=TTL&validity_ttl=3&market_protection=-1&tag=run42leg1&algo_id=ALGO7",
        ))
        .respond_with(json_fixture(200, "order_response.json"))
        .expect(1)
        .mount(&server)
        .await;
    let broker = logged_in(&server);
    let request = OrderRequest::builder()
        .instrument(InstrumentRef::new(Exchange::Nse, "SBIN"))
        .side(Side::Buy)
        .order_type(OrderType::Market)
        .product(Product::Mtf)
        .quantity(10)
        .validity(Validity::Ttl { minutes: 3 })
        .market_protection(MarketProtection::Automatic)
        .tag("run42leg1")
        .algo_id("ALGO7")
        .build()
        .unwrap();
    let placement = broker.place_order(&request).await.unwrap();
    assert_eq!(placement.order_id.as_str(), "261202000118734");
    assert_eq!(placement.broker_reference, None);
}

#[tokio::test]
async fn iceberg_orders_send_their_legs_and_leg_quantity_in_whole_lots() {
    let server = strict_server().await;
    Mock::given(method("POST"))
        .and(path("/orders/iceberg"))
        .and(body_string(
            "exchange=NFO&tradingsymbol=NIFTY26DECFUT&transaction_type=BUY&order_type=LIMIT&quantity=2325&product=NRML&validity=DAY&price=24000&iceberg_legs=2&iceberg_quantity=1200",
        ))
        .respond_with(json_fixture(200, "order_response.json"))
        .expect(1)
        .mount(&server)
        .await;
    let broker = logged_in(&server);
    let iceberg = OrderRequest::builder()
        .instrument(InstrumentRef::new(Exchange::Nfo, "NIFTY26DECFUT"))
        .side(Side::Buy)
        .order_type(OrderType::Limit)
        .product(Product::Carryforward)
        .quantity(31 * 75)
        .price(dec!(24000))
        .variety(Variety::Iceberg);
    let error = broker
        .place_order(&iceberg.clone().build().unwrap())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        BrokerError::Validation(ValidationError::MissingField {
            field: "iceberg legs"
        }),
        "Kite needs the legs: refused before sending"
    );
    let placement = broker
        .place_order(&iceberg.iceberg_legs(2).build().unwrap())
        .await
        .unwrap();
    assert_eq!(placement.order_id.as_str(), "261202000118734");
}

#[tokio::test]
async fn auction_orders_send_their_auction_number() {
    let server = strict_server().await;
    Mock::given(method("POST"))
        .and(path("/orders/auction"))
        .and(body_string(
            "exchange=NSE&tradingsymbol=SBIN&transaction_type=SELL&order_type=LIMIT&quantity=60&product=CNC&validity=DAY&price=800&auction_number=22",
        ))
        .respond_with(json_fixture(200, "order_response.json"))
        .expect(1)
        .mount(&server)
        .await;
    let broker = logged_in(&server);
    let auction = OrderRequest::builder()
        .instrument(InstrumentRef::new(Exchange::Nse, "SBIN"))
        .side(Side::Sell)
        .order_type(OrderType::Limit)
        .product(Product::Delivery)
        .quantity(60)
        .price(dec!(800))
        .variety(Variety::Auction);
    let error = broker
        .place_order(&auction.clone().build().unwrap())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        BrokerError::Validation(ValidationError::MissingField {
            field: "auction number"
        })
    );
    broker
        .place_order(&auction.auction_number("22").build().unwrap())
        .await
        .unwrap();
}

#[tokio::test]
async fn an_autoslice_answer_keeps_every_slice_including_a_refused_one() {
    let server = strict_server().await;
    let answer = r#"{"status":"success","data":{"order_id":"2611000000000001000",
        "children":[{"order_id":"2611000000000001001"},{"order_id":"2611000000000001002"},
        {"error":{"code":400,"error_type":"MarginException",
        "message":"Insufficient funds. Required margin is 228365.92 but available margin is 228358.50.",
        "data":null}},{"order_id":"2611000000000001004"}]}}"#;
    Mock::given(method("POST"))
        .and(path("/orders/regular"))
        .and(body_string(
            "exchange=NFO&tradingsymbol=NIFTY26DECFUT&transaction_type=BUY&order_type=LIMIT&quantity=7200&product=NRML&validity=DAY&price=24000&autoslice=true",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_raw(answer, "application/json"))
        .expect(1)
        .mount(&server)
        .await;
    let broker = logged_in(&server);
    let request = OrderRequest::builder()
        .instrument(InstrumentRef::new(Exchange::Nfo, "NIFTY26DECFUT"))
        .side(Side::Buy)
        .order_type(OrderType::Limit)
        .product(Product::Carryforward)
        .quantity(96 * 75)
        .price(dec!(24000))
        .build()
        .unwrap();
    let placed = broker.place_autoslice_order(&request).await.unwrap();
    assert_eq!(placed.order_id.as_str(), "2611000000000001000");
    assert_eq!(placed.slices.len(), 4);
    assert_eq!(
        placed.slices[1].as_ref().unwrap().as_str(),
        "2611000000000001002"
    );
    let refused = placed.slices[2].as_ref().unwrap_err();
    assert!(
        matches!(refused, BrokerError::OrderRejected { .. }),
        "{refused:?}"
    );
    assert!(
        refused.to_string().contains("Insufficient funds"),
        "{refused}"
    );
    assert_eq!(
        placed.slices[3].as_ref().unwrap().as_str(),
        "2611000000000001004"
    );
}

#[tokio::test]
async fn a_market_order_without_protection_never_leaves() {
    let server = strict_server().await;
    let broker = logged_in(&server);
    let request = OrderRequest::builder()
        .instrument(InstrumentRef::new(Exchange::Nse, "SBIN"))
        .side(Side::Sell)
        .order_type(OrderType::StopMarket)
        .trigger_price(dec!(790))
        .product(Product::Intraday)
        .quantity(1)
        .build()
        .unwrap();
    let error = broker.place_order(&request).await.unwrap_err();
    assert!(matches!(error, BrokerError::Validation(_)), "{error}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn orders_are_checked_against_the_instrument_master_before_they_leave() {
    let server = strict_server().await;
    let broker = logged_in(&server);
    let future = InstrumentRef::new(Exchange::Nfo, "NIFTY26DECFUT");
    let order = |instrument: InstrumentRef, quantity: u32, price| {
        OrderRequest::builder()
            .instrument(instrument)
            .side(Side::Buy)
            .order_type(OrderType::Limit)
            .product(Product::Carryforward)
            .quantity(quantity)
            .price(price)
            .build()
            .unwrap()
    };
    for (request, expected) in [
        (
            order(InstrumentRef::new(Exchange::Nse, "NOPE"), 1, dec!(10)),
            "unknown",
        ),
        (order(future.clone(), 10, dec!(24100)), "lot"),
        (order(future.clone(), 75, dec!(24100.05)), "tick"),
        (
            order(future.with_broker_token("779521"), 75, dec!(24100)),
            "unknown",
        ),
    ] {
        let error = broker.place_order(&request).await.unwrap_err();
        let matched = matches!(
            (&error, expected),
            (
                BrokerError::Validation(ValidationError::UnknownInstrument { .. }),
                "unknown"
            ) | (
                BrokerError::Validation(ValidationError::NotLotMultiple { .. }),
                "lot"
            ) | (
                BrokerError::Validation(ValidationError::NotTickMultiple { .. }),
                "tick"
            )
        );
        assert!(matched, "{expected}: {error:?}");
        assert_eq!(error.placement_outcome(), PlacementOutcome::NotPlaced);
    }
    assert!(server.received_requests().await.unwrap().is_empty());

    let empty = options(&server.uri(), HttpClientConfig::default())
        .with_instruments(SharedInstruments::default());
    let without_master = Zerodha::connect(&credentials(), Some(tokens()), &empty).unwrap();
    let error = without_master.place_order(&limit_buy()).await.unwrap_err();
    assert!(
        error.to_string().contains("instrument master"),
        "an unloaded master refuses every order clearly: {error}"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn modify_and_cancel_use_variety_and_order_id_paths() {
    let server = strict_server().await;
    Mock::given(method("PUT"))
        .and(path("/orders/regular/261202000118734"))
        .and(header("authorization", AUTHORIZATION))
        .and(body_string(
            "order_type=SL&quantity=5&price=800&trigger_price=799.5&validity=DAY",
        ))
        .respond_with(json_fixture(200, "order_modify.json"))
        .expect(1)
        .mount(&server)
        .await;
    expect(
        &server,
        "DELETE",
        "/orders/amo/261202000118734",
        "order_cancel.json",
    )
    .await;
    let broker = logged_in(&server);
    let id = OrderId::new("261202000118734");
    let change = OrderModification::builder(OrderType::StopLimit, 5)
        .price(dec!(800))
        .trigger_price(dec!(799.5))
        .build()
        .unwrap();
    assert_eq!(broker.modify_order(&id, &change).await.unwrap(), id);
    assert_eq!(broker.cancel_order(&id, Variety::Amo).await.unwrap(), id);
}

#[tokio::test]
async fn order_ids_that_would_leave_their_path_segment_are_refused_before_sending() {
    let server = strict_server().await;
    // Before ids were checked, this deleted the session: `DELETE /session/token`.
    Mock::given(method("DELETE"))
        .and(path("/session/token"))
        .respond_with(json_fixture(200, "session_logout.json"))
        .mount(&server)
        .await;
    let broker = logged_in(&server);
    for hostile in [
        "../../session/token",
        "1?api_key=x&access_token=y",
        "1#x",
        "1/trades",
        "",
    ] {
        let id = OrderId::new(hostile);
        let cancelled = broker
            .cancel_order(&id, Variety::Regular)
            .await
            .unwrap_err();
        assert!(
            matches!(
                cancelled,
                BrokerError::Validation(broker_core::ValidationError::MalformedOrderId { .. })
            ),
            "{hostile}: {cancelled:?}"
        );
        assert_eq!(cancelled.placement_outcome(), PlacementOutcome::NotPlaced);
        let change = OrderModification::builder(OrderType::Limit, 1)
            .price(dec!(1))
            .build()
            .unwrap();
        assert!(broker.modify_order(&id, &change).await.is_err());
        assert!(broker.order(&id).await.is_err());
        let session = broker.authorization().unwrap();
        assert!(broker.client().order_trades(&session, &id).await.is_err());
    }
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "nothing was sent for a malformed order id"
    );
}

#[tokio::test]
async fn orders_normalise_status_product_validity_and_tag() {
    let server = strict_server().await;
    expect(&server, "GET", "/orders", "orders.json").await;
    let orders = logged_in(&server).orders().await.unwrap();
    let statuses: Vec<_> = orders.iter().map(|order| order.status.clone()).collect();
    assert_eq!(
        statuses,
        vec![
            OrderStatus::Complete,
            OrderStatus::Open,
            OrderStatus::Rejected {
                reason: "RMS:Margin Exceeds, Required:5012.00, Available:120.40".into()
            },
            OrderStatus::TriggerPending,
            OrderStatus::Cancelled,
        ]
    );
    assert_eq!(orders[0].tag.as_deref(), Some("run42leg1"));
    assert_eq!(orders[0].average_price, Some(dec!(800.95)));
    assert_eq!(orders[1].validity, Validity::Ttl { minutes: 5 });
    assert_eq!(orders[1].product, Product::Carryforward);
    assert_eq!(orders[3].order_type, OrderType::StopMarket);
    assert_eq!(orders[3].product, Product::Mtf);
    assert_eq!(orders[3].price, None);
    assert_eq!(orders[4].variety, Variety::Amo);
    assert_eq!(
        orders[0].updated_at.unwrap().to_rfc3339(),
        "2026-12-02T09:16:05+05:30"
    );
}

#[tokio::test]
async fn orders_with_tag_finds_the_tag_in_any_case_and_in_kites_tags() {
    let server = strict_server().await;
    mount(
        &server,
        "GET",
        "/orders",
        json_fixture(200, "orders.json"),
        2,
    )
    .await;
    let broker = logged_in(&server);
    let found = broker
        .orders_with_tag(&"RUN42LEG1".parse::<OrderTag>().unwrap())
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].order_id.as_str(), "261202000118734");
    let none = broker
        .orders_with_tag(&"run42leg2".parse::<OrderTag>().unwrap())
        .await
        .unwrap();
    assert!(none.is_empty());
}

#[tokio::test]
async fn order_history_keeps_transitional_states_as_pending() {
    let server = strict_server().await;
    expect(
        &server,
        "GET",
        "/orders/261202000118734",
        "order_history.json",
    )
    .await;
    let history = logged_in(&server)
        .order(&"261202000118734".into())
        .await
        .unwrap();
    assert_eq!(history.current.status, OrderStatus::Complete);
    let earlier: Vec<_> = history
        .earlier
        .iter()
        .map(|order| order.status.clone())
        .collect();
    assert_eq!(
        earlier,
        vec![
            OrderStatus::Pending,
            OrderStatus::Pending,
            OrderStatus::Pending,
            OrderStatus::Open
        ]
    );
}

#[tokio::test]
async fn order_trades_and_trades_decode_fills() {
    let server = strict_server().await;
    expect(
        &server,
        "GET",
        "/orders/261202000118734/trades",
        "order_trades.json",
    )
    .await;
    expect(&server, "GET", "/trades", "trades.json").await;
    let broker = logged_in(&server);
    let fills = broker
        .client()
        .order_trades(&broker.authorization().unwrap(), &"261202000118734".into())
        .await
        .unwrap();
    assert_eq!(fills[0].quantity, 10);
    let trades = broker.trades().await.unwrap();
    assert_eq!(trades.len(), 2);
    assert_eq!(trades[1].instrument.exchange, Exchange::Mcx);
    assert_eq!(trades[1].side, Side::Sell);
    assert_eq!(trades[1].price, dec!(76230));
}

#[tokio::test]
async fn positions_and_holdings_decode_with_signed_quantities_t1_and_mtf_shares() {
    let server = strict_server().await;
    expect(&server, "GET", "/portfolio/positions", "positions.json").await;
    expect(&server, "GET", "/portfolio/holdings", "holdings.json").await;
    let broker = logged_in(&server);
    let positions = broker.positions().await.unwrap();
    assert_eq!(positions.len(), 3);
    assert_eq!(positions[1].quantity, -75);
    assert_eq!(positions[1].sell_value, dec!(1803787.5));
    assert_eq!(
        positions[2].product,
        Product::Intraday,
        "legacy CO is intraday"
    );
    let holdings = broker.holdings().await.unwrap();
    assert_eq!(holdings[0].quantity, 15, "12 settled plus 3 at T+1");
    assert_eq!(holdings[1].instrument.exchange, Exchange::Bse);
    assert_eq!(holdings[1].isin.as_deref(), Some("INE062A01020"));
    assert_eq!(holdings[2].quantity, 1001, "1 settled plus 1000 under MTF");
}

#[tokio::test]
async fn prices_keep_every_digit_kite_sent_instead_of_going_through_f64() {
    let server = strict_server().await;
    let position = r#"{"status":"success","data":{"net":[{"tradingsymbol":"SBIN","exchange":"NSE",
        "instrument_token":779521,"product":"CNC","quantity":1,"average_price":96426.32999999999,
        "pnl":-0.1000000000000000055511151231257827,"buy_value":"96426.32999999999",
        "sell_value":1e2,"last_price":null}],"day":[]}}"#;
    mount(
        &server,
        "GET",
        "/portfolio/positions",
        ResponseTemplate::new(200).set_body_raw(position, "application/json"),
        1,
    )
    .await;
    let broker = logged_in(&server);
    let positions = broker.positions().await.unwrap();
    assert_eq!(positions[0].average_price, dec!(96426.32999999999));
    assert_eq!(
        positions[0].buy_value,
        dec!(96426.32999999999),
        "from a string"
    );
    assert_eq!(positions[0].sell_value, dec!(100), "from an exponent");
    assert_eq!(
        positions[0].pnl,
        Some(dec!(-0.1000000000000000055511151231)),
        "rounded to Decimal's 28 places, not to f64's 17 digits"
    );
    assert_eq!(positions[0].last_price, None, "null reads as no price");
}

#[tokio::test]
async fn convert_position_puts_the_form() {
    let server = strict_server().await;
    Mock::given(method("PUT"))
        .and(path("/portfolio/positions"))
        .and(header("authorization", AUTHORIZATION))
        .and(body_string("exchange=NSE&tradingsymbol=SBIN&transaction_type=BUY&position_type=day&quantity=10&old_product=MIS&new_product=CNC"))
        .respond_with(json_fixture(200, "convert_position.json"))
        .expect(1)
        .mount(&server)
        .await;
    let broker = logged_in(&server);
    let converted = broker
        .client()
        .convert_position(&broker.authorization().unwrap(), &sbin_to_delivery(10))
        .await
        .unwrap();
    assert!(converted);
}

#[tokio::test]
async fn quotes_send_repeated_instrument_parameters() {
    let server = strict_server().await;
    for (route, fixture_name) in [
        ("/quote", "quote.json"),
        ("/quote/ohlc", "ohlc.json"),
        ("/quote/ltp", "ltp.json"),
    ] {
        Mock::given(method("GET"))
            .and(path(route))
            .and(header("authorization", AUTHORIZATION))
            .and(query_param("i", "NSE:INFY"))
            .and(query_param("i", "BSE:SBIN"))
            .respond_with(json_fixture(200, fixture_name))
            .expect(1)
            .mount(&server)
            .await;
    }
    let broker = logged_in(&server);
    let wanted = [
        InstrumentRef::new(Exchange::Nse, "INFY"),
        InstrumentRef::new(Exchange::Bse, "SBIN"),
    ];
    let quotes = broker.quotes(&wanted).await.unwrap();
    assert_eq!(quotes.len(), 1, "unknown instruments are left out");
    assert_eq!(quotes[0].last_price, dec!(1412.95));
    assert_eq!(quotes[0].ohlc.unwrap().close, dec!(1389.65));
    assert_eq!(quotes[0].volume, Some(7360198));
    assert_eq!(quotes[0].instrument.broker_token.as_deref(), Some("408065"));
    let keys = vec!["NSE:INFY".to_owned(), "BSE:SBIN".to_owned()];
    let ohlc = broker
        .client()
        .ohlc(&broker.authorization().unwrap(), &keys)
        .await
        .unwrap();
    assert_eq!(ohlc["NSE:INFY"].ohlc.high, dec!(1421.75));
    let prices = broker.last_prices(&wanted).await.unwrap();
    assert_eq!(prices.len(), 2);
    assert_eq!(prices[1].last_price, dec!(762.45));
}

#[tokio::test]
async fn the_instruments_csv_fills_the_shared_index_with_both_tokens() {
    let server = strict_server().await;
    Mock::given(method("GET"))
        .and(path("/instruments"))
        .and(header("authorization", AUTHORIZATION))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(fixture("instruments.csv"), "text/csv"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let broker = logged_in(&server);
    let other_session = Zerodha::connect(
        &credentials(),
        Some(tokens()),
        &options(&server.uri(), HttpClientConfig::default())
            .with_instruments(broker.instruments().clone()),
    )
    .unwrap();
    assert_eq!(broker.refresh_instruments().await.unwrap(), 7);
    let index = other_session.instruments().current();
    let option = index.by_symbol(Exchange::Nfo, "NIFTY26DEC24000CE").unwrap();
    assert_eq!(option.kind, InstrumentKind::CallOption);
    assert_eq!(option.strike, Some(dec!(24000.0)));
    assert_eq!(option.lot_size, 75);
    assert_eq!(option.expiry.unwrap().to_string(), "2026-12-29");
    assert_eq!(
        (option.broker_token.as_str(), option.exchange_token.as_str()),
        ("12073986", "47164")
    );
    let nifty = index.by_broker_token(Exchange::Nse, "256265").unwrap();
    assert_eq!(nifty.kind, InstrumentKind::Index);
}

#[tokio::test]
async fn an_unmatched_request_fails_loudly() {
    let server = strict_server().await;
    let error = logged_in(&server).holdings().await.unwrap_err();
    assert!(error.to_string().contains("599"), "{error}");
}

#[tokio::test]
async fn quote_calls_are_spaced_by_kites_one_per_second_quota() {
    let server = strict_server().await;
    mount(
        &server,
        "GET",
        "/quote/ltp",
        json_fixture(200, "ltp.json"),
        2,
    )
    .await;
    let options = broker_core::ConnectOptions::new(
        HttpClientConfig::default()
            .allow_plain_http()
            .build()
            .unwrap(),
    )
    .with_api_url(server.uri());
    let broker = Zerodha::connect(&credentials(), Some(tokens()), &options).unwrap();
    let wanted = [InstrumentRef::new(Exchange::Nse, "INFY")];
    let started = std::time::Instant::now();
    broker.last_prices(&wanted).await.unwrap();
    broker.last_prices(&wanted).await.unwrap();
    // The second call waited for the quota instead of being refused by Kite.
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
}

// --- hardening ------------------------------------------------------------------------------

/// A server that records whether anything reached it.
async fn thief() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(json_fixture(200, "generate_session.json"))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn a_redirect_to_another_origin_delivers_neither_the_token_exchange_nor_the_authorization() {
    let thief = thief().await;
    let server = strict_server().await;
    Mock::given(method("POST"))
        .and(path("/session/token"))
        .respond_with(
            ResponseTemplate::new(307).insert_header("location", format!("{}/steal", thief.uri())),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/user/profile"))
        .respond_with(
            ResponseTemplate::new(307).insert_header("location", format!("{}/steal", thief.uri())),
        )
        .expect(1)
        .mount(&server)
        .await;
    let broker = logged_in(&server);
    let exchange = broker.complete_login(&"reqTOKEN9".into()).await;
    assert!(exchange.is_err(), "a redirect is not a session");
    let profile = broker.profile().await;
    assert!(profile.is_err(), "a redirect is not a profile");
    assert!(
        thief.received_requests().await.unwrap().is_empty(),
        "the redirect target received the form or the Authorization header"
    );
}

#[tokio::test]
async fn an_answer_over_the_size_limit_is_refused() {
    let server = strict_server().await;
    let huge = "x".repeat(MAX_API_ANSWER_BYTES + 1);
    mount(
        &server,
        "GET",
        "/orders",
        ResponseTemplate::new(200).set_body_raw(huge.clone(), "application/json"),
        1,
    )
    .await;
    mount(
        &server,
        "POST",
        "/orders/regular",
        ResponseTemplate::new(200).set_body_raw(huge, "application/json"),
        1,
    )
    .await;
    let broker = logged_in(&server);
    let read = broker.orders().await.unwrap_err();
    assert!(
        matches!(&read, BrokerError::Decode { message } if message.contains("limit")),
        "{read:?}"
    );
    let placed = broker.place_order(&limit_buy()).await.unwrap_err();
    assert_eq!(placed.placement_outcome(), PlacementOutcome::Unknown);
}

#[tokio::test]
async fn the_instrument_master_may_exceed_the_answer_limit_but_not_its_own() {
    let server = strict_server().await;
    let header_row = "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,instrument_type,segment,exchange\n";
    let row = "779521,3045,SBIN,STATE BANK OF INDIA,0.0,,0.0,0.05,1,EQ,NSE,NSE\n";
    let mut csv = String::from(header_row);
    while csv.len() <= MAX_API_ANSWER_BYTES {
        csv.push_str(row);
    }
    mount(
        &server,
        "GET",
        "/instruments",
        ResponseTemplate::new(200).set_body_raw(csv, "text/csv"),
        1,
    )
    .await;
    let broker = logged_in(&server);
    assert_eq!(broker.refresh_instruments().await.unwrap(), 1);

    // A server announcing a master over its own limit is refused before the body is read.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let announced = MAX_INSTRUMENT_MASTER_BYTES + 1;
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buffer = [0u8; 4096];
        let _ = socket.read(&mut buffer).await;
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/csv\r\ncontent-length: {announced}\r\n\r\n"
        );
        let _ = socket.write_all(head.as_bytes()).await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    });
    let options = broker_core::ConnectOptions::new(
        HttpClientConfig::default()
            .allow_plain_http()
            .build()
            .unwrap(),
    )
    .with_api_url(format!("http://{address}"));
    let big = Zerodha::connect(&credentials(), Some(tokens()), &options).unwrap();
    let started = std::time::Instant::now();
    let error = big.refresh_instruments().await.unwrap_err();
    assert!(
        matches!(&error, BrokerError::Decode { message } if message.contains("limit")),
        "{error:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "refused at once"
    );
}

// --- Kite's error shapes --------------------------------------------------------------------

async fn place_against(answer: ResponseTemplate) -> (BrokerError, MockServer) {
    let server = strict_server().await;
    mount(&server, "POST", "/orders/regular", answer, 1).await;
    let error = logged_in(&server)
        .place_order(&limit_buy())
        .await
        .unwrap_err();
    (error, server)
}

async fn read_against(answer: ResponseTemplate) -> BrokerError {
    let server = strict_server().await;
    mount(&server, "GET", "/user/profile", answer, 1).await;
    logged_in(&server).profile().await.unwrap_err()
}

#[tokio::test]
async fn token_exception_is_session_expired_with_the_status_kept() {
    let error = read_against(json_fixture(403, "error_token.json")).await;
    assert!(
        matches!(&error, BrokerError::SessionExpired { message } if message.contains("HTTP 403") && message.contains("TokenException")),
        "{error:?}"
    );
}

#[tokio::test]
async fn ip_refusal_names_the_ip_from_the_message_without_a_binding() {
    let (error, _server) = place_against(json_fixture(403, "error_ip_not_allowed.json")).await;
    assert_eq!(
        error,
        BrokerError::IpNotWhitelisted {
            ip: Some("203.0.113.9".parse().unwrap()),
            message: "IP (203.0.113.9) is not allowed to place orders for this app. Update allowed IPs on the Kite developer console. (PermissionException, HTTP 403)".into(),
        }
    );
}

#[tokio::test]
async fn ip_refusal_names_the_public_egress_address_and_spells_out_a_nat_mismatch() {
    let server = strict_server().await;
    mount(
        &server,
        "POST",
        "/orders/regular",
        json_fixture(403, "error_ip_not_allowed.json"),
        1,
    )
    .await;
    let public: IpAddr = "198.51.100.4".parse().unwrap();
    let egress = EgressBinding::translated("127.0.0.1".parse().unwrap(), public);
    let broker = logged_in_with(&server, HttpClientConfig::bound_to(egress));
    assert_eq!(broker.client().egress_ip(), Some(public));
    let error = broker.place_order(&limit_buy()).await.unwrap_err();
    assert!(
        matches!(error, BrokerError::IpNotWhitelisted { ip: Some(ip), .. } if ip == public),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(
        text.contains("Kite saw 203.0.113.9") && text.contains("198.51.100.4"),
        "{text}"
    );
}

#[tokio::test]
async fn too_many_requests_is_rate_limited_with_retry_after() {
    let (error, _server) = place_against(
        json_fixture(429, "error_too_many_requests.json").insert_header("retry-after", "2"),
    )
    .await;
    assert_eq!(
        error.retry_after(),
        Some(Duration::from_secs(2)),
        "{error:?}"
    );
    assert!(error.is_retryable());
}

#[tokio::test]
async fn order_input_and_margin_exceptions_are_rejections() {
    for (status, fixture_name, code) in [
        (500, "error_order.json", "OrderException"),
        (400, "error_input.json", "InputException"),
        (400, "error_margin.json", "MarginException"),
    ] {
        let (error, _server) = place_against(json_fixture(status, fixture_name)).await;
        assert!(
            matches!(&error, BrokerError::OrderRejected { code: Some(c), message } if c == code && message.contains(&format!("HTTP {status}"))),
            "{fixture_name}: {error:?}"
        );
    }
}

#[tokio::test]
async fn unknown_error_types_keep_type_message_and_status() {
    let error = read_against(json_fixture(409, "error_unknown_type.json")).await;
    assert_eq!(
        error,
        BrokerError::Broker {
            code: Some("FancyNewException".into()),
            message: "A brand new failure.".into(),
            status: Some(409),
        }
    );
}

#[tokio::test]
async fn cancelling_an_unknown_order_is_order_not_found() {
    let server = strict_server().await;
    Mock::given(method("DELETE"))
        .and(path("/orders/regular/999"))
        .respond_with(kite_error(
            400,
            "InputException",
            "Couldn't find that `order_id`.",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let error = logged_in(&server)
        .cancel_order(&"999".into(), Variety::Regular)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        BrokerError::OrderNotFound {
            order_id: "999".into()
        }
    );
}

#[tokio::test]
async fn an_expired_local_session_fails_before_sending() {
    let server = strict_server().await;
    let clock = broker_core::ManualClock::new(Utc::now());
    let options = options(&server.uri(), HttpClientConfig::default())
        .with_clock(std::sync::Arc::new(clock.clone()));
    let broker = Zerodha::connect(&credentials(), Some(tokens()), &options).unwrap();
    clock.advance(chrono::Duration::hours(7));
    let error = broker.place_order(&limit_buy()).await.unwrap_err();
    assert!(error.needs_login(), "{error:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_error_envelope_with_http_200_is_still_an_error() {
    let (placed, _server) =
        place_against(kite_error(200, "OrderException", "Order rejected by RMS")).await;
    assert!(
        matches!(placed, BrokerError::OrderRejected { .. }),
        "{placed:?}"
    );
    let read = read_against(kite_error(
        200,
        "TokenException",
        "Incorrect `api_key` or `access_token`.",
    ))
    .await;
    assert!(read.needs_login(), "{read:?}");
}

#[tokio::test]
async fn every_kite_error_type_maps_for_reads_and_for_orders() {
    type Check = fn(&BrokerError) -> bool;
    let table: [(u16, &str, Check, Check); 10] = [
        (
            403,
            "TokenException",
            |e| e.needs_login(),
            |e| e.needs_login(),
        ),
        (
            403,
            "PermissionException",
            |e| matches!(e, BrokerError::Broker { code: Some(c), status: Some(403), .. } if c == "PermissionException"),
            |e| matches!(e, BrokerError::OrderRejected { code: Some(c), .. } if c == "PermissionException"),
        ),
        (
            403,
            "UserException",
            |e| matches!(e, BrokerError::Broker { code: Some(c), .. } if c == "UserException"),
            |e| matches!(e, BrokerError::OrderRejected { code: Some(c), .. } if c == "UserException"),
        ),
        (
            403,
            "TwoFAException",
            |e| matches!(e, BrokerError::Broker { code: Some(c), .. } if c == "TwoFAException"),
            |e| matches!(e, BrokerError::OrderRejected { code: Some(c), .. } if c == "TwoFAException"),
        ),
        (
            500,
            "OrderException",
            |e| {
                matches!(
                    e,
                    BrokerError::Broker {
                        status: Some(500),
                        ..
                    }
                )
            },
            |e| matches!(e, BrokerError::OrderRejected { .. }),
        ),
        (
            400,
            "InputException",
            |e| {
                matches!(
                    e,
                    BrokerError::Broker {
                        status: Some(400),
                        ..
                    }
                )
            },
            |e| matches!(e, BrokerError::OrderRejected { .. }),
        ),
        (
            400,
            "HoldingException",
            |e| matches!(e, BrokerError::Broker { .. }),
            |e| matches!(e, BrokerError::OrderRejected { .. }),
        ),
        (
            502,
            "DataException",
            |e| {
                matches!(
                    e,
                    BrokerError::Connectivity {
                        kind: ConnectivityKind::BrokerInternal { status: 502 },
                        ..
                    }
                )
            },
            |e| matches!(e, BrokerError::OrderOutcomeUnknown { .. }),
        ),
        (
            503,
            "NetworkException",
            |e| e.is_retryable(),
            |e| matches!(e, BrokerError::OrderOutcomeUnknown { .. }),
        ),
        (
            500,
            "GeneralException",
            |e| e.is_retryable(),
            |e| matches!(e, BrokerError::OrderOutcomeUnknown { .. }),
        ),
    ];
    for (status, error_type, read_check, order_check) in table {
        let read = read_against(kite_error(status, error_type, "something happened")).await;
        assert!(read_check(&read), "read {error_type}: {read:?}");
        let (placed, _server) =
            place_against(kite_error(status, error_type, "something happened")).await;
        assert!(order_check(&placed), "order {error_type}: {placed:?}");
        assert!(
            !placed.is_retryable(),
            "order {error_type} must not be retried: {placed:?}"
        );
    }
}

#[test]
fn a_broker_is_bound_to_its_egress_address_or_not_built() {
    let local = HttpClientConfig::bound_to(EgressBinding::direct("127.0.0.2".parse().unwrap()));
    let http = local.build().unwrap();
    let options = broker_core::ConnectOptions::new(http);
    let broker = Zerodha::connect(&credentials(), Some(tokens()), &options).unwrap();
    assert_eq!(
        broker.client().egress_ip(),
        Some("127.0.0.2".parse().unwrap())
    );
    let foreign = HttpClientConfig::bound_to(EgressBinding::direct("192.0.2.1".parse().unwrap()));
    assert!(foreign.build().is_err());
    let plain = broker_core::ConnectOptions::new(HttpClientConfig::default().build().unwrap())
        .with_api_url("http://127.0.0.1:9");
    assert!(matches!(
        Zerodha::connect(&credentials(), None, &plain),
        Err(broker_core::ConnectError::BadUrl(_))
    ));
    let printed = format!("{broker:?}");
    assert!(
        !printed.contains(API_KEY)
            && !printed.contains(API_SECRET)
            && !printed.contains(ACCESS_TOKEN),
        "{printed}"
    );
}
