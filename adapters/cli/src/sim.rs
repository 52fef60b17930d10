//! `brokerctl sim`: both simulators in this process with demo accounts, until Ctrl-C.

use std::io::Write;
use std::net::SocketAddr;

use broker_core::sim::SimListen;

use crate::failure::{Failure, Outcome};

/// Options of `sim`.
#[derive(Debug, clap::Args)]
pub struct SimOptions {
    /// Where the Angel One SmartAPI simulator listens (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub angelone_listen: SocketAddr,
    /// Where the Kite Connect simulator listens.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub zerodha_listen: SocketAddr,
}

/// Starts both simulators, prints their URLs, the demo accounts and the connector settings
/// that reach them, and serves until Ctrl-C (or SIGTERM).
pub async fn run(options: SimOptions) -> Outcome {
    let start =
        |error: std::io::Error| Failure::runtime(format!("cannot start a simulator: {error}"));
    let angel = broker_angelone::sim::Simulator::start(
        broker_angelone::sim::SimConfig::new([broker_angelone::sim::SimAccount::demo()])
            .with_listen(SimListen::on(options.angelone_listen)),
    )
    .await
    .map_err(start)?;
    let kite = broker_zerodha::sim::Simulator::start(broker_zerodha::sim::SimConfig {
        listen: SimListen::on(options.zerodha_listen),
        ..broker_zerodha::sim::SimConfig::default()
    })
    .await
    .map_err(start)?;
    println!("SMARTAPI_SIM_URL={}", angel.url());
    println!("SMARTAPI_SIM_SCRIP_MASTER={}", angel.scrip_master_url());
    println!("KITE_SIM_URL={}", kite.url());
    println!("KITE_SIM_LOGIN_URL={}", kite.login_page());
    println!("# demo Angel One account (secrets for `accounts add --broker angelone`):");
    println!(
        "#   api_key=SIMKEY1 client_code=S1234 mpin=1234 totp_secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    );
    println!("# demo Zerodha app (secrets for `accounts add --broker zerodha`):");
    println!("#   api_key=simkey api_secret=simsecret (user ZS1234)");
    println!("# settings reaching them (save as a --config file):");
    println!("#   [connector]\n#   allow_plain_http = true");
    println!(
        "#   [connector.angelone]\n#   api_url = \"{}\"",
        angel.url()
    );
    println!(
        "#   [connector.zerodha]\n#   api_url = \"{}\"\n#   login_url = \"{}\"",
        kite.url(),
        kite.login_page()
    );
    println!("#   [[connector.egress.addresses]]\n#   bind = \"127.0.0.1\"");
    // Readers wait for these lines.
    let _ = std::io::stdout().flush();
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|error| Failure::runtime(format!("cannot wait for signals: {error}")))?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result
            .map_err(|error| Failure::runtime(format!("cannot wait for Ctrl-C: {error}")))?,
        _ = terminate.recv() => {}
    }
    eprintln!("simulators stopped");
    Ok(())
}
