//! Runs the Kite Connect simulator and prints its URL (and, over HTTPS, where its certificate
//! was written, and the token of its `/_sim` admin routes), for scripts such as the Python SDK
//! conformance run (`conformance/run.sh`).
//!
//! ```text
//! kite-sim --listen 127.0.0.1:0 --https --api-key simkey
//! KITE_SIM_URL=https://127.0.0.1:40123
//! KITE_SIM_CERTIFICATE=/tmp/kite-sim-40123.pem
//! KITE_SIM_ADMIN_TOKEN=Xr4…
//! ```
//!
//! Accounts come from a JSON file (`--accounts`, a list of objects with `api_key`,
//! `api_secret`, `user_id` and optionally `user_name`, `allowed_ips`, `redirect_url`,
//! `postback_url`, `issue_refresh_tokens`, `cash`, `holdings` (a list of `exchange`,
//! `tradingsymbol`, `quantity`, `average_price`)), or else one account from the flags.
//!
//! Kite's quotas are enforced per API key unless `--no-quotas`; `--market-hours` refuses
//! regular orders outside 09:15 to 15:30 IST; `--price NSE:SBIN=801.05` sets or adds a
//! price, `--freeze NFO:NIFTY26DECFUT=1800` a freeze quantity, `--clock` the start time.
//! Prices, fills, the clock and faults can then be moved through the admin routes
//! (`X-Sim-Admin: <token>`, see the crate's README).

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use chrono::{DateTime, FixedOffset};
use clap::Parser;
use rand::Rng;
use rand::distr::Alphanumeric;
use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use broker_core::sim::SimListen;
use broker_zerodha::sim::{SimAccount, SimConfig, SimHolding, Simulator};

/// A fresh admin token.
fn random_token() -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

/// Command-line options.
#[derive(Parser)]
#[command(about = "An in-process Kite Connect v3 simulator")]
struct Options {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Serve HTTPS with a self-signed certificate made at start.
    #[arg(long)]
    https: bool,
    /// Where to write the certificate in HTTPS mode (default: the temporary directory).
    #[arg(long)]
    certificate_out: Option<PathBuf>,
    /// Do not enforce Kite's published quotas per API key (HTTP 429 beyond them).
    #[arg(long)]
    no_quotas: bool,
    /// Refuse regular orders outside the session (09:15 to 15:30 IST, weekdays), as Kite does.
    #[arg(long)]
    market_hours: bool,
    /// Sets (or adds) the last price of an instrument: EXCHANGE:SYMBOL=PRICE (repeatable).
    #[arg(long = "price", value_parser = instrument_value::<Decimal>)]
    prices: Vec<(String, Decimal)>,
    /// Sets the exchange's freeze quantity of an instrument: EXCHANGE:SYMBOL=QUANTITY
    /// (repeatable).
    #[arg(long = "freeze", value_parser = instrument_value::<u32>)]
    freeze_quantities: Vec<(String, u32)>,
    /// The simulator's time at start (RFC 3339, such as 2026-12-01T10:00:00+05:30);
    /// default: now.
    #[arg(long)]
    clock: Option<DateTime<FixedOffset>>,
    /// The token of the `/_sim` admin routes (default: a random one, printed).
    #[arg(long, env = "KITE_SIM_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<SecretString>,
    /// A JSON file of accounts; without it, one account from the flags below.
    #[arg(long)]
    accounts: Option<PathBuf>,
    /// The app's API key.
    #[arg(long, default_value = "simkey")]
    api_key: String,
    /// The app's API secret.
    #[arg(
        long,
        env = "KITE_SIM_API_SECRET",
        default_value = "simsecret",
        hide_env_values = true
    )]
    api_secret: SecretString,
    /// The user's Kite id.
    #[arg(long, default_value = "ZS1234")]
    user_id: String,
    /// A whitelisted IP for order requests (repeat for several).
    #[arg(long = "allow-ip", default_value = "127.0.0.1")]
    allowed_ips: Vec<IpAddr>,
    /// The app's redirect URL after login.
    #[arg(long, default_value = "http://127.0.0.1/kite/callback")]
    redirect_url: String,
    /// Where to POST postbacks.
    #[arg(long)]
    postback_url: Option<String>,
    /// Issue refresh tokens, as for an approved platform.
    #[arg(long)]
    refresh_tokens: bool,
    /// The cash balance of the equity segment at the start.
    #[arg(long, default_value = "100000")]
    cash: Decimal,
}

/// One account in the `--accounts` file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountEntry {
    api_key: SecretString,
    api_secret: SecretString,
    user_id: String,
    user_name: Option<String>,
    allowed_ips: Option<Vec<IpAddr>>,
    redirect_url: Option<String>,
    postback_url: Option<String>,
    #[serde(default)]
    issue_refresh_tokens: bool,
    cash: Option<Decimal>,
    holdings: Option<Vec<HoldingEntry>>,
}

/// One holding in the `--accounts` file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HoldingEntry {
    exchange: String,
    tradingsymbol: String,
    quantity: u64,
    average_price: Decimal,
}

/// Parses `EXCHANGE:SYMBOL=VALUE`.
fn instrument_value<T: std::str::FromStr>(text: &str) -> Result<(String, T), String>
where
    T::Err: std::fmt::Display,
{
    let (instrument, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not EXCHANGE:SYMBOL=VALUE"))?;
    if !instrument.contains(':') {
        return Err(format!("{instrument:?} is not EXCHANGE:SYMBOL"));
    }
    let value = value
        .parse()
        .map_err(|error| format!("{value:?}: {error}"))?;
    Ok((instrument.to_owned(), value))
}

impl AccountEntry {
    fn into_account(self) -> SimAccount {
        let defaults = SimAccount::new("", "", self.user_id);
        SimAccount {
            api_key: self.api_key,
            api_secret: self.api_secret,
            user_name: self.user_name.unwrap_or(defaults.user_name.clone()),
            allowed_ips: self.allowed_ips.unwrap_or(defaults.allowed_ips.clone()),
            redirect_url: self.redirect_url.unwrap_or(defaults.redirect_url.clone()),
            postback_url: self.postback_url,
            issue_refresh_tokens: self.issue_refresh_tokens,
            cash: self.cash.unwrap_or(defaults.cash),
            holdings: match self.holdings {
                Some(holdings) => holdings
                    .into_iter()
                    .map(|holding| {
                        SimHolding::new(
                            holding.exchange,
                            holding.tradingsymbol,
                            holding.quantity,
                            holding.average_price,
                        )
                    })
                    .collect(),
                None => defaults.holdings.clone(),
            },
            ..defaults
        }
    }
}

fn accounts(options: &Options) -> Result<Vec<SimAccount>, Box<dyn std::error::Error>> {
    if let Some(path) = &options.accounts {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        let entries: Vec<AccountEntry> = serde_json::from_str(&text)
            .map_err(|error| format!("{} is not a list of accounts: {error}", path.display()))?;
        if entries.is_empty() {
            return Err(format!("{} lists no account", path.display()).into());
        }
        return Ok(entries
            .into_iter()
            .map(AccountEntry::into_account)
            .collect());
    }
    let mut account = SimAccount::new(options.api_key.clone(), "", options.user_id.clone())
        .with_allowed_ips(options.allowed_ips.iter().copied());
    account.api_secret = options.api_secret.clone();
    account.redirect_url.clone_from(&options.redirect_url);
    account.postback_url.clone_from(&options.postback_url);
    account.issue_refresh_tokens = options.refresh_tokens;
    account.cash = options.cash;
    Ok(vec![account])
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = Options::parse();
    let mut listen = SimListen::on(options.listen);
    if options.https {
        listen = listen.https();
    }
    let admin_token = options
        .admin_token
        .clone()
        .unwrap_or_else(|| SecretString::from(random_token()));
    let mut config = SimConfig {
        accounts: accounts(&options)?,
        listen,
        market_hours: options.market_hours,
        admin_token: Some(admin_token.clone()),
        ..SimConfig::default()
    };
    if options.no_quotas {
        config = config.without_quotas();
    }
    config.prices.extend(options.prices.iter().cloned());
    config
        .freeze_quantities
        .extend(options.freeze_quantities.iter().cloned());
    let simulator = Simulator::start(config).await?;
    if let Some(start) = options.clock {
        simulator.set_clock(start.with_timezone(&chrono::Utc));
    }
    let mut stdout = std::io::stdout();
    writeln!(stdout, "KITE_SIM_URL={}", simulator.url())?;
    writeln!(
        stdout,
        "KITE_SIM_ADMIN_TOKEN={}",
        admin_token.expose_secret()
    )?;
    if let Some(pem) = simulator.certificate_pem() {
        let path = options.certificate_out.clone().unwrap_or_else(|| {
            std::env::temp_dir().join(format!("kite-sim-{}.pem", simulator.address().port()))
        });
        std::fs::write(&path, pem)
            .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
        writeln!(stdout, "KITE_SIM_CERTIFICATE={}", path.display())?;
    }
    stdout.flush()?;
    tokio::signal::ctrl_c().await?;
    Ok(())
}
