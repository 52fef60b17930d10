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

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use broker_connect::{ConnectorSettings, EgressAddressSettings, EgressScope};
use broker_core::BrokerKind;
use broker_worker::{Execution, ExecutionState, FileJournal, Journal, OrderIntent, Slot};
use chrono::NaiveDate;
use common::sims::{ANGEL_MPIN, ANGEL_TOTP, angel_api_key, angel_credentials, ip, resting_buy};
use secrecy::SecretSlice;
use vault::{CredentialStore, FileBackend, KeyId, KeyMaterial, Keyring, UserId, Vault};

const KILLS: u64 = 24;
const HANGS_FROM: u64 = 20;
const ACCOUNTS: usize = 4;
const INTENTS_PER_ACCOUNT: usize = 10;

/// The directory the test binaries and the binaries of the workspace are built into.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_owned()
}

/// Builds `angelone-sim` (cargo releases the build lock before it runs tests).
fn angelone_sim_binary() -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "-p",
            "broker-angelone",
            "--features",
            "sim",
            "--bin",
            "angelone-sim",
        ])
        .env("CARGO_TARGET_DIR", target_dir().parent().unwrap())
        .status()
        .unwrap();
    assert!(status.success(), "building angelone-sim failed");
    target_dir().join("angelone-sim")
}

/// A child process killed when the test ends, however it ends.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the simulator and returns it with its URL.
fn start_simulator(clients: &[(String, String)]) -> (Reaped, String) {
    let mut command = Command::new(angelone_sim_binary());
    command.args(["--listen", "127.0.0.1:0", "--no-quotas"]);
    for (client, registered) in clients {
        command.arg("--account").arg(format!(
            "{}:{client}:{ANGEL_MPIN}:{ANGEL_TOTP}:{registered}",
            angel_api_key(client)
        ));
    }
    let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let child = Reaped(child);
    let mut lines = BufReader::new(stdout).lines();
    let url = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("SMARTAPI_SIM_URL=").map(str::to_owned))
        .expect("the simulator prints its URL");
    // Keep reading, so the simulator never writes into a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, url)
}

/// Queues a fault on the simulator's next placement: a latency, or (`None`) a hang, in which
/// the order is booked and never answered.
fn queue_fault(url: &str, latency_ms: Option<u64>) {
    let url = format!("{url}/_sim/fault");
    let body = match latency_ms {
        Some(millis) => {
            format!(r#"{{"endpoint":"placeOrder","fault":"latency","millis":{millis}}}"#)
        }
        None => r#"{"endpoint":"placeOrder","fault":"hang"}"#.to_owned(),
    };
    let answer = std::thread::spawn(move || {
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            reqwest::Client::new()
                .post(url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
        })
    })
    .join()
    .unwrap();
    assert!(answer.is_success(), "{answer}");
}

fn submitting_records(journal: &Path) -> usize {
    std::fs::read_to_string(journal)
        .unwrap_or_default()
        .lines()
        .filter(|line| line.contains(r#""state":"submitting""#))
        .count()
}

fn worker(config: &Path, keys: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_broker-worker"));
    command
        .args(["--config"])
        .arg(config)
        .args(["run", "--slot", "15:10", "--date", "2026-12-01"])
        .env("BROKER_VAULT_KEYS", keys)
        .env("BROKER_KITE_STATE_KEY", "2a".repeat(32))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
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
    let mut settings = ConnectorSettings::default();
    settings.allow_plain_http = true;
    settings.angelone.api_url = Some(sim_url.clone());
    for (user, (_, address)) in users.iter().zip(&clients) {
        let mut entry = EgressAddressSettings::new(ip(address));
        entry.reserved_for = Some(EgressScope::User(*user));
        settings.egress.addresses.push(entry);
    }
    let connector = broker_connect::Connector::new(
        store.clone(),
        settings.clone(),
        SecretSlice::from(vec![42u8; 32]),
    )
    .await
    .unwrap();
    let master = include_str!("../../../broker-angelone/src/sim/scrip_master.json");
    let master_path = dir.path().join("scrip_master.json");
    std::fs::write(&master_path, master).unwrap();
    connector.instruments(BrokerKind::AngelOne).replace(
        broker_angelone::parse_instruments(master.as_bytes())
            .unwrap()
            .index,
    );
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
                order: resting_buy(BrokerKind::AngelOne),
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
