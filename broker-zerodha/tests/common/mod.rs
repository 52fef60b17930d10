//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod sim;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use broker_core::{
    ConnectOptions, Exchange, HttpClientConfig, Instrument, InstrumentIndex, InstrumentKind,
    InstrumentRef, OrderRequest, OrderType, Product, RateLimiter, SessionChange, SessionTokens,
    SharedInstruments, SharedSessionListener, Side, ZerodhaCredentials,
};
use broker_zerodha::Zerodha;
use broker_zerodha::models::ConvertPositionBody;
use chrono::{Duration, Utc};
use rust_decimal::Decimal;
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const API_KEY: &str = "fixturekey";
pub const ACCESS_TOKEN: &str = "fixturetoken";
pub const API_SECRET: &str = "fixtureSECRET";
pub const AUTHORIZATION: &str = "token fixturekey:fixturetoken";

/// A file from `test_data/`.
pub fn fixture(name: &str) -> String {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "test_data", name]
        .iter()
        .collect();
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// A JSON answer with a fixture as its body.
pub fn json_fixture(status: u16, name: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(fixture(name), "application/json")
}

/// Kite's error envelope with this HTTP status.
pub fn kite_error(status: u16, error_type: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(
        format!(
            r#"{{"status":"error","message":"{message}","error_type":"{error_type}","data":null}}"#
        ),
        "application/json",
    )
}

/// Answers `times` requests of `http_method` to `route` with `answer`.
pub async fn mount(
    server: &MockServer,
    http_method: &str,
    route: &str,
    answer: ResponseTemplate,
    times: u64,
) {
    Mock::given(method(http_method))
        .and(path(route))
        .respond_with(answer)
        .expect(times)
        .mount(server)
        .await;
}

/// A limit buy of one NSE:SBIN at 800 for delivery.
pub fn limit_buy() -> OrderRequest {
    OrderRequest::builder()
        .instrument(InstrumentRef::new(Exchange::Nse, "SBIN"))
        .side(Side::Buy)
        .order_type(OrderType::Limit)
        .product(Product::Delivery)
        .quantity(1)
        .price(Decimal::new(800, 0))
        .build()
        .unwrap()
}

/// Converts `quantity` of the day's NSE:SBIN intraday position to delivery.
pub fn sbin_to_delivery(quantity: u32) -> ConvertPositionBody {
    ConvertPositionBody {
        exchange: "NSE".into(),
        tradingsymbol: "SBIN".into(),
        transaction_type: "BUY".into(),
        position_type: "day".into(),
        quantity,
        old_product: "MIS".into(),
        new_product: "CNC".into(),
    }
}

/// A mock server whose catch-all (mounted with the lowest priority) answers every request no
/// other mock matched with a 599 naming it, so the client under test fails loudly.
pub async fn strict_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(|request: &wiremock::Request| {
            ResponseTemplate::new(599).set_body_string(format!(
                "no mock matched {} {}",
                request.method, request.url
            ))
        })
        .with_priority(u8::MAX)
        .mount(&server)
        .await;
    server
}

fn instrument(
    exchange: Exchange,
    symbol: &str,
    token: &str,
    lot_size: u32,
    tick: Decimal,
) -> Instrument {
    Instrument {
        exchange,
        trading_symbol: symbol.into(),
        broker_token: token.into(),
        exchange_token: token.into(),
        name: symbol.into(),
        kind: InstrumentKind::Equity,
        lot_size,
        tick_size: tick,
        expiry: None,
        strike: None,
    }
}

/// The instruments the tests order: NSE SBIN and INFY, BSE SBIN (tick 0.05, lot 1) and the
/// NIFTY December future (tick 0.1, lot 75).
pub fn instruments() -> SharedInstruments {
    let index: InstrumentIndex = [
        instrument(Exchange::Nse, "SBIN", "779521", 1, Decimal::new(5, 2)),
        instrument(Exchange::Nse, "INFY", "408065", 1, Decimal::new(5, 2)),
        instrument(Exchange::Bse, "SBIN", "128028676", 1, Decimal::new(5, 2)),
        instrument(
            Exchange::Nfo,
            "NIFTY26DECFUT",
            "13238786",
            75,
            Decimal::new(1, 1),
        ),
    ]
    .into_iter()
    .collect();
    SharedInstruments::new(index)
}

/// The app's credentials.
pub fn credentials() -> ZerodhaCredentials {
    ZerodhaCredentials::new(API_KEY.into(), API_SECRET.into()).unwrap()
}

/// Options for the API at `url`: plain http allowed, no rate limits, the test instruments.
pub fn options(url: &str, config: HttpClientConfig) -> ConnectOptions {
    ConnectOptions::new(config.allow_plain_http().build().unwrap())
        .with_api_url(url)
        .with_rate_limiter(Arc::new(RateLimiter::new(Vec::new())))
        .with_instruments(instruments())
}

/// A session with [`ACCESS_TOKEN`], valid for six hours.
pub fn tokens() -> SessionTokens {
    SessionTokens::new(ACCESS_TOKEN.into(), Utc::now() + Duration::hours(6)).unwrap()
}

/// A broker for the mock server, logged in with [`ACCESS_TOKEN`], without rate limits.
pub fn logged_in(server: &MockServer) -> Zerodha {
    logged_in_with(server, HttpClientConfig::default())
}

/// [`logged_in`] built with this HTTP configuration (egress binding, timeouts).
pub fn logged_in_with(server: &MockServer, config: HttpClientConfig) -> Zerodha {
    Zerodha::connect(
        &credentials(),
        Some(tokens()),
        &options(&server.uri(), config),
    )
    .unwrap()
}

/// A session listener that records what it hears.
#[derive(Clone, Default)]
pub struct Recorded(Arc<Mutex<Vec<SessionChange>>>);

impl Recorded {
    pub fn listener(&self) -> SharedSessionListener {
        let changes = Arc::clone(&self.0);
        Arc::new(move |change| changes.lock().unwrap().push(change))
    }

    /// `started` for each Started (with its access token), `ended` for each Ended.
    pub fn summary(&self) -> Vec<String> {
        use secrecy::ExposeSecret;
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|change| match change {
                SessionChange::Started(tokens) => {
                    format!("started {}", tokens.access_token().expose_secret())
                }
                SessionChange::Ended => "ended".to_owned(),
                _ => "other".to_owned(),
            })
            .collect()
    }
}
