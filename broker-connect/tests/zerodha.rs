//! Zerodha accounts through the connector, against the Kite simulator, over HTTP and HTTPS,
//! with the file store and with Postgres: the login completed from the redirect, sessions
//! shared, expiry reported as needs_login, and the login `state` refused when forged,
//! expired, replayed or for another account.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use broker_connect::{BadState, Connector, ConnectorError, Verification};
use broker_core::{BrokerKind, SessionTokens};
use broker_zerodha::Endpoint;
use common::*;
use vault::{AccountId, AccountStatus, UserId};

matrix!(
    login_completion_then_place_leaves_from_the_egress_ip,
    an_expired_session_needs_login,
    the_login_state_is_refused_when_forged_expired_replayed_or_for_another_account,
    verification_from_an_address_kite_does_not_allow,
);

const EGRESS: &str = "127.0.0.31";

async fn kite_account(connector: &Connector) -> (UserId, AccountId) {
    let user = UserId::new_random();
    (user, account_of(connector, user, &kite_credentials()).await)
}

async fn status(connector: &Connector, user: UserId, account: AccountId) -> AccountStatus {
    connector
        .store()
        .account(user, account)
        .await
        .unwrap()
        .unwrap()
        .status
}

async fn login_completion_then_place_leaves_from_the_egress_ip(backing: Backing, tls: bool) {
    let Some(store) = StoreFixture::new(backing).await else {
        return;
    };
    let kite = kite_sim(tls, EGRESS).await;
    let setup = Setup::new(None, Some(&kite), &[EGRESS]);
    let connector = connector(store.open().await, &setup.settings).await;
    let (user, account) = kite_account(&connector).await;

    // Before the holder's login: needs_login, with the login page to send them to.
    let Err(ConnectorError::NeedsLogin { login_url }) = connector.connect(user, account).await
    else {
        panic!("a Kite account without a session must need a login");
    };
    assert!(login_url.starts_with(&kite.login_page()), "{login_url}");
    assert_eq!(
        status(&connector, user, account).await,
        AccountStatus::NeedsLogin
    );

    let (state, request_token) = browser_login(&kite, &login_url).await;
    let completed = connector
        .complete_kite_login(&state, &request_token)
        .await
        .unwrap();
    assert_eq!((completed.user, completed.account), (user, account));
    assert_eq!(completed.verification, Verification::Connected);
    assert_eq!(
        status(&connector, user, account).await,
        AccountStatus::Active
    );
    assert_eq!(kite.logins(KITE_USER), 1);

    // The connection the token exchange and the verification opened carries the order.
    let connections = kite.connections_accepted();
    let broker = connector.connect(user, account).await.unwrap();
    assert_eq!(broker.kind(), BrokerKind::Zerodha);
    broker
        .place_order(&limit_buy(BrokerKind::Zerodha))
        .await
        .unwrap();
    let accepted = kite.accepted_orders();
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].peer, ip(EGRESS));
    if tls {
        // HTTP/2 over TLS; plain HTTP/1.1 may open a second connection when a request starts
        // before the previous one's connection is back in the pool.
        assert_eq!(kite.connections_accepted(), connections);
    }
    assert!(
        kite.requests()
            .iter()
            .all(|request| request.peer == ip(EGRESS) || request.endpoint.is_none())
    );

    // Another process on the store trades on the same session, without a login.
    let other = common::connector(store.open().await, &setup.settings).await;
    other.warm(user, account).await.unwrap();
    assert_eq!(kite.logins(KITE_USER), 1);
    store.finish().await;
}

async fn an_expired_session_needs_login(backing: Backing, tls: bool) {
    let Some(store) = StoreFixture::new(backing).await else {
        return;
    };
    let kite = kite_sim(tls, EGRESS).await;
    let setup = Setup::new(None, Some(&kite), &[EGRESS]);
    let connector = connector(store.open().await, &setup.settings).await;
    let (user, account) = kite_account(&connector).await;
    let login_url = connector.kite_login_url(user, account).await.unwrap();
    let (state, request_token) = browser_login(&kite, &login_url).await;
    connector
        .complete_kite_login(&state, &request_token)
        .await
        .unwrap();
    connector.warm(user, account).await.unwrap();

    // Kite ends the session at 06:00 IST: the next call is refused, the account needs a
    // login and the connector never logs in by itself.
    kite.expire_sessions();
    let broker = connector.connect(user, account).await.unwrap();
    assert!(broker.profile().await.unwrap_err().needs_login());
    tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while status(&connector, user, account).await != AccountStatus::NeedsLogin {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the refused session marks the account needs_login");
    assert!(matches!(
        connector.connect(user, account).await,
        Err(ConnectorError::NeedsLogin { .. })
    ));
    assert!(matches!(
        connector.verify(user, account).await.unwrap(),
        Verification::NeedsLogin { .. }
    ));

    // A stored session past its expiry is never used.
    let (state, request_token) = browser_login(
        &kite,
        &connector.kite_login_url(user, account).await.unwrap(),
    )
    .await;
    connector
        .complete_kite_login(&state, &request_token)
        .await
        .unwrap();
    let stored = connector
        .store()
        .session(user, account)
        .await
        .unwrap()
        .unwrap();
    let past = chrono::Utc::now() - chrono::Duration::minutes(1);
    let expired = SessionTokens::new(stored.access_token().clone(), past).unwrap();
    connector
        .store()
        .save_session(user, account, &expired)
        .await
        .unwrap();
    let fresh = common::connector(store.open().await, &setup.settings).await;
    assert!(matches!(
        fresh.connect(user, account).await,
        Err(ConnectorError::NeedsLogin { .. })
    ));
    assert_eq!(
        status(&connector, user, account).await,
        AccountStatus::NeedsLogin
    );
    assert_eq!(kite.logins(KITE_USER), 2, "only the holder's two logins");
    store.finish().await;
}

async fn the_login_state_is_refused_when_forged_expired_replayed_or_for_another_account(
    backing: Backing,
    tls: bool,
) {
    let Some(store) = StoreFixture::new(backing).await else {
        return;
    };
    let kite = kite_sim(tls, EGRESS).await;
    let setup = Setup::new(None, Some(&kite), &[EGRESS]);
    let connector = connector(store.open().await, &setup.settings).await;
    let (user, account) = kite_account(&connector).await;
    let refused = |result: Result<_, ConnectorError>| match result {
        Err(ConnectorError::BadState(reason)) => reason,
        other => panic!("expected a refused state, got {other:?}"),
    };

    // Forged: signed with another key, or altered.
    let login_url = connector.kite_login_url(user, account).await.unwrap();
    let (state, request_token) = browser_login(&kite, &login_url).await;
    let mut other_settings = setup.settings.clone();
    other_settings.egress.addresses.clear();
    let stranger = broker_connect::Connector::new(
        connector.store().clone(),
        other_settings,
        secrecy::SecretSlice::from(vec![9u8; 32]),
    )
    .await
    .unwrap();
    let foreign = stranger.kite_login_url(user, account).await;
    assert!(foreign.is_ok(), "login URLs need no egress address");
    let foreign_state = url_state(&foreign.unwrap());
    assert_eq!(
        refused(
            connector
                .complete_kite_login(&foreign_state, &request_token)
                .await
        ),
        BadState::Forged
    );
    let altered = state.replacen(
        &account.to_string(),
        &AccountId::new_random().to_string(),
        1,
    );
    assert_eq!(
        refused(
            connector
                .complete_kite_login(&altered, &request_token)
                .await
        ),
        BadState::Forged
    );

    // For another account than the redirect names.
    assert_eq!(
        refused(
            connector
                .complete_kite_login_for(AccountId::new_random(), &state, &request_token)
                .await
        ),
        BadState::OtherAccount
    );

    // Valid once; replayed, refused (also by another process on the store).
    connector
        .complete_kite_login_for(account, &state, &request_token)
        .await
        .unwrap();
    assert_eq!(
        refused(connector.complete_kite_login(&state, &request_token).await),
        BadState::Replayed
    );
    let other = common::connector(store.open().await, &setup.settings).await;
    assert_eq!(
        refused(other.complete_kite_login(&state, &request_token).await),
        BadState::Replayed
    );

    // Expired: states that live no time at all.
    let mut short = setup.settings.clone();
    short.kite_state_ttl_seconds = 0;
    let hasty = common::connector(store.open().await, &short).await;
    let login_url = hasty.kite_login_url(user, account).await.unwrap();
    let (state, request_token) = browser_login(&kite, &login_url).await;
    assert_eq!(
        refused(connector.complete_kite_login(&state, &request_token).await),
        BadState::Expired
    );
    assert_eq!(kite.logins(KITE_USER), 1, "no refused state reached Kite");
    store.finish().await;
}

async fn verification_from_an_address_kite_does_not_allow(backing: Backing, tls: bool) {
    let Some(store) = StoreFixture::new(backing).await else {
        return;
    };
    let kite = kite_sim(tls, "127.0.0.39").await;
    let setup = Setup::new(None, Some(&kite), &[EGRESS]);
    let connector = connector(store.open().await, &setup.settings).await;
    let (user, account) = kite_account(&connector).await;
    assert!(matches!(
        connector.verify(user, account).await.unwrap(),
        Verification::NeedsLogin { .. }
    ));
    let login_url = connector.kite_login_url(user, account).await.unwrap();
    let (state, request_token) = browser_login(&kite, &login_url).await;
    let completed = connector
        .complete_kite_login(&state, &request_token)
        .await
        .unwrap();
    match completed.verification {
        Verification::IpNotWhitelisted {
            ip: public,
            broker,
            instructions,
        } => {
            assert_eq!(public, ip(EGRESS));
            assert_eq!(broker, BrokerKind::Zerodha);
            assert!(
                instructions.contains("developers.kite.trade"),
                "{instructions}"
            );
        }
        other => panic!("expected ip_not_whitelisted, got {other:?}"),
    }
    assert_eq!(
        status(&connector, user, account).await,
        AccountStatus::IpNotWhitelisted
    );
    assert!(kite.accepted_orders().is_empty());
    assert_eq!(kite.requests_to(Endpoint::PlaceOrder), 0);
    store.finish().await;
}
