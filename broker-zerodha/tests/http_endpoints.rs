//! Every Kite endpoint against a strict mock server: method, path, headers and body are
//! checked, and the answers are fixtures written from kiteconnect-mocks' real samples, so
//! each test also proves the endpoint decodes Kite's real shapes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on purpose

mod common;

use broker_core::{
    Broker, Exchange, InstrumentKind, InstrumentRef, MarketProtection, OrderModification,
    OrderRequest, OrderStatus, OrderType, Product, Side, Validity, Variety,
};
use broker_zerodha::Zerodha;
use broker_zerodha::http::MarginSegment;
use broker_zerodha::http::models::ConvertPositionParams;
use common::*;
use rust_decimal_macros::dec;
use secrecy::ExposeSecret;
use wiremock::matchers::{body_string, header, method, path, query_param};
use wiremock::{Mock, MockServer};

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

#[tokio::test]
async fn generate_session_posts_the_checksum_form_and_uses_the_new_token() {
    let server = strict_server().await;
    let checksum = broker_zerodha::auth::checksum(&[API_KEY, "reqTOKEN1", API_SECRET]);
    Mock::given(method("POST"))
        .and(path("/session/token"))
        .and(header("x-kite-version", "3"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string(format!(
            "api_key={API_KEY}&request_token=reqTOKEN1&checksum={checksum}"
        )))
        .respond_with(json_fixture(200, "generate_session.json"))
        .expect(1)
        .mount(&server)
        .await;
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
    let client = broker_zerodha::KiteHttpClient::builder(API_KEY)
        .base_url(server.uri())
        .without_rate_limits()
        .build()
        .unwrap();
    let session = client
        .generate_session(&"reqTOKEN1".into(), &API_SECRET.into())
        .await
        .unwrap();
    assert_eq!(session.profile.user_id, "MI4821");
    assert_eq!(session.access_token.expose_secret(), "fixtureACCESStoken");
    assert!(
        session
            .refresh_token
            .as_ref()
            .is_some_and(|token| token.expose_secret().is_empty())
    );
    let tokens = broker_zerodha::auth::session_tokens(&session, chrono::Utc::now()).unwrap();
    assert!(
        tokens.refresh_token().is_none(),
        "Kite's empty refresh token is dropped"
    );
    assert_eq!(
        tokens.expires_at(),
        "2026-12-03T00:30:00Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap(),
        "06:00 IST after a 09:05 IST login"
    );
    assert_eq!(client.profile().await.unwrap().user_id, "MI4821");
}

#[tokio::test]
async fn renew_access_token_posts_the_refresh_checksum() {
    let server = strict_server().await;
    let checksum = broker_zerodha::auth::checksum(&[API_KEY, "refreshTOK", API_SECRET]);
    Mock::given(method("POST"))
        .and(path("/session/refresh_token"))
        .and(body_string(format!(
            "api_key={API_KEY}&refresh_token=refreshTOK&checksum={checksum}"
        )))
        .respond_with(json_fixture(200, "generate_session.json"))
        .expect(1)
        .mount(&server)
        .await;
    let client = logged_in_client(&server);
    let session = client
        .renew_access_token(&"refreshTOK".into(), &API_SECRET.into())
        .await
        .unwrap();
    assert_eq!(session.access_token.expose_secret(), "fixtureACCESStoken");
}

#[tokio::test]
async fn logout_deletes_the_session_with_key_and_token_in_the_query() {
    let server = strict_server().await;
    Mock::given(method("DELETE"))
        .and(path("/session/token"))
        .and(query_param("api_key", API_KEY))
        .and(query_param("access_token", ACCESS_TOKEN))
        .respond_with(json_fixture(200, "session_logout.json"))
        .expect(1)
        .mount(&server)
        .await;
    let broker = Zerodha::new(logged_in_client(&server));
    broker.logout().await.unwrap();
    let after = broker.profile().await.unwrap_err();
    assert!(after.needs_login(), "{after}");
}

#[tokio::test]
async fn profile_and_margins_decode_into_domain_types() {
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
    let broker = Zerodha::new(logged_in_client(&server));
    let profile = broker.profile().await.unwrap();
    assert_eq!(profile.user_id, "MI4821");
    assert_eq!(profile.exchanges.len(), 7, "MF is not an exchange");
    let funds = broker.funds().await.unwrap();
    assert_eq!(funds.net, dec!(150431.2));
    assert_eq!(funds.available_cash, dec!(162000.5));
    assert_eq!(funds.utilised, dec!(11569.3));
    let all = broker.client().margins().await.unwrap();
    assert_eq!(all.commodity.unwrap().net, dec!(52010.75));
}

#[tokio::test]
async fn commodity_margins_use_their_segment_path() {
    let server = strict_server().await;
    expect(
        &server,
        "GET",
        "/user/margins/commodity",
        "margins_equity.json",
    )
    .await;
    let client = logged_in_client(&server);
    let margins = client
        .segment_margins(MarginSegment::Commodity)
        .await
        .unwrap();
    assert!(margins.enabled);
}

#[tokio::test]
async fn place_order_sends_the_form_per_variety_with_protection_ttl_tag_and_algo_id() {
    let server = strict_server().await;
    Mock::given(method("POST"))
        .and(path("/orders/iceberg"))
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
    let broker = Zerodha::new(logged_in_client(&server));
    let request = OrderRequest::builder()
        .instrument(InstrumentRef::new(Exchange::Nse, "SBIN"))
        .side(Side::Buy)
        .order_type(OrderType::Market)
        .product(Product::Mtf)
        .quantity(10)
        .validity(Validity::Ttl { minutes: 3 })
        .variety(Variety::Iceberg)
        .market_protection(MarketProtection::Automatic)
        .tag("run42leg1")
        .algo_id("ALGO7")
        .build()
        .unwrap();
    let order_id = broker.place_order(&request).await.unwrap();
    assert_eq!(order_id.as_str(), "261202000118734");
}

#[tokio::test]
async fn a_market_order_without_protection_never_leaves() {
    let server = strict_server().await;
    let broker = Zerodha::new(logged_in_client(&server));
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
    assert!(
        matches!(error, broker_core::BrokerError::Validation(_)),
        "{error}"
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
    let broker = Zerodha::new(logged_in_client(&server));
    let id = broker_core::OrderId::new("261202000118734");
    let change = OrderModification::builder(OrderType::StopLimit, 5)
        .price(dec!(800))
        .trigger_price(dec!(799.5))
        .build()
        .unwrap();
    assert_eq!(broker.modify_order(&id, &change).await.unwrap(), id);
    assert_eq!(broker.cancel_order(&id, Variety::Amo).await.unwrap(), id);
}

#[tokio::test]
async fn orders_normalise_status_product_validity_and_tag() {
    let server = strict_server().await;
    expect(&server, "GET", "/orders", "orders.json").await;
    let orders = Zerodha::new(logged_in_client(&server))
        .orders()
        .await
        .unwrap();
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
async fn order_history_keeps_transitional_states_as_pending() {
    let server = strict_server().await;
    expect(
        &server,
        "GET",
        "/orders/261202000118734",
        "order_history.json",
    )
    .await;
    let history = Zerodha::new(logged_in_client(&server))
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
    let broker = Zerodha::new(logged_in_client(&server));
    let fills = broker
        .client()
        .order_trades(&"261202000118734".into())
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
async fn positions_and_holdings_decode_with_signed_quantities() {
    let server = strict_server().await;
    expect(&server, "GET", "/portfolio/positions", "positions.json").await;
    expect(&server, "GET", "/portfolio/holdings", "holdings.json").await;
    let broker = Zerodha::new(logged_in_client(&server));
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
    assert_eq!(holdings[0].quantity, 15, "settled plus T1");
    assert_eq!(holdings[1].instrument.exchange, Exchange::Bse);
    assert_eq!(holdings[1].isin.as_deref(), Some("INE062A01020"));
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
    let converted = logged_in_client(&server)
        .convert_position(&ConvertPositionParams {
            exchange: "NSE".into(),
            tradingsymbol: "SBIN".into(),
            transaction_type: "BUY".into(),
            position_type: "day".into(),
            quantity: 10,
            old_product: "MIS".into(),
            new_product: "CNC".into(),
        })
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
    let broker = Zerodha::new(logged_in_client(&server));
    let wanted = [
        InstrumentRef::new(Exchange::Nse, "INFY"),
        InstrumentRef::new(Exchange::Bse, "SBIN"),
    ];
    let quotes = broker.quotes(&wanted).await.unwrap();
    assert_eq!(quotes.len(), 1, "unknown instruments are left out");
    assert_eq!(quotes[0].last_price, dec!(1412.95));
    assert_eq!(quotes[0].ohlc.unwrap().close, dec!(1389.65));
    assert_eq!(quotes[0].volume, Some(7360198));
    assert_eq!(quotes[0].instrument.token.as_deref(), Some("408065"));
    let keys = vec!["NSE:INFY".to_owned(), "BSE:SBIN".to_owned()];
    let ohlc = broker.client().ohlc(&keys).await.unwrap();
    assert_eq!(ohlc["NSE:INFY"].ohlc.high, dec!(1421.75));
    let prices = broker.last_prices(&wanted).await.unwrap();
    assert_eq!(prices.len(), 2);
    assert_eq!(prices[1].last_price, dec!(762.45));
}

#[tokio::test]
async fn instruments_csv_fills_the_shared_index() {
    let server = strict_server().await;
    Mock::given(method("GET"))
        .and(path("/instruments"))
        .and(header("authorization", AUTHORIZATION))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .set_body_raw(fixture("instruments.csv"), "text/csv"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let master = logged_in_client(&server).instruments().await.unwrap();
    assert_eq!((master.index.len(), master.skipped), (7, 1));
    let option = master
        .index
        .by_symbol(Exchange::Nfo, "NIFTY26DEC24000CE")
        .unwrap();
    assert_eq!(option.kind, InstrumentKind::CallOption);
    assert_eq!(option.strike, Some(dec!(24000.0)));
    assert_eq!(option.lot_size, 75);
    assert_eq!(option.expiry.unwrap().to_string(), "2026-12-29");
    let index = master.index.by_token(Exchange::Nse, "256265").unwrap();
    assert_eq!(index.kind, InstrumentKind::Index);
}

#[tokio::test]
async fn an_unmatched_request_fails_loudly() {
    let server = strict_server().await;
    let error = logged_in_client(&server).holdings().await.unwrap_err();
    assert!(error.to_string().contains("599"), "{error}");
}

#[tokio::test]
async fn quote_calls_are_spaced_by_kites_one_per_second_quota() {
    let server = strict_server().await;
    Mock::given(method("GET"))
        .and(path("/quote/ltp"))
        .respond_with(json_fixture(200, "ltp.json"))
        .expect(2)
        .mount(&server)
        .await;
    let client = broker_zerodha::KiteHttpClient::builder(API_KEY)
        .base_url(server.uri())
        .build()
        .unwrap();
    let tokens = broker_core::SessionTokens::new(
        ACCESS_TOKEN.into(),
        chrono::Utc::now() + chrono::Duration::hours(1),
    )
    .unwrap();
    client.set_session(&tokens).unwrap();
    let keys = vec!["NSE:INFY".to_owned()];
    let started = std::time::Instant::now();
    client.ltp(&keys).await.unwrap();
    client.ltp(&keys).await.unwrap();
    // The second call waited for the quota instead of being refused by Kite.
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
}
