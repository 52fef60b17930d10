//! The binary under test, a store (file, and Postgres when DATABASE_URL is set), a keyring,
//! and both simulators in this process on loopback, reached through a settings file.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use assert_cmd::Command;
use broker_core::sim::SimListen;
use broker_core::{AngelOneCredentials, BrokerCredentials, ZerodhaCredentials};
use secrecy::SecretString;
use tempfile::TempDir;
use vault::{CredentialStore, FileBackend, Keyring, PostgresBackend, UserId, Vault};

pub const ANGEL_MPIN: &str = "48317265";
pub const ANGEL_TOTP: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
pub const KITE_SECRET_SUFFIX: &str = "secret";

/// Which store a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    File,
    Postgres,
}

/// The stores to test: the file store always; Postgres when DATABASE_URL is set (a skip is
/// printed when it is not, and is a failure under CI=true).
pub fn stores() -> Vec<StoreKind> {
    let mut kinds = vec![StoreKind::File];
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => kinds.push(StoreKind::Postgres),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("DATABASE_URL is not set under CI=true: the Postgres store must be tested")
        }
        _ => eprintln!("skipping the Postgres store: DATABASE_URL is not set"),
    }
    kinds
}

/// One test's world: a directory with the keyring, the data directory and the settings.
pub struct Env {
    pub dir: TempDir,
    pub kind: StoreKind,
    pub schema: String,
    pub keys: PathBuf,
    pub data: PathBuf,
    pub config: PathBuf,
}

impl Env {
    /// A fresh world with keyring `k1` (made by the binary) and an empty store.
    pub fn new(kind: StoreKind) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        let data = dir.path().join("data");
        let config = dir.path().join("brokerctl.toml");
        std::fs::write(&config, "").unwrap();
        let schema = format!("brokerctl_{}", uuid::Uuid::new_v4().simple());
        let env = Self {
            dir,
            kind,
            schema,
            keys,
            data,
            config,
        };
        let generated = env.run(&["keys", "generate", "--id", "k1"], None);
        assert!(generated.status.success(), "{generated:?}");
        env
    }

    /// The binary with this world's environment (and nothing inherited that could change it).
    pub fn cmd(&self) -> Command {
        Command::from_std(self.std_cmd())
    }

    /// [`Env::cmd`] as a standard command, for a process the test controls (and kills).
    pub fn std_cmd(&self) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_brokerctl"));
        command
            .env_remove("BROKER_VAULT_KEYS")
            .env_remove("BROKER_KITE_STATE_KEY")
            .env("BROKER_KEYS_FILE", &self.keys)
            .env("BROKER_DATA_DIR", &self.data)
            .env("BROKER_CONFIG", &self.config)
            .env("BROKER_DB_SCHEMA", &self.schema)
            .env("BROKER_KITE_STATE_KEY", "ab".repeat(32))
            .env("RUST_LOG", "warn");
        if self.kind == StoreKind::File {
            command.env_remove("DATABASE_URL");
        }
        command
    }

    /// Runs the binary with `args` and optional standard input.
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut command = self.cmd();
        command.args(args);
        if let Some(input) = stdin {
            command.write_stdin(input);
        }
        command.output().unwrap()
    }

    /// Runs and requires success; the standard output.
    pub fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let output = self.run(args, stdin);
        assert!(
            output.status.success(),
            "brokerctl {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// Runs with `--json` and parses the answer.
    pub fn json(&self, args: &[&str], stdin: Option<&str>) -> serde_json::Value {
        let mut args = args.to_vec();
        args.push("--json");
        serde_json::from_str(&self.ok(&args, stdin)).unwrap()
    }

    /// The store as the binary opens it, through the vault library.
    pub async fn store(&self) -> Arc<dyn CredentialStore> {
        let keyring = Keyring::from_file(&self.keys).unwrap();
        match self.kind {
            StoreKind::File => {
                Arc::new(Vault::new(FileBackend::open(&self.data).unwrap(), keyring))
            }
            StoreKind::Postgres => Arc::new(Vault::new(self.postgres().await, keyring)),
        }
    }

    /// The Postgres backend in this world's schema.
    pub async fn postgres(&self) -> PostgresBackend {
        let url = std::env::var("DATABASE_URL").unwrap();
        PostgresBackend::connect_in_schema(&url, &self.schema)
            .await
            .unwrap()
    }

    /// Ciphertexts per key id, as stored now.
    pub async fn ciphertexts_per_key(&self) -> std::collections::BTreeMap<String, u64> {
        use vault::RecordBackend;
        match self.kind {
            StoreKind::File => FileBackend::open(&self.data)
                .unwrap()
                .ciphertexts_per_key()
                .await
                .unwrap(),
            StoreKind::Postgres => self.postgres().await.ciphertexts_per_key().await.unwrap(),
        }
    }

    /// Writes the settings reaching the simulators, with one egress address reserved per
    /// user, and the intents file.
    pub fn configure(&self, sims: &Sims, egress: &[(&str, UserId)], intents: &serde_json::Value) {
        let angel_master = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../broker-angelone/src/sim/scrip_master.json");
        let kite_master = self.dir.path().join("kite-instruments.csv");
        std::fs::write(
            &kite_master,
            "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,instrument_type,segment,exchange\n\
             779521,3045,SBIN,STATE BANK OF INDIA,0,,0,0.05,1,EQ,NSE,NSE\n\
             2953217,11536,TCS,TATA CONSULTANCY SERV LT,0,,0,0.05,1,EQ,NSE,NSE\n",
        )
        .unwrap();
        let intents_file = self.dir.path().join("intents.json");
        std::fs::write(&intents_file, intents.to_string()).unwrap();
        let journal = self.dir.path().join("journal.jsonl");
        let mut text = format!(
            "angelone_instruments = {:?}\nzerodha_instruments = {:?}\nintents_file = {:?}\n",
            angel_master.display().to_string(),
            kite_master.display().to_string(),
            intents_file.display().to_string(),
        );
        if self.kind == StoreKind::File {
            text.push_str(&format!(
                "journal_file = {:?}\n",
                journal.display().to_string()
            ));
        }
        text.push_str(&format!(
            "[run]\nreconcile_delay_ms = 50\nrefresh_delay_ms = 50\n\n[connector]\nallow_plain_http = true\n\n[connector.angelone]\napi_url = {:?}\n\n[connector.zerodha]\napi_url = {:?}\nlogin_url = {:?}\n",
            sims.angel.url(),
            sims.kite.url(),
            sims.kite.login_page()
        ));
        for (address, user) in egress {
            text.push_str(&format!(
                "\n[[connector.egress.addresses]]\nbind = {address:?}\nreserved_for = {{ user = \"{user}\" }}\n"
            ));
        }
        std::fs::write(&self.config, text).unwrap();
    }
}

/// Both simulators.
pub struct Sims {
    pub angel: broker_angelone::sim::Simulator,
    pub kite: broker_zerodha::sim::Simulator,
}

pub fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// An Angel One client's API key.
pub fn angel_api_key(client: &str) -> String {
    format!("angelKEY{client}")
}

/// Angel One clients (client code, registered address) and Kite apps (api key, user, allowed
/// address).
pub async fn sims(angel: &[(&str, &str)], kite: &[(&str, &str, &str)]) -> Sims {
    use broker_angelone::sim as angel_sim;
    use broker_zerodha::sim as kite_sim;
    let accounts = angel.iter().map(|(client, registered)| {
        angel_sim::SimAccount::new(angel_api_key(client), *client, ANGEL_MPIN, ANGEL_TOTP)
            .with_registered_ip(ip(registered))
    });
    let angel = angel_sim::Simulator::start(
        angel_sim::SimConfig::new(accounts)
            .without_quotas()
            .with_listen(SimListen::loopback()),
    )
    .await
    .unwrap();
    let apps = kite
        .iter()
        .map(|(key, user, allowed)| {
            kite_sim::SimAccount::new(*key, format!("{key}{KITE_SECRET_SUFFIX}"), *user)
                .with_allowed_ips([ip(allowed)])
        })
        .collect();
    let kite = kite_sim::Simulator::start(
        kite_sim::SimConfig {
            accounts: apps,
            listen: SimListen::loopback(),
            ..kite_sim::SimConfig::default()
        }
        .without_quotas(),
    )
    .await
    .unwrap();
    Sims { angel, kite }
}

/// The secrets of an Angel One client, as `accounts add --secrets-stdin` reads them.
pub fn angel_secrets(client: &str) -> String {
    format!(
        "api_key={}\nclient_code={client}\nmpin={ANGEL_MPIN}\ntotp_secret={ANGEL_TOTP}\n",
        angel_api_key(client)
    )
}

/// The secrets of a Kite app, as JSON.
pub fn kite_secrets(key: &str) -> String {
    serde_json::json!({ "api_key": key, "api_secret": format!("{key}{KITE_SECRET_SUFFIX}") })
        .to_string()
}

/// Credentials of an Angel One client, for rows made through the library.
pub fn angel_credentials(client: &str) -> BrokerCredentials {
    BrokerCredentials::AngelOne(
        AngelOneCredentials::new(
            SecretString::from(angel_api_key(client)),
            client,
            SecretString::from(ANGEL_MPIN),
            SecretString::from(ANGEL_TOTP),
        )
        .unwrap(),
    )
}

/// Credentials of a Kite app.
pub fn kite_credentials(key: &str) -> BrokerCredentials {
    BrokerCredentials::Zerodha(
        ZerodhaCredentials::new(
            SecretString::from(key.to_owned()),
            SecretString::from(format!("{key}{KITE_SECRET_SUFFIX}")),
        )
        .unwrap(),
    )
}

/// Adds an account through the binary; its id.
pub fn add_account(env: &Env, user: UserId, broker: &str, secrets: &str) -> String {
    let added = env.json(
        &[
            "accounts",
            "add",
            "--user",
            &user.to_string(),
            "--broker",
            broker,
            "--secrets-stdin",
        ],
        Some(secrets),
    );
    added["id"].as_str().unwrap().to_owned()
}

/// The standard error as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Both outputs as text.
pub fn all_output(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
