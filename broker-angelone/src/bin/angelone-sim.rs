//! Runs the SmartAPI simulator until interrupted, printing its URL.
//!
//! ```text
//! angelone-sim [--listen 127.0.0.1:0] [--https [--certificate PATH]]
//!              [--account KEY:CLIENT:MPIN:TOTP_SECRET:IP[,IP...]]... [--accounts-file FILE]
//!              [--no-quotas] [--no-matching] [--no-admin] [--scrip-master FILE]
//!              [--start-time RFC3339]
//! ```
//!
//! Without accounts it serves one demo account (printed at start). The first line on
//! standard output is `SMARTAPI_SIM_URL=http(s)://ADDRESS:PORT`, the next
//! `SMARTAPI_SIM_SCRIP_MASTER=URL` (its instrument master); in HTTPS mode the next is
//! `SMARTAPI_SIM_CERTIFICATE=PATH`, the PEM file clients must trust. Prices, fills,
//! rejections, faults and the clock are driven over HTTP on the admin routes under `/_sim/`
//! (see the crate README).

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use broker_angelone::sim::{SimAccount, SimConfig, Simulator};
use broker_core::sim::SimListen;
use clap::Parser;

/// An in-process Angel One SmartAPI simulator.
#[derive(Debug, Parser)]
#[command(name = "angelone-sim", version)]
struct Args {
    /// The address to listen on (port 0 for an ephemeral one).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Serve HTTPS with a certificate made at start, instead of plain HTTP.
    #[arg(long)]
    https: bool,
    /// Where to write the certificate in HTTPS mode (default: a file in the temporary
    /// directory named after the port).
    #[arg(long, requires = "https")]
    certificate: Option<PathBuf>,
    /// An account, as KEY:CLIENT:MPIN:TOTP_SECRET:IP[,IP...] (repeatable).
    #[arg(long = "account", value_parser = parse_account)]
    accounts: Vec<SimAccount>,
    /// A file with one account per line in the same form (`#` starts a comment).
    #[arg(long)]
    accounts_file: Option<PathBuf>,
    /// Enforce no quota (Angel One's published per-client quotas and the regulatory 10
    /// orders a second are enforced by default).
    #[arg(long)]
    no_quotas: bool,
    /// Do not match orders against the price feed: they rest until filled on `/_sim/fill`.
    #[arg(long)]
    no_matching: bool,
    /// Do not answer the admin routes under `/_sim/`.
    #[arg(long)]
    no_admin: bool,
    /// Trade the instruments of this `OpenAPIScripMaster.json` instead of the simulator's
    /// own sample.
    #[arg(long)]
    scrip_master: Option<PathBuf>,
    /// Start the simulator's clock at this time (RFC 3339, e.g. 2026-12-02T09:15:00+05:30)
    /// instead of now; it runs on from there.
    #[arg(long)]
    start_time: Option<chrono::DateTime<chrono::FixedOffset>>,
}

fn parse_account(text: &str) -> Result<SimAccount, String> {
    let parts: Vec<&str> = text.trim().splitn(5, ':').collect();
    let [api_key, client_code, mpin, secret, ips] = parts[..] else {
        return Err(format!(
            "an account is KEY:CLIENT:MPIN:TOTP_SECRET:IP[,IP...], got {} fields",
            parts.len()
        ));
    };
    let mut account = SimAccount::new(api_key, client_code, mpin, secret);
    for ip in ips.split(',').filter(|ip| !ip.is_empty()) {
        let ip: IpAddr = ip
            .parse()
            .map_err(|_| format!("{ip:?} is not an IP address"))?;
        account = account.with_registered_ip(ip);
    }
    Ok(account)
}

fn read_accounts(path: &PathBuf) -> Result<Vec<SimAccount>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
        .map(|(number, line)| {
            parse_account(line)
                .map_err(|error| format!("{}:{}: {error}", path.display(), number + 1))
        })
        .collect()
}

async fn run(args: Args) -> Result<(), String> {
    let mut accounts = args.accounts;
    if let Some(path) = &args.accounts_file {
        accounts.extend(read_accounts(path)?);
    }
    if accounts.is_empty() {
        eprintln!(
            "no account given; serving the demo account SIMKEY1:S1234:1234:GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ:127.0.0.1"
        );
        accounts.push(SimAccount::demo());
    }
    let listen = if args.https {
        SimListen::on(args.listen).https()
    } else {
        SimListen::on(args.listen)
    };
    let mut config = SimConfig::new(accounts)
        .with_listen(listen)
        .with_matching(!args.no_matching)
        .with_admin(!args.no_admin);
    if args.no_quotas {
        config = config.without_quotas();
    }
    if let Some(path) = &args.scrip_master {
        let master = std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        config = config.with_scrip_master(master);
    }
    let simulator = Simulator::start(config)
        .await
        .map_err(|error| format!("cannot start on {}: {error}", args.listen))?;
    if let Some(start) = args.start_time {
        simulator.advance_clock(start.to_utc() - simulator.now());
    }
    println!("SMARTAPI_SIM_URL={}", simulator.url());
    println!("SMARTAPI_SIM_SCRIP_MASTER={}", simulator.scrip_master_url());
    if let Some(pem) = simulator.certificate_pem() {
        let path = args.certificate.unwrap_or_else(|| {
            std::env::temp_dir().join(format!("angelone-sim-{}.pem", simulator.address().port()))
        });
        std::fs::write(&path, pem)
            .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
        println!("SMARTAPI_SIM_CERTIFICATE={}", path.display());
    }
    // Readers wait for these lines; make sure they leave now.
    let _ = std::io::stdout().flush();
    tokio::signal::ctrl_c()
        .await
        .map_err(|error| format!("cannot wait for a signal: {error}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("angelone-sim: {message}");
            ExitCode::FAILURE
        }
    }
}
