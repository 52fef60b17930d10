//! Angel One sessions against the in-process SmartAPI simulator: automatic login and one
//! shared re-login after expiry, the login gate that lets processes sharing an account log in
//! once, stored sessions, the daily expiry, refresh and logout.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use broker_angelone::AngelOne;
use broker_angelone::Endpoint;
use broker_angelone::sim::{SimConfig, Simulator};
use broker_core::{
    Broker, BrokerError, BrokerSession, ConnectError, LoginGate, ManualClock, PendingLogin,
    SessionTokens,
};
use common::{CLIENT_CODE, Changes, account, broker, simulator};
use secrecy::ExposeSecret;

/// A gate that never runs the login it is given: another process holds the account's login
/// and hands over the session it stored.
struct ElsewhereGate {
    stored: Mutex<SessionTokens>,
    asked: AtomicUsize,
}

impl ElsewhereGate {
    fn new(stored: SessionTokens) -> Self {
        Self {
            stored: Mutex::new(stored),
            asked: AtomicUsize::new(0),
        }
    }

    fn store(&self, tokens: SessionTokens) {
        *self.stored.lock().unwrap_or_else(PoisonError::into_inner) = tokens;
    }
}

#[async_trait]
impl LoginGate for ElsewhereGate {
    async fn login(
        &self,
        _replacing: Option<&SessionTokens>,
        _login: PendingLogin<'_>,
    ) -> broker_core::Result<SessionTokens> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        Ok(self
            .stored
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone())
    }
}

/// A gate that runs every login it is given, counting them and noting whether each replaced
/// a session.
#[derive(Default)]
struct CountingGate {
    ran: AtomicUsize,
    replaced: Mutex<Vec<bool>>,
}

#[async_trait]
impl LoginGate for CountingGate {
    async fn login(
        &self,
        replacing: Option<&SessionTokens>,
        login: PendingLogin<'_>,
    ) -> broker_core::Result<SessionTokens> {
        self.ran.fetch_add(1, Ordering::SeqCst);
        self.replaced
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(replacing.is_some());
        login.await
    }
}

/// A broker whose logins go through `gate`, reporting its sessions to `changes`.
#[allow(clippy::unwrap_used)] // a fixture: a bad one should fail the test loudly
fn gated_broker(simulator: &Simulator, gate: Arc<dyn LoginGate>, changes: &Changes) -> AngelOne {
    let options = common::options(simulator, "127.0.0.1", Duration::from_secs(5))
        .with_login_gate(gate)
        .with_session_listener(changes.listener());
    AngelOne::connect(common::credentials(), None, &options).unwrap()
}

#[tokio::test]
async fn a_gate_answering_with_another_process_session_is_used_and_no_login_is_made() {
    let simulator = simulator("127.0.0.1").await;
    // The other process logs the account in and stores its session.
    let other = broker(&simulator, "127.0.0.1");
    let stored = other.login().await.unwrap();
    assert_eq!(simulator.logins(CLIENT_CODE), 1);

    let gate = Arc::new(ElsewhereGate::new(stored.clone()));
    let changes = Changes::default();
    let gated = gated_broker(&simulator, gate.clone(), &changes);

    // The first call needs a session: the gate hands over the stored one.
    gated.funds().await.unwrap();
    assert_eq!(gate.asked.load(Ordering::SeqCst), 1);
    assert_eq!(simulator.logins(CLIENT_CODE), 1, "no login of its own");
    let current = gated.session_tokens().await.unwrap();
    assert_eq!(
        current.access_token().expose_secret(),
        stored.access_token().expose_secret()
    );
    // An explicit login goes through the gate as well.
    let explicit = gated.login().await.unwrap();
    assert_eq!(
        explicit.access_token().expose_secret(),
        stored.access_token().expose_secret()
    );
    assert_eq!(gate.asked.load(Ordering::SeqCst), 2);

    // The broker ends the session; the other process logs in again and stores the new one.
    simulator.expire_sessions();
    let renewed = other.login().await.unwrap();
    gate.store(renewed.clone());
    gated.orders().await.unwrap();
    assert_eq!(
        gate.asked.load(Ordering::SeqCst),
        3,
        "the re-login went through the gate"
    );
    assert_eq!(
        simulator.logins(CLIENT_CODE),
        2,
        "only the other process logged in"
    );
    assert_eq!(
        gated
            .session_tokens()
            .await
            .unwrap()
            .access_token()
            .expose_secret(),
        renewed.access_token().expose_secret()
    );
    // Sessions handed over were stored by the process that made them: nothing to report.
    assert!(changes.started().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_login_and_renewal_goes_through_the_gate_once_for_concurrent_callers() {
    let simulator = simulator("127.0.0.1").await;
    let gate = Arc::new(CountingGate::default());
    let changes = Changes::default();
    let broker = gated_broker(&simulator, gate.clone(), &changes);
    broker.login().await.unwrap();
    assert_eq!(gate.ran.load(Ordering::SeqCst), 1);

    simulator.expire_sessions();
    let (orders, funds, positions) =
        tokio::join!(broker.orders(), broker.funds(), broker.positions());
    orders.unwrap();
    funds.unwrap();
    positions.unwrap();
    assert_eq!(
        gate.ran.load(Ordering::SeqCst),
        2,
        "one re-login for three callers"
    );
    assert_eq!(simulator.logins(CLIENT_CODE), 2);

    broker.refresh().await.unwrap();
    assert_eq!(gate.ran.load(Ordering::SeqCst), 3, "the renewal too");
    // Sessions made here are reported, so they can be stored.
    assert_eq!(changes.started().len(), 3);
    // The gate learns which session each login gives up: none at first, then the expired
    // one and the renewed one, which it must never hand back.
    assert_eq!(
        *gate.replaced.lock().unwrap_or_else(PoisonError::into_inner),
        [false, true, true]
    );
}

#[tokio::test]
async fn expired_session_triggers_exactly_one_relogin_reported_to_the_listener() {
    let simulator = simulator("127.0.0.1").await;
    let changes = Changes::default();
    let options = common::options(&simulator, "127.0.0.1", Duration::from_secs(5))
        .with_session_listener(changes.listener());
    let broker = AngelOne::connect(common::credentials(), None, &options).unwrap();
    broker.funds().await.unwrap();
    assert_eq!(simulator.logins(CLIENT_CODE), 1);
    assert_eq!(changes.started().len(), 1);

    simulator.expire_sessions();
    let orders = broker.orders().await.unwrap();
    assert!(orders.is_empty());
    assert_eq!(simulator.logins(CLIENT_CODE), 2);

    // The renewed session was reported, so it can be stored: it is the one in use.
    let started = changes.started();
    assert_eq!(started.len(), 2);
    let current = broker.session_tokens().await.unwrap();
    assert_eq!(
        started[1].access_token().expose_secret(),
        current.access_token().expose_secret()
    );
    assert_ne!(
        started[0].access_token().expose_secret(),
        current.access_token().expose_secret()
    );

    // The new session keeps working without further logins.
    broker.positions().await.unwrap();
    broker.profile().await.unwrap();
    assert_eq!(simulator.logins(CLIENT_CODE), 2);
    assert_eq!(changes.ended(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_after_expiry_share_a_single_relogin() {
    let simulator = simulator("127.0.0.1").await;
    let changes = Changes::default();
    let options = common::options(&simulator, "127.0.0.1", Duration::from_secs(5))
        .with_session_listener(changes.listener());
    let broker = AngelOne::connect(common::credentials(), None, &options).unwrap();
    broker.login().await.unwrap();
    simulator.expire_sessions();
    let (orders, funds, positions) =
        tokio::join!(broker.orders(), broker.funds(), broker.positions());
    orders.unwrap();
    funds.unwrap();
    positions.unwrap();
    assert_eq!(simulator.logins(CLIENT_CODE), 2);
    assert_eq!(changes.started().len(), 2);
}

#[tokio::test]
async fn stored_tokens_are_resumed_without_a_login_and_expired_ones_are_refused() {
    let simulator = simulator("127.0.0.1").await;
    let first = broker(&simulator, "127.0.0.1");
    let tokens = first.login().await.unwrap();
    assert_eq!(simulator.logins(CLIENT_CODE), 1);

    let options = common::options(&simulator, "127.0.0.1", Duration::from_secs(5));
    let resumed = AngelOne::connect(common::credentials(), Some(tokens.clone()), &options).unwrap();
    resumed.funds().await.unwrap();
    assert_eq!(
        simulator.logins(CLIENT_CODE),
        1,
        "the stored session was used"
    );

    // After 05:00 IST the stored tokens are refused before anything is sent.
    let clock = ManualClock::new(tokens.expires_at());
    let late = options.clone().with_clock(Arc::new(clock));
    let error = AngelOne::connect(common::credentials(), Some(tokens.clone()), &late).unwrap_err();
    assert!(
        matches!(
            error,
            ConnectError::Session(BrokerError::SessionExpired { .. })
        ),
        "{error:?}"
    );
    let error = resumed.resume(tokens).await;
    assert_eq!(error, Ok(()), "still valid by the system clock");
}

#[tokio::test]
async fn a_session_past_05_00_ist_by_the_clock_is_replaced_by_a_new_login() {
    // 09:15 IST on 2 Dec 2026; the session ends at 05:00 IST on 3 Dec.
    let clock = ManualClock::new("2026-12-02T03:45:00Z".parse().unwrap());
    let simulator = Simulator::start(
        SimConfig::new([account("127.0.0.1")]).with_clock(Arc::new(clock.clone())),
    )
    .await
    .unwrap();
    let changes = Changes::default();
    let options = common::options(&simulator, "127.0.0.1", Duration::from_secs(5))
        .with_clock(Arc::new(clock.clone()))
        .with_session_listener(changes.listener());
    let broker = AngelOne::connect(common::credentials(), None, &options).unwrap();
    broker.funds().await.unwrap();
    let first = broker.session_tokens().await.unwrap();
    assert_eq!(
        first.expires_at(),
        "2026-12-02T23:30:00Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
    );

    clock.set("2026-12-02T23:31:00Z".parse().unwrap());
    let before = simulator.requests().len();
    broker.funds().await.unwrap();
    let sent: Vec<Endpoint> = simulator.requests()[before..]
        .iter()
        .filter_map(|request| request.endpoint)
        .collect();
    assert_eq!(
        sent,
        [Endpoint::Login, Endpoint::Funds],
        "the expired session was not even tried"
    );
    assert_eq!(changes.started().len(), 2);
}

#[tokio::test]
async fn wrong_totp_secret_and_web_password_are_refused_clearly() {
    // Two clients of one account log in within a second: not what this test is about.
    let simulator = common::simulator_without_quotas("127.0.0.1").await;
    let wrong_secret = broker_core::AngelOneCredentials::new(
        common::API_KEY.into(),
        CLIENT_CODE,
        common::MPIN.into(),
        "JBSWY3DPEHPK3PXPJBSWY3DP".into(),
    )
    .unwrap();
    let options = common::options(&simulator, "127.0.0.1", Duration::from_secs(5));
    let broker = AngelOne::connect(wrong_secret, None, &options).unwrap();
    let error = broker.login().await.unwrap_err();
    assert!(
        matches!(error, BrokerError::InvalidTotp { .. }),
        "{error:?}"
    );

    let web_password = broker_core::AngelOneCredentials::new(
        common::API_KEY.into(),
        CLIENT_CODE,
        "1234".into(),
        common::TOTP_SECRET.into(),
    )
    .unwrap();
    let broker = AngelOne::connect(web_password, None, &options).unwrap();
    let error = broker.login().await.unwrap_err();
    assert!(
        matches!(&error, BrokerError::InvalidCredentials { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn refresh_renews_the_session_without_a_login_and_logout_ends_it() {
    let simulator = simulator("127.0.0.1").await;
    let changes = Changes::default();
    let options = common::options(&simulator, "127.0.0.1", Duration::from_secs(5))
        .with_session_listener(changes.listener());
    let broker = AngelOne::connect(common::credentials(), None, &options).unwrap();
    let before = broker.login().await.unwrap();
    let after = broker.refresh().await.unwrap();
    assert_ne!(
        before.access_token().expose_secret(),
        after.access_token().expose_secret()
    );
    assert_eq!(
        changes.started().len(),
        2,
        "the refreshed session was reported"
    );
    broker.funds().await.unwrap();
    assert_eq!(simulator.logins(CLIENT_CODE), 1);
    broker.logout().await.unwrap();
    assert!(broker.session_tokens().await.is_none());
    assert_eq!(changes.ended(), 1);

    // Logging out of a session the broker already expired still ends it locally.
    broker.login().await.unwrap();
    simulator.expire_sessions();
    broker.logout().await.unwrap();
    assert!(broker.session_tokens().await.is_none());
    assert_eq!(changes.ended(), 2);
}
