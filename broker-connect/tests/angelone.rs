//! Angel One accounts through the connector, against the SmartAPI simulator, over HTTP and
//! HTTPS, with the file store and with Postgres.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use broker_angelone::Endpoint;
use broker_connect::{Connector, ConnectorError, Verification};
use broker_core::sim::Fault;
use broker_core::{BrokerKind, SessionTokens};
use common::*;
use vault::AccountStatus;

matrix!(
    connect_then_place_leaves_from_the_egress_ip,
    two_connectors_on_one_store_share_one_login,
    concurrent_connects_log_in_once,
    logs_in_again_after_expiry,
    verification_outcomes,
    a_warmed_connection_carries_the_order,
    keep_open_holds_a_connection_per_account_of_the_address,
);

const EGRESS: &str = "127.0.0.21";

async fn connect_then_place_leaves_from_the_egress_ip(backing: Backing, tls: bool) {
    let Some(store) = StoreFixture::new(backing).await else {
        return;
    };
    let sim = angel_sim(tls, EGRESS).await;
    let setup = Setup::new(Some(&sim), None, &[EGRESS]);
    let connector = connector(store.open().await, &setup.settings).await;
    let (user, account) =
        angel_account(&connector, &angel_credentials(ANGEL_MPIN, ANGEL_TOTP)).await;

    let broker = connector.connect(user, account).await.unwrap();
    assert_eq!(broker.kind(), BrokerKind::AngelOne);
    let placement = broker
        .place_order(&limit_buy(BrokerKind::AngelOne))
        .await
        .unwrap();

    let accepted = sim.accepted_orders();
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].order_id, placement.order_id.as_str());
    assert_eq!(accepted[0].peer, ip(EGRESS));
    // Every request, the login included, left from the egress address.
    assert!(
        sim.requests()
            .iter()
            .all(|request| request.peer == ip(EGRESS))
    );
    // The session is stored (sealed) for the other processes.
    assert!(
        connector
            .store()
            .session(user, account)
            .await
            .unwrap()
            .is_some()
    );
    // The same live broker is handed out while the account is unchanged.
    let again = connector.connect(user, account).await.unwrap();
    assert!(Arc::ptr_eq(&broker, &again));
    store.finish().await;
}

async fn two_connectors_on_one_store_share_one_login(backing: Backing, tls: bool) {
    let Some(store) = StoreFixture::new(backing).await else {
        return;
    };
    let sim = angel_sim(tls, EGRESS).await;
    let setup = Setup::new(Some(&sim), None, &[EGRESS]);
    let first = connector(store.open().await, &setup.settings).await;
    let second = connector(store.open().await, &setup.settings).await;
    let (user, account) = angel_account(&first, &angel_credentials(ANGEL_MPIN, ANGEL_TOTP)).await;

    first.warm(user, account).await.unwrap();
    second.warm(user, account).await.unwrap();
    let broker = second.connect(user, account).await.unwrap();
    broker
        .place_order(&limit_buy(BrokerKind::AngelOne))
        .await
        .unwrap();

    assert_eq!(
        sim.logins(ANGEL_CLIENT),
        1,
        "the second connector reused the stored session"
    );
    assert_eq!(sim.accepted_orders()[0].peer, ip(EGRESS));
    store.finish().await;
}

async fn concurrent_connects_log_in_once(backing: Backing, tls: bool) {
    let Some(store) = StoreFixture::new(backing).await else {
        return;
    };
    let sim = angel_sim(tls, EGRESS).await;
    let setup = Setup::new(Some(&sim), None, &[EGRESS]);
    let mut connectors = Vec::new();
    for _ in 0..3 {
        connectors.push(connector(store.open().await, &setup.settings).await);
    }
    let (user, account) =
        angel_account(&connectors[0], &angel_credentials(ANGEL_MPIN, ANGEL_TOTP)).await;

    // Three processes, each with three concurrent callers, all at once.
    let mut calls = tokio::task::JoinSet::new();
    for connector in &connectors {
        for _ in 0..3 {
            let connector: Connector = connector.clone();
            calls.spawn(async move { connector.warm(user, account).await });
        }
    }
    while let Some(done) = calls.join_next().await {
        done.unwrap().unwrap();
    }
    assert_eq!(sim.logins(ANGEL_CLIENT), 1);
    store.finish().await;
}

async fn logs_in_again_after_expiry(backing: Backing, tls: bool) {
    let Some(store) = StoreFixture::new(backing).await else {
        return;
    };
    let sim = angel_sim(tls, EGRESS).await;
    let setup = Setup::new(Some(&sim), None, &[EGRESS]);
    let first = connector(store.open().await, &setup.settings).await;
    let second = connector(store.open().await, &setup.settings).await;
    let (user, account) = angel_account(&first, &angel_credentials(ANGEL_MPIN, ANGEL_TOTP)).await;
    first.warm(user, account).await.unwrap();
    assert_eq!(sim.logins(ANGEL_CLIENT), 1);

    // The broker ends the session: the next call logs in again, once, and both processes
    // go on with the new session.
    sim.expire_sessions();
    let broker = first.connect(user, account).await.unwrap();
    broker
        .place_order(&limit_buy(BrokerKind::AngelOne))
        .await
        .unwrap();
    assert_eq!(sim.logins(ANGEL_CLIENT), 2);
    second.warm(user, account).await.unwrap();
    assert_eq!(sim.logins(ANGEL_CLIENT), 2);

    // A stored session past its expiry is not resumed: a new connector logs in afresh.
    let stored = first.store().session(user, account).await.unwrap().unwrap();
    let past = chrono::Utc::now() - chrono::Duration::minutes(1);
    let expired = SessionTokens::new(stored.access_token().clone(), past).unwrap();
    first
        .store()
        .save_session(user, account, &expired)
        .await
        .unwrap();
    let third = connector(store.open().await, &setup.settings).await;
    third.warm(user, account).await.unwrap();
    assert_eq!(sim.logins(ANGEL_CLIENT), 3);
    let renewed = first.store().session(user, account).await.unwrap().unwrap();
    assert!(renewed.expires_at() > chrono::Utc::now());
    store.finish().await;
}

async fn verification_outcomes(backing: Backing, tls: bool) {
    let Some(store) = StoreFixture::new(backing).await else {
        return;
    };
    // The account registered 127.0.0.21; a second address of the pool is not registered.
    let sim = angel_sim(tls, EGRESS).await;
    let setup = Setup::new(Some(&sim), None, &[EGRESS]);
    let connector = connector(store.open().await, &setup.settings).await;
    let status = |user, account| {
        let store = Arc::clone(connector.store());
        async move { store.account(user, account).await.unwrap().unwrap().status }
    };

    // One user with several accounts: they share the user's address.
    let user = vault::UserId::new_random();
    let account = account_of(&connector, user, &angel_credentials(ANGEL_MPIN, ANGEL_TOTP)).await;
    assert_eq!(
        connector.verify(user, account).await.unwrap(),
        Verification::Connected
    );
    assert_eq!(status(user, account).await, AccountStatus::Active);
    assert!(
        sim.accepted_orders().is_empty(),
        "verification places nothing"
    );

    let account = account_of(&connector, user, &angel_credentials("11112222", ANGEL_TOTP)).await;
    let logins = sim.requests_to(Endpoint::Login);
    assert!(matches!(
        connector.verify(user, account).await.unwrap(),
        Verification::InvalidCredentials { .. }
    ));
    assert_eq!(
        status(user, account).await,
        AccountStatus::InvalidCredentials
    );
    // The refused login is not repeated, by this process or another, until the account is
    // verified again: brokers lock accounts after repeated failures.
    assert_eq!(sim.requests_to(Endpoint::Login), logins + 1);
    let other_process = common::connector(store.open().await, &setup.settings).await;
    for process in [&connector, &other_process] {
        assert!(matches!(
            process.warm(user, account).await,
            Err(ConnectorError::Broker(
                broker_core::BrokerError::InvalidCredentials { .. }
            ))
        ));
    }
    assert_eq!(sim.requests_to(Endpoint::Login), logins + 1);
    assert!(matches!(
        connector.verify(user, account).await.unwrap(),
        Verification::InvalidCredentials { .. }
    ));
    assert_eq!(sim.requests_to(Endpoint::Login), logins + 2);

    let account = account_of(&connector, user, &angel_credentials(ANGEL_MPIN, WRONG_TOTP)).await;
    assert_eq!(
        connector.verify(user, account).await.unwrap(),
        Verification::InvalidTotp
    );
    assert_eq!(status(user, account).await, AccountStatus::InvalidTotp);

    let account = account_of(&connector, user, &angel_credentials(ANGEL_MPIN, ANGEL_TOTP)).await;
    let logins_before = sim.requests_to(Endpoint::Login);
    sim.inject(Endpoint::Login, Fault::ServerError(503));
    let outcome = connector.verify(user, account).await.unwrap();
    assert!(
        matches!(outcome, Verification::BrokerUnreachable { .. }),
        "{outcome:?}"
    );
    assert_eq!(sim.requests_to(Endpoint::Login), logins_before + 1);
    assert_eq!(
        status(user, account).await,
        AccountStatus::BrokerUnreachable
    );
    // Once the broker answers again, verifying again connects.
    assert_eq!(
        connector.verify(user, account).await.unwrap(),
        Verification::Connected
    );

    // From an address the account did not register.
    let other = Setup::new(Some(&sim), None, &["127.0.0.22"]);
    let elsewhere = common::connector(store.open().await, &other.settings).await;
    let account = account_of(&elsewhere, user, &angel_credentials(ANGEL_MPIN, ANGEL_TOTP)).await;
    match elsewhere.verify(user, account).await.unwrap() {
        Verification::IpNotWhitelisted {
            ip: public,
            broker,
            instructions,
        } => {
            assert_eq!(public, ip("127.0.0.22"));
            assert_eq!(broker, BrokerKind::AngelOne);
            assert!(instructions.contains("127.0.0.22"), "{instructions}");
        }
        other => panic!("expected ip_not_whitelisted, got {other:?}"),
    }
    assert_eq!(status(user, account).await, AccountStatus::IpNotWhitelisted);

    // Another user's account does not exist for this user.
    let stranger = vault::UserId::new_random();
    assert!(matches!(
        connector.verify(stranger, account).await,
        Err(ConnectorError::AccountNotFound)
    ));
    store.finish().await;
}

async fn a_warmed_connection_carries_the_order(backing: Backing, tls: bool) {
    let Some(store) = StoreFixture::new(backing).await else {
        return;
    };
    let sim = angel_sim(tls, EGRESS).await;
    let setup = Setup::new(Some(&sim), None, &[EGRESS]);
    let connector = connector(store.open().await, &setup.settings).await;
    let (user, account) =
        angel_account(&connector, &angel_credentials(ANGEL_MPIN, ANGEL_TOTP)).await;

    // Pre-flight: log in and open the connection.
    connector.warm(user, account).await.unwrap();
    let (connections, handshakes) = (sim.connections_accepted(), sim.tls_handshakes());
    // The slot: no login, no new connection, no handshake.
    let broker = connector.connect(user, account).await.unwrap();
    broker
        .place_order(&limit_buy(BrokerKind::AngelOne))
        .await
        .unwrap();
    assert_eq!((connections, handshakes), (1, u64::from(tls)));
    assert_eq!(sim.connections_accepted(), 1);
    assert_eq!(sim.tls_handshakes(), u64::from(tls));
    assert_eq!(sim.logins(ANGEL_CLIENT), 1);
    store.finish().await;
}

async fn keep_open_holds_a_connection_per_account_of_the_address(backing: Backing, tls: bool) {
    let Some(store) = StoreFixture::new(backing).await else {
        return;
    };
    let sim = angel_sim(tls, EGRESS).await;
    let setup = Setup::new(Some(&sim), None, &[EGRESS]);
    let connector = connector(store.open().await, &setup.settings).await;
    let credentials = angel_credentials(ANGEL_MPIN, ANGEL_TOTP);
    let (user, first) = angel_account(&connector, &credentials).await;
    let mut accounts = vec![first];
    for _ in 0..2 {
        accounts.push(account_of(&connector, user, &credentials).await);
    }
    let mut records = Vec::new();
    for account in &accounts {
        records.push(
            connector
                .store()
                .account(user, *account)
                .await
                .unwrap()
                .unwrap(),
        );
    }

    // Pre-flight: one account warmed (one connection), then one per account of the address.
    connector.warm(user, first).await.unwrap();
    assert_eq!(sim.connections_accepted(), 1);
    assert_eq!(connector.keep_open(&records).await.unwrap(), 2);
    assert_eq!(connector.keep_open(&records).await.unwrap(), 0, "all open");
    // A connection is open once the kernel completes it; the simulator counts it when its
    // accept loop runs, a moment later.
    for _ in 0..100 {
        if sim.connections_accepted() == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(sim.connections_accepted(), 3);

    // The slot: the three accounts place at once over the connections opened ahead.
    let mut brokers = Vec::new();
    for account in &accounts {
        brokers.push(connector.connect(user, *account).await.unwrap());
    }
    let order = limit_buy(BrokerKind::AngelOne);
    let (a, b, c) = tokio::join!(
        brokers[0].place_order(&order),
        brokers[1].place_order(&order),
        brokers[2].place_order(&order),
    );
    for placed in [a, b, c] {
        placed.unwrap();
    }
    assert_eq!(sim.connections_accepted(), 3);
    assert_eq!(sim.tls_handshakes(), if tls { 3 } else { 0 });
    store.finish().await;
}
