//! A whole session logged at TRACE level leaks no API key, secret or token.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on purpose

use std::io::Write;
use std::sync::{Arc, Mutex};

use broker_core::{
    Broker, BrokerSession, ConnectOptions, Exchange, HttpClientConfig, InstrumentRef, OrderRequest,
    OrderType, Product, Side, Variety, ZerodhaCredentials,
};
use broker_zerodha::Zerodha;
use broker_zerodha::sim::{SimAccount, SimConfig, Simulator, browser_login};
use rust_decimal_macros::dec;
use secrecy::ExposeSecret;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const API_KEY: &str = "logKEYa8f3k2";
const API_SECRET: &str = "logSECRETq9z7w1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_session_at_trace_level_logs_no_key_secret_or_token() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // Global, with the `log` bridge: events of every thread and of `log`-based crates count.
    tracing_subscriber::util::SubscriberInitExt::try_init(subscriber).unwrap();

    let mut account = SimAccount::new(API_KEY, API_SECRET, "ZS1234");
    account.issue_refresh_tokens = true;
    let simulator = Simulator::start(SimConfig {
        accounts: vec![account],
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let http = HttpClientConfig::default()
        .allow_plain_http()
        .build()
        .unwrap();
    let options = ConnectOptions::new(http.clone())
        .with_api_url(simulator.url())
        .with_login_url(simulator.login_page())
        .with_session_listener(std::sync::Arc::new(|change| {
            tracing::debug!(?change, "session changed");
        }));
    let credentials = ZerodhaCredentials::new(API_KEY.into(), API_SECRET.into()).unwrap();
    let broker = Zerodha::connect(&credentials, None, &options).unwrap();
    let redirect = browser_login(http.client(), broker.login_url(&[("state", "x")]))
        .await
        .unwrap();
    let request_token = redirect.request_token().expose_secret().to_owned();

    let forged_credentials = ZerodhaCredentials::new(API_KEY.into(), "wrong".into()).unwrap();
    let forged = Zerodha::connect(&forged_credentials, None, &options).unwrap();
    assert!(
        forged
            .complete_login(redirect.request_token())
            .await
            .is_err()
    );
    let tokens = broker
        .complete_login(redirect.request_token())
        .await
        .unwrap();
    tracing::debug!(?tokens, "session opened");
    let refresh = tokens.refresh_token().unwrap().clone();
    let renewed = broker
        .client()
        .renew_access_token(&refresh, &API_SECRET.into())
        .await
        .unwrap();
    tracing::debug!(?renewed, "session renewed");

    broker.refresh_instruments().await.unwrap();
    broker.profile().await.unwrap();
    let order = OrderRequest::builder()
        .instrument(InstrumentRef::new(Exchange::Nse, "SBIN"))
        .side(Side::Buy)
        .order_type(OrderType::Limit)
        .product(Product::Delivery)
        .quantity(1)
        .price(dec!(790))
        .tag("logtest")
        .build()
        .unwrap();
    let placement = broker.place_order(&order).await.unwrap();
    broker.orders().await.unwrap();
    broker
        .cancel_order(&placement.order_id, Variety::Regular)
        .await
        .unwrap();
    tracing::debug!(?broker, authorization = ?broker.authorization().unwrap(), "broker state");
    let stored = broker.session_tokens().await.unwrap();
    broker.logout().await.unwrap();
    let after_logout = broker.profile().await.unwrap_err();
    tracing::warn!(%after_logout, "expected failure");

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("kite request") && logs.contains("/orders/{variety}"),
        "{logs}"
    );
    for secret in [
        API_KEY.to_owned(),
        API_SECRET.to_owned(),
        request_token,
        stored.access_token().expose_secret().to_owned(),
        refresh.expose_secret().to_owned(),
        renewed.access_token.expose_secret().to_owned(),
        renewed.public_token.unwrap().expose_secret().to_owned(),
    ] {
        assert!(!logs.contains(&secret), "a secret leaked into the logs");
    }
}
