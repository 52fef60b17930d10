//! Everything the connector does, logged at TRACE level by every thread and every `log`-based
//! crate, leaks no credential, token or signing key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use broker_connect::{ConnectorError, Verification};
use broker_core::BrokerKind;
use common::*;
use secrecy::ExposeSecret;
use vault::UserId;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_verifying_and_completing_logins_at_trace_level_logs_no_secret() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing_subscriber::util::SubscriberInitExt::try_init(subscriber).unwrap();

    let egress = "127.0.0.51";
    let angel = angel_sim(false, egress).await;
    let kite = kite_sim(false, egress).await;
    let store = StoreFixture::new(Backing::File).await.unwrap();
    let setup = Setup::new(Some(&angel), Some(&kite), &[egress]);
    let connector = connector(store.open().await, &setup.settings).await;
    let user = UserId::new_random();
    let mut secrets: Vec<String> = [
        ANGEL_API_KEY,
        ANGEL_MPIN,
        ANGEL_TOTP,
        WRONG_TOTP,
        KITE_API_SECRET,
    ]
    .map(str::to_owned)
    .to_vec();

    // Angel One: verify, trade, expire and log in again, refused credentials.
    let angel_account =
        account_of(&connector, user, &angel_credentials(ANGEL_MPIN, ANGEL_TOTP)).await;
    assert_eq!(
        connector.verify(user, angel_account).await.unwrap(),
        Verification::Connected
    );
    let broker = connector.connect(user, angel_account).await.unwrap();
    broker
        .place_order(&limit_buy(BrokerKind::AngelOne))
        .await
        .unwrap();
    angel.expire_sessions();
    broker.orders().await.unwrap();
    let tokens = connector
        .store()
        .session(user, angel_account)
        .await
        .unwrap()
        .unwrap();
    secrets.push(tokens.access_token().expose_secret().to_owned());
    secrets.extend(
        tokens
            .refresh_token()
            .map(|token| token.expose_secret().to_owned()),
    );
    secrets.extend(
        tokens
            .feed_token()
            .map(|token| token.expose_secret().to_owned()),
    );
    let refused = account_of(&connector, user, &angel_credentials(ANGEL_MPIN, WRONG_TOTP)).await;
    assert_eq!(
        connector.verify(user, refused).await.unwrap(),
        Verification::InvalidTotp
    );

    // Zerodha: needs_login, the login completed, a replay refused, a trade.
    let kite_account = account_of(&connector, user, &kite_credentials()).await;
    let Err(ConnectorError::NeedsLogin { login_url }) = connector.connect(user, kite_account).await
    else {
        panic!("needs a login first");
    };
    let (state, request_token) = browser_login(&kite, &login_url).await;
    secrets.push(request_token.clone());
    let completed = connector
        .complete_kite_login(&state, &request_token)
        .await
        .unwrap();
    assert_eq!(completed.verification, Verification::Connected);
    assert!(
        connector
            .complete_kite_login(&state, &request_token)
            .await
            .is_err()
    );
    let kite_broker = connector.connect(user, kite_account).await.unwrap();
    kite_broker
        .place_order(&limit_buy(BrokerKind::Zerodha))
        .await
        .unwrap();
    let tokens = connector
        .store()
        .session(user, kite_account)
        .await
        .unwrap()
        .unwrap();
    secrets.push(tokens.access_token().expose_secret().to_owned());

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("TRACE"), "TRACE events were captured");
    assert!(
        logs.contains("account verified"),
        "the connector's own events were captured"
    );
    for secret in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "a secret leaked into the logs"
        );
    }
    // The state-signing key never appears either (as bytes it is 32 × 0x2a: '*').
    assert!(!logs.contains(&"*".repeat(32)));
    store.finish().await;
}
