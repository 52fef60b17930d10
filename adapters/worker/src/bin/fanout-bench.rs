//! `fanout-bench`: how fast one worker process places one order for each of many accounts
//! at the slot, against both simulators (in this process), through broker-connect.
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
//! seconds and peak RSS of the process (simulators included), TLS handshakes after the slot,
//! and the command line.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
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
    database_url: String,
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
    async fn runs(&self) -> Result<Vec<Run>, JournalError> {
        self.inner.runs().await
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
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak_kb = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .unwrap_or(0.0);
    (cpu, peak_kb / 1024.0)
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
    let backend = PostgresBackend::connect_in_schema(&args.database_url, &schema)
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
    let mut angel_accounts = Vec::new();
    let mut kite_accounts = Vec::new();
    for index in 0..args.accounts {
        let slot = index % args.addresses;
        let broker = broker_of(index);
        let mut account = BrokerAccount::new(users[slot], broker);
        account.status = AccountStatus::Active;
        account.auto_execute = true;
        account.egress_ip = Some(address(slot));
        let values: Vec<(Field, String)> = match broker {
            BrokerKind::Zerodha => vec![
                (Field::ApiKey, format!("kite{index}")),
                (Field::ApiSecret, format!("kite{index}secret")),
            ],
            _ => vec![
                (Field::ApiKey, format!("benchKEY{index}")),
                (Field::ClientId, format!("B{index}")),
                (Field::Mpin, MPIN.to_owned()),
                (Field::TotpSecret, TOTP.to_owned()),
            ],
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
        match broker {
            BrokerKind::Zerodha => kite_accounts.push((index, account.clone())),
            _ => angel_accounts.push((index, account.clone())),
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

    // The simulators, each order slowed by the latency.
    let angel = broker_angelone::sim::Simulator::start(
        broker_angelone::sim::SimConfig::new(angel_accounts.iter().map(|(index, account)| {
            broker_angelone::sim::SimAccount::new(
                format!("benchKEY{index}"),
                format!("B{index}"),
                MPIN,
                TOTP,
            )
            .with_registered_ip(account.egress_ip.unwrap_or(address(0)))
        }))
        .without_quotas()
        .with_listen(listen(args.tls)),
    )
    .await
    .map_err(|e| format!("angel sim: {e}"))?;
    let kite = broker_zerodha::sim::Simulator::start(
        broker_zerodha::sim::SimConfig {
            accounts: kite_accounts
                .iter()
                .map(|(index, account)| {
                    broker_zerodha::sim::SimAccount::new(
                        format!("kite{index}"),
                        format!("kite{index}secret"),
                        format!("Z{index}"),
                    )
                    .with_allowed_ips(account.egress_ip)
                })
                .collect(),
            listen: listen(args.tls),
            ..broker_zerodha::sim::SimConfig::default()
        }
        .without_quotas(),
    )
    .await
    .map_err(|e| format!("kite sim: {e}"))?;
    let latency = Duration::from_millis(args.latency_ms);
    for _ in &angel_accounts {
        angel.inject(
            broker_angelone::Endpoint::PlaceOrder,
            Fault::Latency(latency),
        );
    }
    for _ in &kite_accounts {
        kite.inject(
            broker_zerodha::Endpoint::PlaceOrder,
            Fault::Latency(latency),
        );
    }

    let mut settings = ConnectorSettings::default();
    settings.allow_plain_http = true;
    settings.egress.addresses = (0..args.addresses)
        .map(|index| EgressAddressSettings::new(address(index)))
        .collect();
    settings.angelone.api_url = Some(angel.url());
    settings.zerodha.api_url = Some(kite.url());
    settings.zerodha.login_url = Some(kite.login_page());
    for (index, pem) in [angel.certificate_pem(), kite.certificate_pem()]
        .into_iter()
        .flatten()
        .enumerate()
    {
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
    if let Some(pem) = kite.certificate_pem() {
        browser.tls = TlsConfig::with_extra_roots(pem.as_bytes()).map_err(|e| e.to_string())?;
    }
    let browser = browser.build().map_err(|e| e.to_string())?;
    let permits = Arc::new(Semaphore::new(64));
    let mut logins = tokio::task::JoinSet::new();
    for (_, account) in &kite_accounts {
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

    let intents: Vec<OrderIntent> = records
        .iter()
        .enumerate()
        .map(|(index, record)| OrderIntent {
            id: format!("bench{index}"),
            user_id: record.account.user_id,
            account_id: record.account.id,
            slot: Slot::DEFAULT,
            order: order(record.account.broker),
            enabled: true,
        })
        .collect();
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
        Arc::new(FnIntents::new(move |_| Ok(intents.clone()))),
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
    let handshakes_before = angel.tls_handshakes() + kite.tls_handshakes();
    let (cpu_before, _) = cpu_and_peak_rss();
    let slot = Utc::now();
    let report = scheduler
        .run_on(date, Slot::DEFAULT)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("not a trading day")?;
    let (cpu_after, peak_rss) = cpu_and_peak_rss();
    let handshakes_after = angel.tls_handshakes() + kite.tls_handshakes();

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
        kite_accounts.len(),
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
        "CPU during the run: {:.2} s; peak RSS (process, simulators included): {peak_rss:.0} MB",
        cpu_after - cpu_before
    );
    println!(
        "TLS handshakes after the slot: {}",
        handshakes_after - handshakes_before
    );
    drop(pool);
    let admin = sqlx::PgPool::connect(&args.database_url)
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
    match runtime.block_on(bench(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("fanout-bench: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
