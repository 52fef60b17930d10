//! Runs the SmartAPI simulator until interrupted, printing its URL.
//!
//! ```text
//! angelone-sim [--listen 127.0.0.1:0] [--account KEY:CLIENT:MPIN:TOTP_SECRET:IP[,IP...]]...
//! ```
//!
//! Without `--account` it serves one demo account (printed at start). The first line on
//! standard output is `SMARTAPI_SIM_URL=http://ADDRESS:PORT`.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use broker_angelone::sim::{SimAccount, Simulator};

fn parse_account(text: &str) -> Result<SimAccount, String> {
    let parts: Vec<&str> = text.splitn(5, ':').collect();
    let [api_key, client_code, mpin, secret, ips] = parts[..] else {
        return Err(format!(
            "--account needs KEY:CLIENT:MPIN:TOTP_SECRET:IP[,IP...], got {} fields",
            parts.len()
        ));
    };
    let mut account = SimAccount::new(api_key, client_code, mpin, secret);
    for ip in ips.split(',').filter(|ip| !ip.is_empty()) {
        let ip: IpAddr = ip
            .parse()
            .map_err(|_| format!("--account: {ip:?} is not an IP address"))?;
        account = account.with_registered_ip(ip);
    }
    Ok(account)
}

fn parse_args() -> Result<(SocketAddr, Vec<SimAccount>), String> {
    let mut listen = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut accounts = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--listen" => {
                listen = value
                    .parse()
                    .map_err(|_| format!("--listen: {value:?} is not ADDRESS:PORT"))?;
            }
            "--account" => accounts.push(parse_account(&value)?),
            other => return Err(format!("unknown option {other}")),
        }
    }
    if accounts.is_empty() {
        let demo = "SIMKEY1:S1234:1234:GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ:127.0.0.1";
        eprintln!("no --account given; serving the demo account {demo}");
        accounts.push(parse_account(demo)?);
    }
    Ok((listen, accounts))
}

#[tokio::main]
async fn main() -> ExitCode {
    let (listen, accounts) = match parse_args() {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("angelone-sim: {message}");
            return ExitCode::from(2);
        }
    };
    let simulator = match Simulator::start_on(listen, accounts).await {
        Ok(simulator) => simulator,
        Err(error) => {
            eprintln!("angelone-sim: cannot listen on {listen}: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "SMARTAPI_SIM_URL={}",
        simulator.url().as_str().trim_end_matches('/')
    );
    // Readers wait for this line; make sure it leaves now.
    let _ = std::io::stdout().flush();
    match tokio::signal::ctrl_c().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("angelone-sim: cannot wait for a signal: {error}");
            ExitCode::FAILURE
        }
    }
}
