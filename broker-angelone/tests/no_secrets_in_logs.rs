//! Captures every log line at TRACE level (this crate, reqwest, hyper, axum and the
//! simulator) over a whole session and proves no credential or token appears in it.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use broker_angelone::Endpoint;
use broker_core::sim::Fault;
use broker_core::{Broker, BrokerSession, OrderModification, OrderType, Variety};
use common::{API_KEY, MPIN, TOTP_SECRET, broker, limit_buy, simulator};
use rust_decimal_macros::dec;
use secrecy::ExposeSecret;
use tracing_subscriber::util::SubscriberInitExt;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_session_logged_at_trace_level_shows_no_key_mpin_totp_secret_or_token() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .without_time()
        .with_writer(move || writer.clone())
        .finish()
        .try_init()
        .unwrap();

    let simulator = simulator("127.0.0.1").await;
    let broker = broker(&simulator, "127.0.0.1");
    let mut tokens = Vec::new();
    let mut keep_tokens = |session: broker_core::SessionTokens| {
        tokens.push(session.access_token().expose_secret().to_owned());
        tokens.extend(
            session
                .refresh_token()
                .map(|t| t.expose_secret().to_owned()),
        );
        tokens.extend(session.feed_token().map(|t| t.expose_secret().to_owned()));
    };

    broker.login().await.unwrap();
    keep_tokens(broker.session_tokens().await.unwrap());
    broker.profile().await.unwrap();
    broker.funds().await.unwrap();
    let order_id = broker
        .place_order(&limit_buy("logs1"))
        .await
        .unwrap()
        .order_id;
    let change = OrderModification::builder(OrderType::Limit, 1)
        .price(dec!(800))
        .build()
        .unwrap();
    broker.modify_order(&order_id, &change).await.unwrap();
    broker.orders().await.unwrap();
    broker.order(&order_id).await.unwrap();
    broker
        .cancel_order(&order_id, Variety::Regular)
        .await
        .unwrap();
    // A session-expired answer and the re-login it causes.
    simulator.inject(Endpoint::OrderBook, Fault::SessionExpired);
    broker.orders().await.unwrap();
    keep_tokens(broker.session_tokens().await.unwrap());
    keep_tokens(broker.refresh().await.unwrap());
    broker.trades().await.unwrap();
    broker.positions().await.unwrap();
    broker.logout().await.unwrap();
    assert_eq!(simulator.logins(common::CLIENT_CODE), 2);

    let logs = capture.text();
    assert!(
        logs.contains("SmartAPI request") && logs.contains("TRACE"),
        "the capture must have seen the session at TRACE level:\n{logs}"
    );
    let mut secrets = vec![API_KEY.to_owned(), MPIN.to_owned(), TOTP_SECRET.to_owned()];
    secrets.extend(tokens);
    assert!(
        secrets.len() >= 9,
        "three secrets and three tokens per session"
    );
    for secret in &secrets {
        assert!(!secret.is_empty());
        assert!(
            !logs.contains(secret.as_str()),
            "a secret appeared in the logs: {} chars starting {:?}",
            secret.len(),
            &secret[..2]
        );
    }
}
