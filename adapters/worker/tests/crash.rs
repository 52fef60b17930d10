//! Crash test: the worker binary is killed (SIGKILL) at 24 different points between
//! journalling `submitting` and recording the answer, and restarted each time; the Angel One
//! simulator runs in its own process (the `angelone-sim` binary), so it survives every crash.
//! In the end its order book holds every intent exactly once.
//!
//! Each round queues a 200 ms latency (the last four rounds: a hang) on the simulator's next
//! placement, starts the worker, waits for a new `submitting` record in the journal and kills
//! the worker 0, 10, 20, ... 230 ms later: before the request left, while the simulator holds
//! it, after it booked the order but before the answer was read, and after the answer before
//! it was journalled.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::processes::{Reaped, angelone_connector, queue_fault, start_simulator, worker};

use std::path::Path;
use std::time::{Duration, Instant};

use broker_core::BrokerKind;
use broker_worker::{Execution, ExecutionState, FileJournal, Journal, OrderIntent, Slot};
use chrono::NaiveDate;
use common::sims::{angel_credentials, resting_buy};
use vault::{CredentialStore, FileBackend, KeyId, KeyMaterial, Keyring, UserId, Vault};

const KILLS: u64 = 24;
const HANGS_FROM: u64 = 20;
const ACCOUNTS: usize = 4;
const INTENTS_PER_ACCOUNT: usize = 10;

fn submitting_records(journal: &Path) -> usize {
    std::fs::read_to_string(journal)
        .unwrap_or_default()
        .lines()
        .filter(|line| line.contains(r#""state":"submitting""#))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_twenty_four_points_every_intent_is_placed_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let users: Vec<UserId> = (0..ACCOUNTS).map(|_| UserId::new_random()).collect();
    let clients: Vec<(String, String)> = (0..ACCOUNTS)
        .map(|index| {
            (
                format!("C{}", 2001 + index),
                format!("127.0.0.{}", 71 + index),
            )
        })
        .collect();
    let (_simulator, sim_url) = start_simulator(&clients);

    // The vault, the accounts, their egress addresses and intents, as operators set them up.
    let key = KeyMaterial::generate();
    let keys = format!(
        "kid0:{}",
        secrecy::ExposeSecret::expose_secret(&key.to_base64())
    );
    let keyring = Keyring::new(KeyId::new("kid0").unwrap(), &key);
    let vault_dir = dir.path().join("vault");
    let store: std::sync::Arc<dyn CredentialStore> =
        std::sync::Arc::new(Vault::new(FileBackend::open(&vault_dir).unwrap(), keyring));
    let (connector, settings, master_path) =
        angelone_connector(store.clone(), &sim_url, &users, &clients, dir.path()).await;
    let mut intents = Vec::new();
    let mut accounts = Vec::new();
    for (user, (client, _)) in users.iter().zip(&clients) {
        let account = common::sims::tenant(&connector, *user, &angel_credentials(client)).await;
        accounts.push((*user, account));
        for index in 0..INTENTS_PER_ACCOUNT {
            intents.push(OrderIntent {
                id: format!("{client}-{index}"),
                user_id: *user,
                account_id: account,
                slot: Slot::DEFAULT,
                order: resting_buy(BrokerKind::AngelOne).into(),
                enabled: true,
            });
        }
    }
    let intents_path = dir.path().join("intents.json");
    std::fs::write(
        &intents_path,
        serde_json::json!({ "intents": intents }).to_string(),
    )
    .unwrap();
    let journal_path = dir.path().join("journal.jsonl");
    let mut config = toml::Table::new();
    config.insert(
        "journal_file".into(),
        journal_path.display().to_string().into(),
    );
    config.insert(
        "intents_file".into(),
        intents_path.display().to_string().into(),
    );
    config.insert(
        "angelone_instruments".into(),
        master_path.display().to_string().into(),
    );
    config.insert(
        "store".into(),
        toml::Value::try_from(toml::toml! { file = "" }).unwrap(),
    );
    config["store"]["file"] = vault_dir.display().to_string().into();
    config.insert(
        "run".into(),
        toml::Value::try_from(toml::toml! {
            max_concurrency = 1
            reconcile_delay_ms = 50
            refresh_delay_ms = 0
        })
        .unwrap(),
    );
    config.insert(
        "connector".into(),
        toml::Value::try_from(&settings).unwrap(),
    );
    let config_path = dir.path().join("worker.toml");
    std::fs::write(&config_path, toml::to_string(&config).unwrap()).unwrap();

    // The crashes.
    let mut kills = 0;
    for round in 0..KILLS {
        // The last rounds hang the placement, so that the kill surely lands after the
        // simulator booked the order: only its tag can tell the restarted worker.
        queue_fault(&sim_url, (round < HANGS_FROM).then_some(200));
        let before = submitting_records(&journal_path);
        let mut child = Reaped(worker(&config_path, &keys).spawn().unwrap());
        let deadline = Instant::now() + Duration::from_secs(60);
        while submitting_records(&journal_path) == before {
            assert!(
                Instant::now() < deadline,
                "round {round}: no submitting record"
            );
            assert!(
                child.0.try_wait().unwrap().is_none(),
                "round {round}: the worker ended before placing anything"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(round * 10));
        child.0.kill().unwrap();
        child.0.wait().unwrap();
        kills += 1;
    }
    assert_eq!(kills, KILLS);

    // The last start finishes the run.
    let status = worker(&config_path, &keys).status().unwrap();
    assert!(status.success());

    let journal = FileJournal::open(&journal_path).unwrap();
    let run = journal
        .open_run(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(), Slot::DEFAULT)
        .await
        .unwrap();
    let executions: Vec<Execution> = journal.executions(&run).await.unwrap();
    assert_eq!(executions.len(), intents.len());
    assert!(
        executions.iter().all(|e| e.state == ExecutionState::Placed),
        "{executions:#?}"
    );
    // Some crashes left an order at the broker that only its tag could find.
    let found = executions
        .iter()
        .filter(|e| e.reconciliation == Some(broker_worker::Reconciliation::FoundByTag))
        .count();
    assert!(
        found > 0,
        "no crash landed after the simulator booked an order"
    );
    eprintln!(
        "{found} of {} executions were found by tag after a crash",
        executions.len()
    );
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
}
