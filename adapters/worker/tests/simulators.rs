//! End to end on both simulators, through broker-connect and the vault, over HTTP and HTTPS:
//! three tenants (Angel One; Zerodha logged in today; Zerodha with an expired token), a
//! policy refusal before any request, an account whose address is not whitelisted, and a
//! holiday.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::IpAddr;
use std::sync::Arc;

use broker_core::BrokerKind;
use broker_worker::{
    ConnectorAccounts, ExecutionState, FileJournal, FnIntents, Notification, OrderIntent,
    ProblemReason, RunSettings, Runner, Scheduler, Slot, SlotSettings, TradingCalendar,
};
use chrono::NaiveDate;
use common::Captured;
use common::sims::*;
use vault::{AccountId, UserId};

fn intent(id: &str, user: UserId, account: AccountId, order: serde_json::Value) -> OrderIntent {
    OrderIntent {
        id: id.into(),
        user_id: user,
        account_id: account,
        slot: Slot::DEFAULT,
        order: order.into(),
        enabled: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_tenants_over_http() {
    three_tenants(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_tenants_over_https() {
    three_tenants(true).await;
}

async fn three_tenants(tls: bool) {
    let (angel_user, blocked_user, kite_user, expired_user) = (
        UserId::new_random(),
        UserId::new_random(),
        UserId::new_random(),
        UserId::new_random(),
    );
    // The blocked Angel One client registered another address than its egress one.
    let angel = angel_sim(tls, &[("S1001", "127.0.0.51"), ("S1002", "127.0.0.99")]).await;
    let kite = kite_sim(
        tls,
        &[
            ("kiteone", "ZK0001", "127.0.0.53"),
            ("kitetwo", "ZK0002", "127.0.0.54"),
        ],
    )
    .await;
    let world = World::new(
        &angel,
        &kite,
        &[
            ("127.0.0.51", angel_user),
            ("127.0.0.52", blocked_user),
            ("127.0.0.53", kite_user),
            ("127.0.0.54", expired_user),
        ],
    );
    let connector = world.connector().await;
    let angel_account = tenant(&connector, angel_user, &angel_credentials("S1001")).await;
    let blocked_account = tenant(&connector, blocked_user, &angel_credentials("S1002")).await;
    let kite_account = tenant(&connector, kite_user, &kite_credentials("kiteone")).await;
    let expired_account = tenant(&connector, expired_user, &kite_credentials("kitetwo")).await;
    kite_login(&connector, &kite, kite_user, kite_account).await;
    kite_login(&connector, &kite, expired_user, expired_account).await;
    expire_stored_session(&connector, expired_user, expired_account).await;

    let intents = vec![
        intent(
            "angel-buy",
            angel_user,
            angel_account,
            resting_buy(BrokerKind::AngelOne),
        ),
        intent(
            "angel-market",
            angel_user,
            angel_account,
            serde_json::json!({
                "instrument": {"exchange": "NSE", "trading_symbol": "SBIN-EQ"},
                "side": "buy", "order_type": "market", "product": "delivery", "quantity": 1
            }),
        ),
        intent(
            "blocked-buy",
            blocked_user,
            blocked_account,
            resting_buy(BrokerKind::AngelOne),
        ),
        intent(
            "kite-buy",
            kite_user,
            kite_account,
            resting_buy(BrokerKind::Zerodha),
        ),
        intent(
            "expired-buy",
            expired_user,
            expired_account,
            resting_buy(BrokerKind::Zerodha),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let notes = Arc::new(Captured::default());
    let runner = Runner::new(
        Arc::new(FileJournal::open(dir.path().join("journal.jsonl")).unwrap()),
        Arc::new(ConnectorAccounts::new(connector.clone())),
        Arc::new(FnIntents::new(move |_| Ok(intents.clone()))),
        notes.clone(),
    )
    .with_settings(RunSettings {
        reconcile_delay_ms: 50,
        refresh_delay_ms: 50,
        ..RunSettings::default()
    });
    let scheduler = Scheduler::new(runner, TradingCalendar::nse_2026(), SlotSettings::default());
    let trading_day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();

    // Pre-flight: the expired Kite session is found before the slot, and its user told.
    let preflight = scheduler
        .preflight(trading_day, Slot::DEFAULT)
        .await
        .unwrap();
    assert!(preflight.ready.contains(&angel_account), "{preflight:?}");
    assert!(preflight.ready.contains(&kite_account), "{preflight:?}");
    let (_, needs_login) = preflight
        .problems
        .iter()
        .find(|(account, _)| *account == expired_account)
        .expect("the expired Kite account is reported");
    assert_eq!(needs_login.reason, ProblemReason::NeedsLogin);
    assert!(
        needs_login
            .login_url
            .as_deref()
            .unwrap()
            .starts_with(&kite.login_page())
    );
    assert!(notes.all().iter().any(|note| matches!(note,
        Notification::AccountCannotTrade { account_id, problem, .. }
            if *account_id == expired_account && problem.reason == ProblemReason::NeedsLogin)));

    // The blocked account is found before the slot too, by the whitelist probe.
    assert!(
        preflight
            .problems
            .iter()
            .any(|(account, problem)| *account == blocked_account
                && problem.reason == ProblemReason::IpNotWhitelisted),
        "{preflight:?}"
    );
    let angel_before = angel.accepted_orders().len();
    let report = scheduler
        .run_on(trading_day, Slot::DEFAULT)
        .await
        .unwrap()
        .expect("a trading day runs");
    let state = |id: &str| report.execution(id).unwrap().state;
    assert_eq!(state("angel-buy"), ExecutionState::Placed);
    assert_eq!(state("kite-buy"), ExecutionState::Placed);
    assert_eq!(state("angel-market"), ExecutionState::Refused);
    assert_eq!(
        report.execution("angel-market").unwrap().reason.as_deref(),
        Some("order_type_refused")
    );
    assert_eq!(state("expired-buy"), ExecutionState::Failed);
    assert_eq!(
        report.execution("expired-buy").unwrap().reason.as_deref(),
        Some("needs_login")
    );
    let blocked = report.execution("blocked-buy").unwrap();
    assert_eq!(blocked.state, ExecutionState::Failed);
    assert_eq!(blocked.reason.as_deref(), Some("ip_not_whitelisted"));
    assert!(
        report
            .problems
            .iter()
            .any(|(account, problem)| *account == blocked_account
                && problem.reason == ProblemReason::IpNotWhitelisted)
    );
    assert_eq!(report.users[&angel_user].placed, 1);
    assert_eq!(report.users[&angel_user].refused, 1);
    assert_eq!(report.users[&expired_user].needs_login, 1);

    // The policy refusal and the expired session sent no order request at all: the angel
    // account's one placement request is its placed order, the expired account sent none.
    let angel_placements: Vec<IpAddr> = angel
        .requests()
        .into_iter()
        .filter(|request| request.endpoint == Some(broker_angelone::Endpoint::PlaceOrder))
        .map(|request| request.peer)
        .collect();
    let kite_placements: Vec<IpAddr> = kite
        .requests()
        .into_iter()
        .filter(|request| request.endpoint == Some(broker_zerodha::Endpoint::PlaceOrder))
        .map(|request| request.peer)
        .collect();
    let from = |placements: &[IpAddr], address: &str| {
        placements
            .iter()
            .filter(|peer| **peer == ip(address))
            .count()
    };
    assert_eq!(
        from(&angel_placements, "127.0.0.51"),
        1,
        "{angel_placements:?}"
    );
    assert_eq!(kite_placements, vec![ip("127.0.0.53")]);

    // The brokers hold exactly the two orders, from each account's own address, tagged.
    let angel_orders = angel.accepted_orders();
    assert_eq!(angel_orders.len() - angel_before, 1);
    let angel_order = angel_orders.last().unwrap();
    assert_eq!(angel_order.peer, ip("127.0.0.51"));
    assert_eq!(
        angel_order.body.ordertag.as_deref(),
        Some(report.execution("angel-buy").unwrap().tag.as_str())
    );
    let kite_orders = kite.accepted_orders();
    assert_eq!(kite_orders.len(), 1);
    assert_eq!(kite_orders[0].peer, ip("127.0.0.53"));
    assert_eq!(
        kite_orders[0].body.tag.as_deref(),
        Some(report.execution("kite-buy").unwrap().tag.as_str())
    );
    let Some(Notification::RunFinished { users, .. }) = notes.all().last().cloned() else {
        panic!("the run's summary is notified last");
    };
    assert_eq!(users.len(), 4);

    // Running the slot again places nothing; a holiday runs nothing at all.
    scheduler.run_on(trading_day, Slot::DEFAULT).await.unwrap();
    let christmas = NaiveDate::from_ymd_opt(2026, 12, 25).unwrap();
    assert!(
        scheduler
            .run_on(christmas, Slot::DEFAULT)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        scheduler
            .preflight(christmas, Slot::DEFAULT)
            .await
            .unwrap()
            .ready
            .is_empty()
    );
    assert_eq!(angel.accepted_orders().len(), angel_orders.len());
    assert_eq!(kite.accepted_orders().len(), 1);
}
