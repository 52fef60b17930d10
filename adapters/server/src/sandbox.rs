//! `brokerd --sandbox`: the server, the scheduler and both broker simulators in one process,
//! with demo tenants on loopback egress addresses, a development key, and a demo slot run
//! shortly after start.
//!
//! Demo tenants (each a user of its own, named so `POST /v1/sandbox/token` signs in as them):
//! - `alice`: Angel One, her egress IP registered at the simulator: her order is placed;
//! - `bob`: Zerodha, whitelisted, logged in through the Kite login page and brokerd's
//!   callback, as a browser would: his order is placed;
//! - `carol`: Angel One, her egress IP *not* registered: verification says
//!   `ip_not_whitelisted` and no order of hers is placed.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use broker_core::{
    AngelOneCredentials, BrokerCredentials, BrokerKind, Exchange, HttpClientConfig, Instrument,
    InstrumentIndex, InstrumentKind, ZerodhaCredentials,
};
use broker_worker::{IntentError, IntentSource, OrderIntent, RunReport, Slot};
use chrono::{Timelike, Utc};
use secrecy::{ExposeSecret, SecretString};
use vault::{CredentialStore, KeyMaterial, UserId};

use crate::config::Config;
use crate::sandbox_api::{DEMO_TOKEN_TTL, SandboxHandle, demo_user};
use crate::server::{Roles, Shutdown, StartError, bind, build_state, run_roles, shutdown_signal};
use crate::state::AppState;

/// The simulators' demo Angel One account (see `broker_angelone::sim::SimAccount::demo`).
const ANGEL_API_KEY: &str = "SIMKEY1";
const ANGEL_CLIENT_CODE: &str = "S1234";
const ANGEL_MPIN: &str = "1234";
const ANGEL_TOTP_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
/// The simulators' demo Kite app (see `broker_zerodha::sim::SimAccount::demo`).
const KITE_API_KEY: &str = "simkey";
const KITE_API_SECRET: &str = "simsecret";
/// Egress addresses of the sandbox pool: 127.0.0.10 to 127.0.0.59, one per user.
const EGRESS_FIRST: u8 = 10;
const EGRESS_COUNT: u8 = 50;

/// How the sandbox runs.
#[derive(Debug, Clone, Copy)]
pub struct SandboxOptions {
    /// When the demo slot runs after start.
    pub demo_slot_in: Duration,
    /// Stop after the demo slot (CI).
    pub exit_after_demo: bool,
}

/// The slot named by the current IST minute (`HH:MM`): each minute's sandbox run is a run of
/// its own, and a second call within the minute places nothing twice.
pub fn current_slot() -> Slot {
    let ist = (Utc::now() + chrono::Duration::minutes(330)).time();
    Slot::at(ist.hour(), ist.minute()).unwrap_or_default()
}

/// Today's date in IST.
fn ist_today() -> chrono::NaiveDate {
    (Utc::now() + chrono::Duration::minutes(330)).date_naive()
}

/// A demo tenant and what the demo slot should do for them.
struct Tenant {
    name: &'static str,
    broker: BrokerKind,
    expect_placed: bool,
}

const TENANTS: [Tenant; 3] = [
    Tenant {
        name: "alice",
        broker: BrokerKind::AngelOne,
        expect_placed: true,
    },
    Tenant {
        name: "bob",
        broker: BrokerKind::Zerodha,
        expect_placed: true,
    },
    Tenant {
        name: "carol",
        broker: BrokerKind::AngelOne,
        expect_placed: false,
    },
];

/// The sandbox's demo intents: every auto-execute account buys 1 SBIN intraday, at a limit
/// just above the simulators' last price (802; it fills at once). Not at market: both brokers'
/// pre-trade policies refuse plain market orders (Angel One `order_type_refused`, Kite
/// `market_protection_required`).
struct DemoIntents {
    store: Arc<dyn CredentialStore>,
}

#[async_trait]
impl IntentSource for DemoIntents {
    async fn intents(&self, slot: Slot) -> Result<Vec<OrderIntent>, IntentError> {
        let accounts = self
            .store
            .accounts_due_for_run()
            .await
            .map_err(|error| IntentError::Source(error.to_string()))?;
        Ok(accounts
            .into_iter()
            .map(|account| {
                let symbol = match account.broker {
                    BrokerKind::Zerodha => "SBIN",
                    _ => "SBIN-EQ",
                };
                OrderIntent {
                    id: format!("demo-{}", account.id),
                    user_id: account.user_id,
                    account_id: account.id,
                    slot,
                    order: serde_json::json!({
                        "instrument": {"exchange": "NSE", "trading_symbol": symbol},
                        "side": "buy", "order_type": "limit", "product": "intraday",
                        "quantity": 1, "price": "802"
                    })
                    .into(),
                    enabled: true,
                }
            })
            .collect())
    }
}

/// Reads a development secret from `path`, or generates it there (mode 600) with a loud
/// warning.
fn development_secret(
    path: &Path,
    generate: impl FnOnce() -> String,
) -> Result<String, StartError> {
    let failed =
        |error: std::io::Error| StartError::Sandbox(format!("{}: {error}", path.display()));
    if path.exists() {
        return Ok(std::fs::read_to_string(path)
            .map_err(failed)?
            .trim()
            .to_owned());
    }
    let value = generate();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(failed)?;
    std::io::Write::write_all(&mut file, value.as_bytes()).map_err(failed)?;
    file.sync_all().map_err(failed)?;
    eprintln!(
        "\n!!! WARNING: generated a DEVELOPMENT key at {} !!!\n!!! It protects sandbox data only. Never use it, or --sandbox, in production. !!!\n",
        path.display()
    );
    Ok(value)
}

fn random_hex() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

fn sandbox_error(what: &str) -> impl Fn(String) -> StartError + '_ {
    move |message| StartError::Sandbox(format!("{what}: {message}"))
}

/// Sets up the sandbox's configuration in `<data_dir>/sandbox`: development keys (kept), a
/// fresh vault and journal (the simulators start empty each time), the simulators' URLs and a
/// loopback egress pool.
fn sandbox_config(
    mut config: Config,
    angel: &broker_angelone::sim::Simulator,
    kite: &broker_zerodha::sim::Simulator,
) -> Result<Config, StartError> {
    let dir = config.data_dir.join("sandbox");
    let io = |error: std::io::Error| StartError::Sandbox(format!("{}: {error}", dir.display()));
    std::fs::create_dir_all(&dir).map_err(io)?;
    let keys = dir.join("dev-vault-keys");
    development_secret(&keys, || {
        format!(
            "kid0:{}",
            KeyMaterial::generate().to_base64().expose_secret()
        )
    })?;
    let jwt_secret = development_secret(&dir.join("dev-jwt-secret"), random_hex)?;
    for stale in ["vault", "journal.jsonl"] {
        let path = dir.join(stale);
        let removed = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else if path.exists() {
            std::fs::remove_file(&path)
        } else {
            Ok(())
        };
        removed.map_err(io)?;
    }
    config.keys_file = Some(keys);
    config.database_url = None;
    config.data_dir = dir.join("vault");
    config.scheduler.journal_file = Some(dir.join("journal.jsonl"));
    config.auth.jwt_secret = Some(SecretString::from(jwt_secret));
    config.auth.audience = None;
    config.kite_state_key = Some(SecretString::from(random_hex()));
    // Whatever the calendar says, the sandbox trades today.
    config.scheduler.extra_sessions.push(ist_today());
    let mut connector = broker_connect::ConnectorSettings::default();
    connector.allow_plain_http = true;
    connector.angelone.api_url = Some(angel.url());
    connector.zerodha.api_url = Some(kite.url());
    connector.zerodha.login_url = Some(kite.login_page());
    connector.egress.addresses = (EGRESS_FIRST..EGRESS_FIRST + EGRESS_COUNT)
        .map(|last| {
            broker_connect::EgressAddressSettings::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
        })
        .collect();
    config.connector = connector;
    Ok(config)
}

/// Loads the instruments the demo trades: Angel One's master from its simulator, Kite's SBIN.
async fn load_instruments(
    state: &AppState,
    angel: &broker_angelone::sim::Simulator,
) -> Result<(), StartError> {
    let http = HttpClientConfig::default()
        .allow_plain_http()
        .build()
        .map_err(|error| sandbox_error("http client")(error.to_string()))?;
    let master = broker_angelone::download_instruments(
        &http,
        &angel.scrip_master_url(),
        Duration::from_secs(30),
    )
    .await
    .map_err(|error| sandbox_error("Angel One instruments")(error.to_string()))?;
    let master = broker_angelone::parse_instruments(&master)
        .map_err(|error| sandbox_error("Angel One instruments")(error.to_string()))?;
    state
        .connector
        .instruments(BrokerKind::AngelOne)
        .replace(master.index);
    let sbin = Instrument {
        exchange: Exchange::Nse,
        trading_symbol: "SBIN".into(),
        broker_token: "779521".into(),
        exchange_token: "3045".into(),
        name: "STATE BANK OF INDIA".into(),
        kind: InstrumentKind::Equity,
        lot_size: 1,
        tick_size: rust_decimal::Decimal::new(5, 2),
        expiry: None,
        strike: None,
    };
    let index: InstrumentIndex = [sbin].into_iter().collect();
    state
        .connector
        .instruments(BrokerKind::Zerodha)
        .replace(index);
    Ok(())
}

fn angel_credentials() -> Result<BrokerCredentials, StartError> {
    AngelOneCredentials::new(
        SecretString::from(ANGEL_API_KEY),
        ANGEL_CLIENT_CODE,
        SecretString::from(ANGEL_MPIN),
        SecretString::from(ANGEL_TOTP_SECRET),
    )
    .map(BrokerCredentials::AngelOne)
    .map_err(|error| sandbox_error("demo credentials")(error.to_string()))
}

fn kite_credentials() -> Result<BrokerCredentials, StartError> {
    ZerodhaCredentials::new(
        SecretString::from(KITE_API_KEY),
        SecretString::from(KITE_API_SECRET),
    )
    .map(BrokerCredentials::Zerodha)
    .map_err(|error| sandbox_error("demo credentials")(error.to_string()))
}

/// Onboards one demo tenant as a user would, and turns auto-execute on.
async fn onboard(
    state: &AppState,
    handle: &SandboxHandle,
    tenant: &Tenant,
    base: &str,
) -> Result<String, StartError> {
    let user = demo_user(tenant.name);
    let failed = sandbox_error(tenant.name);
    let connector_failed = |error: broker_connect::ConnectorError| failed(error.to_string());
    let credentials = match tenant.broker {
        BrokerKind::Zerodha => kite_credentials()?,
        _ => angel_credentials()?,
    };
    let account = state
        .store
        .create_account(user, &credentials)
        .await
        .map_err(|error| failed(error.to_string()))?;
    let egress = state
        .connector
        .assign_egress(user, account.id)
        .await
        .map_err(connector_failed)?;
    let outcome = match tenant.broker {
        BrokerKind::Zerodha => {
            handle.kite.allow_ip(KITE_API_KEY, egress.public);
            let login_url = state
                .connector
                .kite_login_url(user, account.id)
                .await
                .map_err(connector_failed)?;
            browser_login(&login_url, base).await.map_err(&failed)?
        }
        _ => {
            if tenant.expect_placed {
                handle.angel.register_ip(ANGEL_CLIENT_CODE, egress.public);
            }
            let verification = state
                .connector
                .verify(user, account.id)
                .await
                .map_err(connector_failed)?;
            crate::accounts::outcome_words(&verification).0.to_owned()
        }
    };
    state
        .store
        .set_auto_execute(user, account.id, true)
        .await
        .map_err(|error| failed(error.to_string()))?;
    Ok(format!(
        "{} account from {}: {outcome}",
        tenant.broker, egress.public
    ))
}

/// What the account holder's browser does: opens the Kite login page (the simulator's logs
/// in at once), follows its redirect to brokerd's callback, and reads where that sends it.
async fn browser_login(login_url: &str, base: &str) -> Result<String, String> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|error| error.to_string())?;
    let location = |response: reqwest::Response| {
        response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| format!("no redirect from {}", response.url().path()))
    };
    let to_callback = location(
        http.get(login_url)
            .send()
            .await
            .map_err(|error| error.without_url().to_string())?,
    )?;
    let to_page = location(
        http.get(&to_callback)
            .send()
            .await
            .map_err(|error| error.without_url().to_string())?,
    )?;
    let page = url::Url::parse(base)
        .and_then(|base| base.join(&to_page))
        .map_err(|error| error.to_string())?;
    let outcome = page
        .query_pairs()
        .find(|(key, _)| key == "kite")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    Ok(match outcome.as_str() {
        "connected" => "connected (Kite login through the callback)".to_owned(),
        _ => format!("Kite login failed: {page}"),
    })
}

/// Prints how to try the sandbox.
fn print_welcome(base: &str, secret: &SecretString, onboarded: &[(String, String)]) {
    println!(
        "\n=== brokerd sandbox: simulated Angel One and Zerodha, demo tenants, nothing real ==="
    );
    println!("web page:  {base}/");
    println!("API docs:  {base}/v1/openapi.json\n");
    for (name, outcome) in onboarded {
        println!("{name:>6}: {outcome}");
    }
    println!(
        "\nTry it (tokens valid 12 h; any name gets one: POST {base}/v1/sandbox/token {{\"user\":\"dave\"}}):"
    );
    for tenant in &TENANTS {
        let token = crate::auth::issue_token(secret, demo_user(tenant.name), DEMO_TOKEN_TTL, None)
            .unwrap_or_default();
        println!("  export {}_TOKEN={token}", tenant.name.to_uppercase());
    }
    println!("  curl -s -H \"Authorization: Bearer $ALICE_TOKEN\" {base}/v1/accounts");
    println!("  curl -s -H \"Authorization: Bearer $BOB_TOKEN\" {base}/v1/runs");
    println!("  curl -s -X POST -H \"Authorization: Bearer $CAROL_TOKEN\" {base}/v1/sandbox/run");
    println!(
        "Demo credentials: Angel One api_key {ANGEL_API_KEY}, client_code {ANGEL_CLIENT_CODE}, mpin {ANGEL_MPIN}, totp_secret {ANGEL_TOTP_SECRET}; Zerodha api_key {KITE_API_KEY}, api_secret {KITE_API_SECRET}."
    );
}

/// Runs the demo slot and prints each tenant's outcome; true when every tenant's expected
/// outcome happened.
async fn demo_slot(state: &AppState) -> bool {
    let slot = current_slot();
    println!(
        "\n=== demo slot {slot} IST: every auto-execute account buys 1 SBIN (limit 802, intraday) ==="
    );
    let report = match state.scheduler.run_now(slot).await {
        Ok(Some(report)) => report,
        Ok(None) => {
            println!("the calendar says the exchange is closed today: nothing ran");
            return false;
        }
        Err(error) => {
            println!("the demo slot failed: {error}");
            return false;
        }
    };
    let mut all_expected = true;
    for tenant in &TENANTS {
        let (placed, line) = tenant_outcome(&report, demo_user(tenant.name));
        let expected = placed == tenant.expect_placed;
        all_expected &= expected;
        println!(
            "{:>6} ({}): {line} [{}]",
            tenant.name,
            tenant.broker,
            if expected {
                "as expected"
            } else {
                "NOT AS EXPECTED"
            }
        );
    }
    println!("run {}: see GET /v1/runs/{}", report.run.id, report.run.id);
    all_expected
}

/// Whether the user's order was placed, and a line saying what happened.
fn tenant_outcome(report: &RunReport, user: UserId) -> (bool, String) {
    let mine: Vec<_> = report
        .executions
        .iter()
        .filter(|execution| execution.user_id == user)
        .collect();
    let placed = mine
        .iter()
        .any(|execution| execution.state == broker_worker::ExecutionState::Placed);
    let mut states = BTreeMap::new();
    for execution in &mine {
        let what = match (&execution.order_id, &execution.reason) {
            (Some(order), _) => format!("{} (order {})", execution.state, order.as_str()),
            (None, Some(reason)) => format!("{} ({reason})", execution.state),
            (None, None) => execution.state.to_string(),
        };
        *states.entry(what).or_insert(0) += 1;
    }
    let mut line: Vec<String> = states.into_keys().collect();
    let problems: Vec<String> = report
        .problems
        .iter()
        .filter(|(account, _)| {
            mine.iter()
                .all(|execution| execution.account_id != *account)
        })
        .map(|(_, problem)| problem.to_string())
        .collect();
    if line.is_empty() {
        line.push("no order".to_owned());
    }
    let mut text = line.join(", ");
    if mine.is_empty() && !problems.is_empty() {
        text.push_str(&format!(" ({})", problems.join("; ")));
    }
    (placed, text)
}

/// `brokerd --sandbox`: starts everything, onboards the demo tenants, prints how to try it,
/// runs the demo slot after `options.demo_slot_in`, and runs until SIGTERM/SIGINT (or right
/// after the demo slot with `exit_after_demo`). Returns whether the demo slot went as
/// expected for every tenant (`false` when it did not run).
///
/// # Errors
/// [`StartError`] when something cannot start.
pub async fn run(config: Config, options: SandboxOptions) -> Result<bool, StartError> {
    let listener = bind(config.listen).await?;
    let address = listener.local_addr().map_err(|source| StartError::Io {
        address: config.listen,
        source,
    })?;
    let base = format!("http://{address}");
    let callback = format!("{base}/v1/zerodha/callback");
    let angel_account = broker_angelone::sim::SimAccount::new(
        ANGEL_API_KEY,
        ANGEL_CLIENT_CODE,
        ANGEL_MPIN,
        ANGEL_TOTP_SECRET,
    );
    let angel = broker_angelone::sim::Simulator::start(
        broker_angelone::sim::SimConfig::new([angel_account]).without_quotas(),
    )
    .await
    .map_err(|error| sandbox_error("Angel One simulator")(error.to_string()))?;
    let mut kite_account =
        broker_zerodha::sim::SimAccount::new(KITE_API_KEY, KITE_API_SECRET, "ZS1234")
            .with_allowed_ips([]);
    kite_account.redirect_url = callback;
    kite_account.postback_url = Some(format!("{base}/v1/zerodha/postback"));
    let kite = broker_zerodha::sim::Simulator::start(
        broker_zerodha::sim::SimConfig {
            accounts: vec![kite_account],
            ..broker_zerodha::sim::SimConfig::default()
        }
        .without_quotas(),
    )
    .await
    .map_err(|error| sandbox_error("Kite simulator")(error.to_string()))?;
    let mut config = sandbox_config(config, &angel, &kite)?;
    config.public_url.clone_from(&base);
    let jwt_secret = config
        .auth
        .jwt_secret
        .clone()
        .ok_or_else(|| StartError::Sandbox("no token secret".into()))?;
    let mut state = build_state(
        &config,
        Some(Box::new(|store| {
            Arc::new(DemoIntents { store }) as Arc<dyn IntentSource>
        })),
    )
    .await?;
    load_instruments(&state, &angel).await?;
    let handle = Arc::new(SandboxHandle {
        angel,
        kite,
        jwt_secret: jwt_secret.clone(),
    });
    state.sandbox = Some(Arc::clone(&handle));

    let (finish, finished) = tokio::sync::oneshot::channel::<()>();
    let shutdown = Shutdown::on(async move {
        tokio::select! {
            () = shutdown_signal() => {}
            _ = finished => tracing::info!("demo slot done: stopping"),
        }
    });
    let server = tokio::spawn(run_roles(
        state.clone(),
        Some(listener),
        config.limits.body_bytes,
        Roles::BOTH,
        shutdown.clone(),
    ));
    let mut onboarded = Vec::new();
    for tenant in &TENANTS {
        onboarded.push((
            tenant.name.to_owned(),
            onboard(&state, &handle, tenant, &base).await?,
        ));
    }
    print_welcome(&base, &jwt_secret, &onboarded);
    println!(
        "\nThe demo slot runs in {} s (or now: POST /v1/sandbox/run).",
        options.demo_slot_in.as_secs()
    );
    let demo = {
        let state = state.clone();
        let stop = shutdown.clone();
        async move {
            tokio::select! {
                () = tokio::time::sleep(options.demo_slot_in) => Some(demo_slot(&state).await),
                () = stop.wait() => None,
            }
        }
    };
    let demo_ok = demo.await.unwrap_or(false);
    if options.exit_after_demo {
        let _ = finish.send(());
    }
    match server.await {
        Ok(result) => result?,
        Err(error) => return Err(StartError::Sandbox(format!("server task: {error}"))),
    }
    Ok(demo_ok)
}
