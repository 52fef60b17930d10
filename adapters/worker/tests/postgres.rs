//! The Postgres journal, intents and claims; each test in a fresh schema. Skipped with a
//! printed reason when DATABASE_URL is unset, unless CI=true.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use broker_core::BrokerKind;
use broker_worker::postgres::{PostgresClaims, PostgresIntents, PostgresJournal};
use broker_worker::{
    Claims, Execution, ExecutionState, IntentSource, Journal, Notifiers, Reconciliation,
    RunSettings, Runner, Slot, StaticAccounts,
};
use chrono::NaiveDate;
use common::{FaultyBroker, account, intent, limit_buy};
use sqlx::PgPool;

async fn fresh_pool(test: &str) -> Option<PgPool> {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "DATABASE_URL must be set when CI=true"
        );
        eprintln!("skipping {test}: DATABASE_URL is not set");
        return None;
    };
    let schema = format!("worker_{}_{}", test, uuid::Uuid::new_v4().simple());
    let schema = &schema[..schema.len().min(63)];
    let vault = vault::PostgresBackend::connect_in_schema(&url, schema)
        .await
        .unwrap();
    Some(vault.pool().clone())
}

fn date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
}

#[tokio::test]
async fn the_journal_creates_one_run_per_slot_and_keeps_the_latest_state() {
    let Some(pool) = fresh_pool("journal").await else {
        return;
    };
    let journal = PostgresJournal::new(pool.clone()).await.unwrap();
    // A second start applies nothing twice.
    let again = PostgresJournal::new(pool.clone()).await.unwrap();
    let run = journal.open_run(date(), Slot::DEFAULT).await.unwrap();
    assert_eq!(again.open_run(date(), Slot::DEFAULT).await.unwrap(), run);
    let alice = account(BrokerKind::Paper);
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..300 {
        let journal = journal.clone();
        let execution = Execution::new(&run, &format!("i{index:03}"), alice.user_id, alice.id);
        tasks.spawn(async move {
            journal.record(&execution).await?;
            let mut placed = execution.moved_to(ExecutionState::Placed, None, None);
            placed.reconciliation = Some(Reconciliation::FoundByTag);
            placed.order_id = Some(broker_core::OrderId::new("1"));
            journal.record(&placed).await
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap().unwrap();
    }
    let executions = again.executions(&run).await.unwrap();
    assert_eq!(executions.len(), 300);
    assert!(executions.iter().all(|e| e.state == ExecutionState::Placed
        && e.reconciliation == Some(Reconciliation::FoundByTag)
        && e.tag == run.tag_for(&e.intent_id)));
}

#[tokio::test]
async fn the_worker_tables_have_row_level_security_and_no_public_grants() {
    let Some(pool) = fresh_pool("rls").await else {
        return;
    };
    PostgresJournal::new(pool.clone()).await.unwrap();
    for table in [
        "order_intents",
        "execution_runs",
        "executions",
        "execution_claims",
        "broker_worker_migrations",
    ] {
        let rls: bool = sqlx::query_scalar(
            "SELECT relrowsecurity FROM pg_class
             WHERE relname = $1 AND relnamespace = current_schema()::regnamespace",
        )
        .bind(table)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert!(rls, "{table} without row-level security");
        let public: bool = sqlx::query_scalar(
            "SELECT has_table_privilege('public', current_schema() || '.' || $1, 'SELECT')",
        )
        .bind(table)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert!(!public, "{table} readable by PUBLIC");
    }
}

#[tokio::test]
async fn intents_round_trip_through_the_table() {
    let Some(pool) = fresh_pool("intents").await else {
        return;
    };
    let intents = PostgresIntents::new(pool).await.unwrap();
    let alice = account(BrokerKind::Paper);
    let mut off = intent("off", &alice, limit_buy(1));
    off.enabled = false;
    let mut morning = intent("morning", &alice, limit_buy(1));
    morning.slot = Slot::at(9, 20).unwrap();
    let on = intent("on", &alice, limit_buy(3));
    for each in [&off, &morning, &on] {
        intents.save(each).await.unwrap();
    }
    assert_eq!(intents.intents(Slot::DEFAULT).await.unwrap(), vec![on]);
    assert_eq!(
        intents.intents(Slot::at(9, 20).unwrap()).await.unwrap(),
        vec![morning]
    );
}

fn shared_settings() -> RunSettings {
    RunSettings {
        max_concurrency: 4,
        reconcile_delay_ms: 5,
        reconcile_passes: 2,
        refresh_delay_ms: 0,
        takeover_wait_ms: 5_000,
        takeover_poll_ms: 50,
    }
}

/// Two processes (two runners with their own journals and claims) share one run.
#[tokio::test]
async fn two_workers_share_a_run_and_execute_every_account_once() {
    let Some(pool) = fresh_pool("share").await else {
        return;
    };
    let mut table = StaticAccounts::new();
    let mut intents = Vec::new();
    let mut brokers = Vec::new();
    for index in 0..20 {
        let owner = account(BrokerKind::Paper);
        let broker = FaultyBroker::new();
        table = table.with(owner.clone(), broker.clone());
        intents.push(intent(&format!("i{index:02}"), &owner, limit_buy(1)));
        brokers.push(broker);
    }
    let source = PostgresIntents::new(pool.clone()).await.unwrap();
    for each in &intents {
        source.save(each).await.unwrap();
    }
    let mut runners = Vec::new();
    for name in ["worker-a", "worker-b"] {
        let claims = PostgresClaims::new(pool.clone(), name, Duration::from_secs(30))
            .await
            .unwrap();
        runners.push(
            Runner::new(
                Arc::new(PostgresJournal::new(pool.clone()).await.unwrap()),
                Arc::new(table.clone()),
                Arc::new(source.clone()),
                Arc::new(Notifiers::tracing()),
            )
            .with_claims(Arc::new(claims))
            .with_settings(shared_settings()),
        );
    }
    let (a, b) = tokio::join!(
        runners[0].run(date(), Slot::DEFAULT),
        runners[1].run(date(), Slot::DEFAULT)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.run, b.run);
    assert_eq!(
        a.executions.len() + b.executions.len(),
        20,
        "each account once"
    );
    for broker in &brokers {
        assert_eq!(broker.order_count().await, 1);
        assert_eq!(broker.placement_calls.load(Ordering::SeqCst), 1);
    }
}

/// A process claimed an account, journalled `submitting`, sent the order and died: another
/// process takes the account over when the lease expires and finds the order by its tag.
#[tokio::test]
async fn an_expired_lease_of_a_dead_worker_is_taken_over_still_exactly_once() {
    let Some(pool) = fresh_pool("takeover").await else {
        return;
    };
    let alice = account(BrokerKind::Paper);
    let bob = account(BrokerKind::Paper);
    let (alice_broker, bob_broker) = (FaultyBroker::new(), FaultyBroker::new());
    let table = StaticAccounts::new()
        .with(alice.clone(), alice_broker.clone())
        .with(bob.clone(), bob_broker.clone());
    let source = PostgresIntents::new(pool.clone()).await.unwrap();
    let alice_intent = intent("alice", &alice, limit_buy(1));
    source.save(&alice_intent).await.unwrap();
    source
        .save(&intent("bob", &bob, limit_buy(1)))
        .await
        .unwrap();

    // The dead worker's footprint.
    let journal = Arc::new(PostgresJournal::new(pool.clone()).await.unwrap());
    let run = journal.open_run(date(), Slot::DEFAULT).await.unwrap();
    let dead = PostgresClaims::new(pool.clone(), "dead", Duration::from_millis(300))
        .await
        .unwrap();
    assert!(dead.claim(&run, alice.id).await.unwrap());
    let submitting = Execution::new(&run, "alice", alice.user_id, alice.id);
    journal.record(&submitting).await.unwrap();
    {
        use broker_core::Broker;
        let request = alice_intent.request(&submitting.tag).unwrap();
        alice_broker.inner.place_order(&request).await.unwrap();
    }

    let claims = PostgresClaims::new(pool.clone(), "survivor", Duration::from_secs(30))
        .await
        .unwrap();
    let runner = Runner::new(
        journal.clone(),
        Arc::new(table),
        Arc::new(source),
        Arc::new(Notifiers::tracing()),
    )
    .with_claims(Arc::new(claims.clone()))
    .with_settings(shared_settings());
    let report = runner.run(date(), Slot::DEFAULT).await.unwrap();
    let taken_over = report.execution("alice").unwrap();
    assert_eq!(taken_over.state, ExecutionState::Placed);
    assert_eq!(taken_over.reconciliation, Some(Reconciliation::FoundByTag));
    assert_eq!(
        report.execution("bob").unwrap().state,
        ExecutionState::Placed
    );
    assert_eq!(alice_broker.order_count().await, 1);
    assert_eq!(alice_broker.placement_calls.load(Ordering::SeqCst), 0);
    assert_eq!(bob_broker.order_count().await, 1);
    assert!(claims.unfinished(&run).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_lease_is_renewed_by_its_holder_and_refused_to_others_until_it_expires() {
    let Some(pool) = fresh_pool("lease").await else {
        return;
    };
    let journal = PostgresJournal::new(pool.clone()).await.unwrap();
    let run = journal.open_run(date(), Slot::DEFAULT).await.unwrap();
    let account = vault::AccountId::new_random();
    let short = Duration::from_millis(400);
    let a = PostgresClaims::new(pool.clone(), "a", short).await.unwrap();
    let b = PostgresClaims::new(pool.clone(), "b", short).await.unwrap();
    assert!(a.claim(&run, account).await.unwrap());
    assert!(!b.claim(&run, account).await.unwrap(), "held by a");
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(
        a.claim(&run, account).await.unwrap(),
        "renewed by its holder"
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(!b.claim(&run, account).await.unwrap(), "the renewal holds");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(b.claim(&run, account).await.unwrap(), "expired: taken over");
    assert!(!a.claim(&run, account).await.unwrap(), "a lost it");
    b.finish(&run, account).await.unwrap();
    assert!(
        !b.claim(&run, account).await.unwrap(),
        "finished accounts are not claimed"
    );
    assert!(b.unfinished(&run).await.unwrap().is_empty());
}
