//! `fanout-bench`: how fast one worker process places one order for each of many accounts
//! at the slot, against both simulators (in a child process), through broker-connect.
//!
//! ```text
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//! cargo run --release -p broker-worker --features fanout-bench --bin fanout-bench -- \
//!     --accounts 10000 --latency-ms 20 [--tls] [--journal file|postgres]
//! ```
//!
//! Half the accounts are at Angel One, half at Zerodha, on `--addresses` (2,000) egress
//! addresses in 127.0.0.0/8 (one user per address, holding that address's accounts). The vault
//! is in Postgres (a fresh schema, dropped at the end); Kite accounts log in through the
//! simulator's login page first, then pre-flight warms every session. Every placement waits
//! `--latency-ms` in the simulator. Printed: time from the slot to the last order
//! acknowledged (answer journalled), p50 and p99 of each account's delay from the slot, CPU
//! seconds and peak RSS of the worker process and, apart, of the simulators' process, TLS
//! handshakes after the slot, and the command line.
//!
//! The simulators run in a child process (this binary again, with `--serve-simulators`), so
//! that the worker's figures are its own: it prints the simulators' addresses and
//! certificates as one JSON line, then answers each `stats` line on its standard input with
//! one JSON line of counters, and stops at the end of its input.

// glibc's malloc cost a fifth of the worker's CPU at the slot (arena contention, chunk
// consolidation); jemalloc cut slot-to-last-order by a third in fanout-bench.
#[cfg(all(feature = "jemalloc", not(target_env = "msvc")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use broker_connect::{Connector, ConnectorSettings, EgressAddressSettings};
use broker_core::sim::{Fault, SimListen};
use broker_core::{
    BrokerKind, Exchange, HttpClientConfig, Instrument, InstrumentIndex, InstrumentKind, TlsConfig,
};
use broker_worker::postgres::PostgresJournal;
use broker_worker::{
    ConnectorAccounts, Execution, ExecutionState, FileJournal, FnIntents, Journal, JournalError,
    Notifiers, OrderIntent, Run, RunSettings, Runner, Scheduler, Slot, SlotSettings,
    TradingCalendar,
};
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Parser, ValueEnum};
use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use serde::{Deserialize, Serialize};
use sqlx::Executor;
use tokio::sync::Semaphore;
use vault::{
    AccountId, AccountRecord, AccountStatus, BrokerAccount, CredentialStore, Field, KeyId,
    KeyMaterial, Keyring, Place, PostgresBackend, RecordBackend, SealedFields, UserId, Vault,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum JournalKind {
    File,
    Postgres,
}

#[derive(Debug, Parser)]
#[command(name = "fanout-bench")]
struct Args {
    /// Accounts, half at each broker.
    #[arg(long, default_value_t = 10_000)]
    accounts: usize,
    /// Egress addresses in 127.0.0.0/8.
    #[arg(long, default_value_t = 2_000)]
    addresses: usize,
    /// Latency of every placement in the simulators.
    #[arg(long, default_value_t = 20)]
    latency_ms: u64,
    /// Simulators over HTTPS.
    #[arg(long)]
    tls: bool,
    /// Where the journal is.
    #[arg(long, value_enum, default_value_t = JournalKind::File)]
    journal: JournalKind,
    /// Postgres for the vault (and the Postgres journal).
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// Serve the simulators for a parent `fanout-bench` (see the module docs).
    #[arg(long, hide = true)]
    serve_simulators: bool,
}

const MPIN: &str = "4831";
const TOTP: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

fn address(index: usize) -> IpAddr {
    let (high, low) = (index / 250, index % 250);
    IpAddr::V4(Ipv4Addr::new(
        127,
        0,
        u8::try_from(10 + high).unwrap_or(u8::MAX),
        u8::try_from(1 + low).unwrap_or(u8::MAX),
    ))
}

fn broker_of(index: usize) -> BrokerKind {
    if index.is_multiple_of(2) {
        BrokerKind::AngelOne
    } else {
        BrokerKind::Zerodha
    }
}

fn listen(tls: bool) -> SimListen {
    if tls {
        SimListen::loopback().https()
    } else {
        SimListen::loopback()
    }
}

/// The egress address of account `index`: accounts are spread over the addresses in turn.
fn address_of(index: usize, addresses: usize) -> IpAddr {
    address(index % addresses.max(1))
}

/// Account `index`'s Angel One client (even indexes), the same in both processes.
struct AngelClient {
    api_key: String,
    client_code: String,
}

impl AngelClient {
    fn of(index: usize) -> Self {
        Self {
            api_key: format!("benchKEY{index}"),
            client_code: format!("B{index}"),
        }
    }
}

/// Account `index`'s Kite app (odd indexes), the same in both processes.
struct KiteApp {
    api_key: String,
    secret: String,
    user: String,
}

impl KiteApp {
    fn of(index: usize) -> Self {
        Self {
            api_key: format!("kite{index}"),
            secret: format!("kite{index}secret"),
            user: format!("Z{index}"),
        }
    }
}

/// Where the child's simulators listen, and the certificates to trust (HTTPS).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SimEndpoints {
    angel_url: String,
    kite_url: String,
    kite_login_page: String,
    certificates: Vec<String>,
}

/// The child's counters, read before and after the slot.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct SimStats {
    tls_handshakes: u64,
    accepted_orders: usize,
    cpu_seconds: f64,
    peak_rss_mb: f64,
}

/// The simulators' process (this binary with `--serve-simulators`), stopped when dropped.
struct Simulators {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    endpoints: SimEndpoints,
}

impl Simulators {
    fn spawn(args: &Args) -> Result<Self, String> {
        let program = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
        let mut command = Command::new(program);
        command
            .arg("--serve-simulators")
            .args(["--accounts", &args.accounts.to_string()])
            .args(["--addresses", &args.addresses.to_string()])
            .args(["--latency-ms", &args.latency_ms.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        if args.tls {
            command.arg("--tls");
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("simulators' process: {e}"))?;
        let (Some(input), Some(output)) = (child.stdin.take(), child.stdout.take()) else {
            return Err("simulators' process without pipes".into());
        };
        let mut simulators = Self {
            child,
            input,
            output: BufReader::new(output),
            endpoints: SimEndpoints {
                angel_url: String::new(),
                kite_url: String::new(),
                kite_login_page: String::new(),
                certificates: Vec::new(),
            },
        };
        simulators.endpoints = simulators.read_line()?;
        Ok(simulators)
    }

    fn read_line<T: serde::de::DeserializeOwned>(&mut self) -> Result<T, String> {
        let mut line = String::new();
        self.output
            .read_line(&mut line)
            .map_err(|e| format!("simulators' process: {e}"))?;
        serde_json::from_str(&line)
            .map_err(|e| format!("simulators' process answered {line:?}: {e}"))
    }

    /// Their counters now (blocks this worker thread for the round trip, outside the run).
    fn stats(&mut self) -> Result<SimStats, String> {
        tokio::task::block_in_place(|| {
            writeln!(self.input, "stats")
                .and_then(|()| self.input.flush())
                .map_err(|e| format!("simulators' process: {e}"))?;
            self.read_line()
        })
    }
}

impl Drop for Simulators {
    fn drop(&mut self) {
        // The bench is over (or failed): the simulators go with it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The child: both simulators with the parent's accounts, every placement slowed by the
/// latency; answers `stats` lines until its input ends.
async fn serve_simulators(args: Args) -> Result<(), String> {
    let angel_clients = (0..args.accounts)
        .filter(|index| broker_of(*index) == BrokerKind::AngelOne)
        .map(|index| {
            let client = AngelClient::of(index);
            broker_angelone::sim::SimAccount::new(client.api_key, client.client_code, MPIN, TOTP)
                .with_registered_ip(address_of(index, args.addresses))
        });
    let angel = broker_angelone::sim::Simulator::start(
        broker_angelone::sim::SimConfig::new(angel_clients)
            .without_quotas()
            .with_listen(listen(args.tls)),
    )
    .await
    .map_err(|e| format!("angel sim: {e}"))?;
    let kite_apps: Vec<_> = (0..args.accounts)
        .filter(|index| broker_of(*index) == BrokerKind::Zerodha)
        .map(|index| {
            let app = KiteApp::of(index);
            broker_zerodha::sim::SimAccount::new(app.api_key, app.secret, app.user)
                .with_allowed_ips([address_of(index, args.addresses)])
        })
        .collect();
    let kite_count = kite_apps.len();
    let kite = broker_zerodha::sim::Simulator::start(
        broker_zerodha::sim::SimConfig {
            accounts: kite_apps,
            listen: listen(args.tls),
            ..broker_zerodha::sim::SimConfig::default()
        }
        .without_quotas(),
    )
    .await
    .map_err(|e| format!("kite sim: {e}"))?;
    let latency = Duration::from_millis(args.latency_ms);
    for _ in 0..args.accounts - kite_count {
        angel.inject(
            broker_angelone::Endpoint::PlaceOrder,
            Fault::Latency(latency),
        );
    }
    for _ in 0..kite_count {
        kite.inject(
            broker_zerodha::Endpoint::PlaceOrder,
            Fault::Latency(latency),
        );
    }
    let endpoints = SimEndpoints {
        angel_url: angel.url(),
        kite_url: kite.url(),
        kite_login_page: kite.login_page(),
        certificates: [angel.certificate_pem(), kite.certificate_pem()]
            .into_iter()
            .flatten()
            .map(str::to_owned)
            .collect(),
    };
    let say = |line: String| {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}").and_then(|()| out.flush())
    };
    say(serde_json::to_string(&endpoints).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let (lines, mut requests) = tokio::sync::mpsc::unbounded_channel();
    // Standard input is read on a thread of its own: the simulators keep the runtime.
    std::thread::spawn(move || {
        for line in std::io::stdin().lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    while let Some(request) = requests.recv().await {
        if request.trim() != "stats" {
            return Err(format!("unknown request {request:?}"));
        }
        let (cpu_seconds, peak_rss_mb) = cpu_and_peak_rss();
        let stats = SimStats {
            tls_handshakes: angel.tls_handshakes() + kite.tls_handshakes(),
            accepted_orders: angel.accepted_orders().len() + kite.accepted_orders().len(),
            cpu_seconds,
            peak_rss_mb,
        };
        say(serde_json::to_string(&stats).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// A journal that notes when each execution's answer was journalled as placed.
struct Timed {
    inner: Arc<dyn Journal>,
    acknowledged: Mutex<HashMap<String, DateTime<Utc>>>,
}

#[async_trait]
impl Journal for Timed {
    async fn open_run(&self, date: NaiveDate, slot: Slot) -> Result<Run, JournalError> {
        self.inner.open_run(date, slot).await
    }
    async fn executions(&self, run: &Run) -> Result<Vec<Execution>, JournalError> {
        self.inner.executions(run).await
    }
    async fn recent_runs(&self, limit: usize) -> Result<Vec<Run>, JournalError> {
        self.inner.recent_runs(limit).await
    }
    async fn record(&self, execution: &Execution) -> Result<(), JournalError> {
        self.inner.record(execution).await?;
        if execution.state == ExecutionState::Placed {
            self.acknowledged
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(execution.intent_id.clone())
                .or_insert_with(Utc::now);
        }
        Ok(())
    }
}

/// (user + system CPU seconds, peak resident set in MB) of this process.
fn cpu_and_peak_rss() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|field| field.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Linux reports CPU time in USER_HZ, 100 on every mainstream configuration.
    let cpu = (ticks(11) + ticks(12)) / 100.0;
    (cpu, status_mb("VmHWM:"))
}

/// A memory figure of this process from `/proc/self/status` (`VmRSS:`, `VmHWM:`), in MB.
fn status_mb(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .unwrap_or(0.0);
    kb / 1024.0
}

fn percentile(sorted: &[f64], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn kite_instruments() -> InstrumentIndex {
    let sbin = Instrument {
        exchange: Exchange::Nse,
        trading_symbol: "SBIN".into(),
        broker_token: "779521".into(),
        exchange_token: "779521".into(),
        name: "SBIN".into(),
        kind: InstrumentKind::Equity,
        lot_size: 1,
        tick_size: Decimal::new(5, 2),
        expiry: None,
        strike: None,
    };
    [sbin].into_iter().collect()
}

fn order(broker: BrokerKind) -> serde_json::Value {
    let (symbol, price) = match broker {
        BrokerKind::Zerodha => ("SBIN", "800"),
        _ => ("SBIN-EQ", "790"),
    };
    serde_json::json!({
        "instrument": {"exchange": "NSE", "trading_symbol": symbol},
        "side": "buy", "order_type": "limit", "product": "delivery",
        "quantity": 1, "price": price
    })
}

async fn bench(args: Args) -> Result<(), String> {
    let err = |what: &'static str| move |error: String| format!("{what}: {error}");
    let setup_started = Instant::now();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let schema = format!("fanout_bench_{}", uuid::Uuid::new_v4().simple());
    let database_url = args
        .database_url
        .clone()
        .ok_or("DATABASE_URL (or --database-url) is needed: the vault is in Postgres")?;
    let backend = PostgresBackend::connect_in_schema(&database_url, &schema)
        .await
        .map_err(|e| format!("vault: {e}"))?;
    let pool = backend.pool().clone();
    let keyring = Keyring::new(
        KeyId::new("kid0").map_err(|e| e.to_string())?,
        &KeyMaterial::generate(),
    );

    // Accounts: sealed credentials, written in one batch.
    let users: Vec<UserId> = (0..args.addresses).map(|_| UserId::new_random()).collect();
    let mut records = Vec::with_capacity(args.accounts);
    let mut kite_accounts = Vec::new();
    for index in 0..args.accounts {
        let broker = broker_of(index);
        let mut account = BrokerAccount::new(users[index % args.addresses], broker);
        account.status = AccountStatus::Active;
        account.auto_execute = true;
        account.egress_ip = Some(address_of(index, args.addresses));
        let values: Vec<(Field, String)> = match broker {
            BrokerKind::Zerodha => {
                let kite = KiteApp::of(index);
                vec![
                    (Field::ApiKey, kite.api_key),
                    (Field::ApiSecret, kite.secret),
                ]
            }
            _ => {
                let angel = AngelClient::of(index);
                vec![
                    (Field::ApiKey, angel.api_key),
                    (Field::ClientId, angel.client_code),
                    (Field::Mpin, MPIN.to_owned()),
                    (Field::TotpSecret, TOTP.to_owned()),
                ]
            }
        };
        let mut secrets = SealedFields::new();
        for (field, value) in values {
            let place = Place {
                account: account.id,
                user: account.user_id,
                broker,
                field,
            };
            let sealed = keyring
                .seal(&place, &SecretString::from(value))
                .map_err(|e| e.to_string())?;
            secrets.insert(field, sealed);
        }
        if broker == BrokerKind::Zerodha {
            kite_accounts.push(account.clone());
        }
        records.push(AccountRecord { account, secrets });
    }
    for chunk in records.chunks(1000) {
        backend
            .insert_accounts(chunk)
            .await
            .map_err(|e| format!("accounts: {e}"))?;
    }
    let store: Arc<dyn CredentialStore> = Arc::new(Vault::new(backend, keyring));

    let mut simulators = Simulators::spawn(&args)?;
    let endpoints = simulators.endpoints.clone();

    let mut settings = ConnectorSettings::default();
    settings.allow_plain_http = true;
    settings.egress.addresses = (0..args.addresses)
        .map(|index| EgressAddressSettings::new(address(index)))
        .collect();
    settings.angelone.api_url = Some(endpoints.angel_url.clone());
    settings.zerodha.api_url = Some(endpoints.kite_url.clone());
    settings.zerodha.login_url = Some(endpoints.kite_login_page.clone());
    for (index, pem) in endpoints.certificates.iter().enumerate() {
        let path = dir.path().join(format!("sim{index}.pem"));
        std::fs::write(&path, pem).map_err(|e| e.to_string())?;
        settings.extra_root_certificates.push(path);
    }
    let connector = Connector::new(store, settings, SecretSlice::from(vec![7u8; 32]))
        .await
        .map_err(|e| format!("connector: {e}"))?;
    let master = include_str!("../../../../broker-angelone/src/sim/scrip_master.json");
    connector.instruments(BrokerKind::AngelOne).replace(
        broker_angelone::parse_instruments(master.as_bytes())
            .map_err(|e| e.to_string())?
            .index,
    );
    connector
        .instruments(BrokerKind::Zerodha)
        .replace(kite_instruments());

    // The Kite holders' morning logins.
    let mut browser = HttpClientConfig::default().allow_plain_http();
    if !endpoints.certificates.is_empty() {
        browser.tls = TlsConfig::with_extra_roots(endpoints.certificates.join("\n").as_bytes())
            .map_err(|e| e.to_string())?;
    }
    let browser = browser.build().map_err(|e| e.to_string())?;
    let permits = Arc::new(Semaphore::new(64));
    let mut logins = tokio::task::JoinSet::new();
    for account in &kite_accounts {
        let (connector, browser, permits) =
            (connector.clone(), browser.clone(), Arc::clone(&permits));
        let (user, id): (UserId, AccountId) = (account.user_id, account.id);
        logins.spawn(async move {
            let _permit = permits.acquire().await;
            let url = connector
                .kite_login_url(user, id)
                .await
                .map_err(|e| e.to_string())?;
            let url = reqwest::Url::parse(&url).map_err(|e| e.to_string())?;
            let redirect = broker_zerodha::sim::browser_login(browser.client(), url)
                .await
                .map_err(|e| e.to_string())?;
            let state = redirect.param("state").unwrap_or_default().to_owned();
            connector
                .complete_kite_login(&state, redirect.request_token().expose_secret())
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        });
    }
    while let Some(joined) = logins.join_next().await {
        joined
            .map_err(|e| e.to_string())?
            .map_err(err("kite login"))?;
    }

    // Built afresh on each call (as a real source reads its table), so the run's copy is the
    // only one alive at the slot.
    let due: Vec<(UserId, AccountId, BrokerKind)> = records
        .iter()
        .map(|record| {
            let account = &record.account;
            (account.user_id, account.id, account.broker)
        })
        .collect();
    // The bench's own copies of the sealed accounts are not the worker's memory.
    drop(records);
    let kite_logins = kite_accounts.len();
    drop(kite_accounts);
    let intents = move |_: Slot| {
        Ok(due
            .iter()
            .enumerate()
            .map(|(index, &(user_id, account_id, broker))| OrderIntent {
                id: format!("bench{index}"),
                user_id,
                account_id,
                slot: Slot::DEFAULT,
                order: order(broker).into(),
                enabled: true,
            })
            .collect())
    };
    let inner: Arc<dyn Journal> = match args.journal {
        JournalKind::File => Arc::new(
            FileJournal::open(dir.path().join("journal.jsonl")).map_err(|e| e.to_string())?,
        ),
        JournalKind::Postgres => Arc::new(
            PostgresJournal::new(pool.clone())
                .await
                .map_err(|e| e.to_string())?,
        ),
    };
    let journal = Arc::new(Timed {
        inner,
        acknowledged: Mutex::new(HashMap::new()),
    });
    let runner = Runner::new(
        journal.clone(),
        Arc::new(ConnectorAccounts::new(connector.clone())),
        Arc::new(FnIntents::new(intents)),
        Arc::new(Notifiers::default()),
    )
    .with_settings(RunSettings {
        refresh_delay_ms: 0,
        ..RunSettings::default()
    });
    let scheduler = Scheduler::new(runner, TradingCalendar::nse_2026(), SlotSettings::default());
    let date = NaiveDate::from_ymd_opt(2026, 12, 1).ok_or("date")?;
    let preflight = scheduler
        .preflight(date, Slot::DEFAULT)
        .await
        .map_err(|e| e.to_string())?;
    if !preflight.problems.is_empty() {
        return Err(format!(
            "pre-flight: {} accounts cannot trade, first: {:?}",
            preflight.problems.len(),
            preflight.problems.first()
        ));
    }
    let setup = setup_started.elapsed();

    // The slot.
    let simulators_before = simulators.stats()?;
    let (cpu_before, peak_before_slot) = cpu_and_peak_rss();
    let rss_at_slot = status_mb("VmRSS:");
    let slot = Utc::now();
    let report = scheduler
        .run_on(date, Slot::DEFAULT)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("not a trading day")?;
    let (cpu_after, peak_rss) = cpu_and_peak_rss();
    let simulators_after = simulators.stats()?;

    let placed = report
        .executions
        .iter()
        .filter(|e| e.state == ExecutionState::Placed)
        .count();
    let acknowledged = journal
        .acknowledged
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let mut delays: Vec<f64> = acknowledged
        .values()
        .map(|at| (*at - slot).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6)
        .collect();
    delays.sort_by(f64::total_cmp);
    let last = delays.last().copied().unwrap_or(f64::NAN);
    println!(
        "command: {}",
        std::env::args().collect::<Vec<_>>().join(" ")
    );
    println!(
        "setup (vault, {} Kite logins, pre-flight of {} accounts): {:.1} s",
        kite_logins,
        preflight.ready.len(),
        setup.as_secs_f64()
    );
    println!(
        "placed {placed} of {} orders; slot to last order acknowledged: {last:.3} s",
        args.accounts
    );
    println!(
        "per-account delay from the slot: p50 {:.3} s, p99 {:.3} s",
        percentile(&delays, 0.5),
        percentile(&delays, 0.99)
    );
    println!(
        "worker: CPU during the run {:.2} s, peak RSS {peak_rss:.0} MB (RSS at the slot {rss_at_slot:.0} MB, peak before it {peak_before_slot:.0} MB)",
        cpu_after - cpu_before
    );
    println!(
        "simulators (their own process): CPU during the run {:.2} s, peak RSS {:.0} MB; orders they accepted in the run: {}",
        simulators_after.cpu_seconds - simulators_before.cpu_seconds,
        simulators_after.peak_rss_mb,
        simulators_after.accepted_orders - simulators_before.accepted_orders
    );
    println!(
        "TLS handshakes after the slot: {}",
        simulators_after.tls_handshakes - simulators_before.tls_handshakes
    );
    drop(pool);
    let admin = sqlx::PgPool::connect(&database_url)
        .await
        .map_err(|e| e.to_string())?;
    admin
        .execute(format!("DROP SCHEMA {schema} CASCADE").as_str())
        .await
        .map_err(|e| e.to_string())?;
    if placed != args.accounts {
        return Err(format!("only {placed} of {} orders placed", args.accounts));
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("fanout-bench: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let outcome = if args.serve_simulators {
        runtime.block_on(serve_simulators(args))
    } else {
        runtime.block_on(bench(args))
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("fanout-bench: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
