//! Processes: the `angelone-sim` binary and the worker binary, killed when dropped.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use std::sync::Arc;

use broker_connect::{Connector, ConnectorSettings, EgressAddressSettings, EgressScope};
use broker_core::BrokerKind;
use secrecy::SecretSlice;
use vault::{CredentialStore, UserId};

use super::sims::{ANGEL_MPIN, ANGEL_TOTP, angel_api_key, ip};

/// The directory the test binaries and the binaries of the workspace are built into.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_owned()
}

/// Builds `angelone-sim` (cargo releases the build lock before it runs tests).
pub fn angelone_sim_binary() -> PathBuf {
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
pub struct Reaped(pub Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the simulator and returns it with its URL.
pub fn start_simulator(clients: &[(String, String)]) -> (Reaped, String) {
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
pub fn queue_fault(url: &str, latency_ms: Option<u64>) {
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

/// The worker binary running the 2026-12-01 15:10 slot with these settings.
pub fn worker(config: &Path, keys: &str) -> Command {
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

/// The connector the worker processes share: Angel One at `sim_url` over plain http, each user
/// on the address of their simulator client (reserved for them), and the simulator's scrip
/// master loaded, also written into `dir` for the worker binary. Returns the connector, its
/// settings (for the binary's configuration) and the master's path.
pub async fn angelone_connector(
    store: Arc<dyn CredentialStore>,
    sim_url: &str,
    users: &[UserId],
    clients: &[(String, String)],
    dir: &Path,
) -> (Connector, ConnectorSettings, PathBuf) {
    let mut settings = ConnectorSettings::default();
    settings.allow_plain_http = true;
    settings.angelone.api_url = Some(sim_url.to_owned());
    for (user, (_, address)) in users.iter().zip(clients) {
        let mut entry = EgressAddressSettings::new(ip(address));
        entry.reserved_for = Some(EgressScope::User(*user));
        settings.egress.addresses.push(entry);
    }
    let connector = Connector::new(store, settings.clone(), SecretSlice::from(vec![42u8; 32]))
        .await
        .unwrap();
    let master = include_str!("../../../../broker-angelone/src/sim/scrip_master.json");
    let master_path = dir.join("scrip_master.json");
    std::fs::write(&master_path, master).unwrap();
    connector.instruments(BrokerKind::AngelOne).replace(
        broker_angelone::parse_instruments(master.as_bytes())
            .unwrap()
            .index,
    );
    (connector, settings, master_path)
}
