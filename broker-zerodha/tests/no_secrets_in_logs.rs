//! A whole session logged at TRACE level leaks no API key, secret or token.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on purpose

use std::io::Write;
use std::sync::{Arc, Mutex};

use broker_core::{
    Broker, Exchange, HttpClientConfig, InstrumentRef, OrderRequest, OrderType, Product, Side,
    Variety,
};
use broker_zerodha::sim::{KiteSimulator, SimConfig, browser_login};
use broker_zerodha::{KiteHttpClient, Zerodha};
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

    let simulator = KiteSimulator::start(SimConfig {
        api_key: API_KEY.into(),
        api_secret: API_SECRET.into(),
        issue_refresh_tokens: true,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let client = KiteHttpClient::builder(API_KEY)
        .base_url(simulator.url())
        .login_page(simulator.login_page())
        .http_config(HttpClientConfig::default())
        .build()
        .unwrap();
    let redirect = browser_login(client.login_url(&[("state", "x")]))
        .await
        .unwrap();
    let request_token = redirect.request_token().expose_secret().to_owned();

    let forged = client
        .generate_session(redirect.request_token(), &"wrong".into())
        .await;
    assert!(forged.is_err());
    let session = client
        .generate_session(redirect.request_token(), &API_SECRET.into())
        .await
        .unwrap();
    tracing::debug!(?session, "session opened");
    let refresh = session.refresh_token.clone().unwrap();
    let renewed = client
        .renew_access_token(&refresh, &API_SECRET.into())
        .await
        .unwrap();

    let broker = Zerodha::new(client);
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
    let order_id = broker.place_order(&order).await.unwrap();
    broker.orders().await.unwrap();
    broker
        .cancel_order(&order_id, Variety::Regular)
        .await
        .unwrap();
    tracing::debug!(?broker, "broker state");
    broker.logout().await.unwrap();
    let after_logout = broker.profile().await.unwrap_err();
    tracing::warn!(%after_logout, "expected failure");

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("kite request") && logs.contains("/orders/regular"),
        "{logs}"
    );
    for secret in [
        API_KEY.to_owned(),
        API_SECRET.to_owned(),
        request_token,
        session.access_token.expose_secret().to_owned(),
        session.public_token.unwrap().expose_secret().to_owned(),
        refresh.expose_secret().to_owned(),
        renewed.access_token.expose_secret().to_owned(),
    ] {
        assert!(!logs.contains(&secret), "a secret leaked into the logs");
    }
}
