//! Scale-out: two worker processes on one Postgres database share a run, with the Angel One
//! simulator in a third process. One of them is killed while its placement hangs at the
//! simulator (the order booked, the answer never sent); the other finishes its own accounts,
//! takes the dead one's account over when the lease expires, finds the order by its tag, and
//! every intent is placed exactly once. Skipped with a printed reason without DATABASE_URL,
//! unless CI=true.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use broker_core::BrokerKind;
use broker_worker::postgres::{PostgresIntents, PostgresJournal};
use broker_worker::{ExecutionState, Journal, OrderIntent, Reconciliation, Slot};
use chrono::NaiveDate;
use common::processes::{Reaped, angelone_connector, queue_fault, start_simulator, worker};
use common::sims::{angel_credentials, resting_buy};
use sqlx::Row;
use vault::{CredentialStore, KeyId, KeyMaterial, Keyring, PostgresBackend, UserId, Vault};

const ACCOUNTS: usize = 6;
const INTENTS_PER_ACCOUNT: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_worker_processes_share_a_run_and_one_takes_over_the_others_lease() {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "DATABASE_URL must be set when CI=true"
        );
        eprintln!("skipping the scale-out test: DATABASE_URL is not set");
        return;
    };
    let schema = format!("worker_scale_{}", uuid::Uuid::new_v4().simple());
    let dir = tempfile::tempdir().unwrap();
    let users: Vec<UserId> = (0..ACCOUNTS).map(|_| UserId::new_random()).collect();
    let clients: Vec<(String, String)> = (0..ACCOUNTS)
        .map(|index| {
            (
                format!("D{}", 3001 + index),
                format!("127.0.0.{}", 81 + index),
            )
        })
        .collect();
    let (_simulator, sim_url) = start_simulator(&clients);

    let key = KeyMaterial::generate();
    let keys = format!(
        "kid0:{}",
        secrecy::ExposeSecret::expose_secret(&key.to_base64())
    );
    let backend = PostgresBackend::connect_in_schema(&url, &schema)
        .await
        .unwrap();
    let pool = backend.pool().clone();
    let store: Arc<dyn CredentialStore> = Arc::new(Vault::new(
        backend,
        Keyring::new(KeyId::new("kid0").unwrap(), &key),
    ));
    let (connector, settings, master_path) =
        angelone_connector(store.clone(), &sim_url, &users, &clients, dir.path()).await;
    let intents_table = PostgresIntents::new(pool.clone()).await.unwrap();
    let mut accounts = Vec::new();
    for (user, (client, _)) in users.iter().zip(&clients) {
        let account = common::sims::tenant(&connector, *user, &angel_credentials(client)).await;
        accounts.push((*user, account));
        for index in 0..INTENTS_PER_ACCOUNT {
            let intent = OrderIntent {
                id: format!("{client}-{index}"),
                user_id: *user,
                account_id: account,
                slot: Slot::DEFAULT,
                order: resting_buy(BrokerKind::AngelOne).into(),
                enabled: true,
            };
            intents_table.save(&intent).await.unwrap();
        }
    }

    let config = |name: &str| {
        let mut config = toml::Table::new();
        config.insert("worker_id".into(), name.into());
        config.insert("lease_seconds".into(), 2.into());
        config.insert(
            "angelone_instruments".into(),
            master_path.display().to_string().into(),
        );
        let mut store = toml::Table::new();
        store.insert("postgres_url".into(), url.clone().into());
        store.insert("schema".into(), schema.clone().into());
        config.insert("store".into(), store.into());
        config.insert(
            "run".into(),
            toml::Value::try_from(toml::toml! {
                reconcile_delay_ms = 50
                refresh_delay_ms = 0
                takeover_wait_ms = 30000
                takeover_poll_ms = 200
            })
            .unwrap(),
        );
        config.insert(
            "connector".into(),
            toml::Value::try_from(&settings).unwrap(),
        );
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
        path
    };
    let (config_a, config_b) = (config("worker-a"), config("worker-b"));

    // The first placement of the run hangs at the simulator, booked but never answered.
    queue_fault(&sim_url, None);
    let mut a = Reaped(worker(&config_a, &keys).spawn().unwrap());
    let mut b = Reaped(worker(&config_b, &keys).spawn().unwrap());

    // Whoever placed it is stuck; kill that process.
    let deadline = Instant::now() + Duration::from_secs(60);
    let stuck_owner = loop {
        assert!(Instant::now() < deadline, "no placement hung");
        let row = sqlx::query(&format!(
            "SELECT c.owner FROM {schema}.executions e JOIN {schema}.execution_claims c
                 ON c.run_id = e.run_id AND c.account_id = e.account_id
             WHERE e.state = 'submitting' AND e.updated_at < now() - interval '500 milliseconds'"
        ))
        .fetch_optional(&pool)
        .await
        .unwrap();
        if let Some(row) = row {
            break row.get::<String, _>("owner");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (dead, survivor) = if stuck_owner == "worker-a" {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };
    dead.0.kill().unwrap();
    dead.0.wait().unwrap();
    let status = tokio::task::block_in_place(|| survivor.0.wait()).unwrap();
    assert!(status.success(), "the surviving worker failed");

    let journal = PostgresJournal::new(pool.clone()).await.unwrap();
    let run = journal
        .open_run(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(), Slot::DEFAULT)
        .await
        .unwrap();
    let executions = journal.executions(&run).await.unwrap();
    assert_eq!(executions.len(), ACCOUNTS * INTENTS_PER_ACCOUNT);
    assert!(
        executions.iter().all(|e| e.state == ExecutionState::Placed),
        "{executions:#?}"
    );
    assert!(
        executions
            .iter()
            .any(|e| e.reconciliation == Some(Reconciliation::FoundByTag)),
        "the hung order was found by its tag"
    );
    // The survivor took the hung account over; every claim is finished.
    let survivor_name = if stuck_owner == "worker-a" {
        "worker-b"
    } else {
        "worker-a"
    };
    let found = executions
        .iter()
        .find(|e| e.reconciliation == Some(Reconciliation::FoundByTag))
        .unwrap();
    let owner: String = sqlx::query_scalar(&format!(
        "SELECT owner FROM {schema}.execution_claims WHERE account_id = $1"
    ))
    .bind(found.account_id.as_uuid())
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(owner, survivor_name);
    let unfinished: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM {schema}.execution_claims WHERE NOT finished"
    ))
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(unfinished, 0);
    for (user, account) in accounts {
        let broker = connector.connect(user, account).await.unwrap();
        let book = broker.orders().await.unwrap();
        assert_eq!(book.len(), INTENTS_PER_ACCOUNT, "one order per intent");
        for execution in executions.iter().filter(|e| e.account_id == account) {
            let tagged = book
                .iter()
                .filter(|order| order.tag.as_deref() == Some(execution.tag.as_str()))
                .count();
            assert_eq!(tagged, 1, "intent {} placed once", execution.intent_id);
        }
    }
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&pool)
        .await
        .unwrap();
}
