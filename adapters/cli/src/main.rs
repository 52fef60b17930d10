//! `brokerctl`: the operator's command line for the broker toolkit. It talks to the credential
//! store directly (the vault, broker-connect and broker-worker libraries); no server is needed.
//!
//! ```text
//! brokerctl keys generate --id k1 --keys-file /etc/broker/keys
//! brokerctl --keys-file /etc/broker/keys accounts add --user <uuid> --broker zerodha --secrets-stdin
//! brokerctl --keys-file /etc/broker/keys --config worker.toml preflight --json
//! ```
//!
//! Secrets are read from a no-echo prompt, standard input or a file, never from arguments.
//! Exit codes: 0 success, 1 runtime failure, 2 usage, 3 key problem, 4 not found,
//! 5 refused (policy, broker, verification), 6 unfinished (key in use, unreadable rows); see
//! the README.

mod accounts;
mod context;
mod failure;
mod keys;
mod legacy;
mod orders;
mod output;
mod runs;
mod secrets;
mod sim;

use std::process::ExitCode;

use broker_worker::Slot;
use chrono::NaiveDate;
use clap::{Parser, Subcommand};

use crate::context::Globals;
use crate::failure::Outcome;

#[derive(Parser)]
#[command(
    name = "brokerctl",
    version,
    about = "Operate the broker toolkit: keys, accounts, orders, runs, simulators"
)]
struct Cli {
    #[command(flatten)]
    globals: Globals,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Manage the vault's encryption keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Manage users' broker accounts.
    #[command(subcommand)]
    Accounts(accounts::AccountsCommand),
    /// The daily Kite login.
    #[command(subcommand)]
    Zerodha(accounts::ZerodhaCommand),
    /// Place, list and cancel orders of one account.
    #[command(subcommand)]
    Orders(orders::OrdersCommand),
    /// Run a slot and read the journal of runs.
    #[command(subcommand)]
    Run(runs::RunCommand),
    /// Who can trade at the next slot and who cannot, and why (logs in and probes; places
    /// nothing).
    Preflight {
        /// The slot (HH:MM IST; default: the next configured one).
        #[arg(long)]
        slot: Option<Slot>,
        /// The trading date (default: the next trading day with a slot ahead).
        #[arg(long)]
        date: Option<NaiveDate>,
    },
    /// Move the platform's Web Crypto ciphertexts into the vault: a dry run with counts first,
    /// then the real run with the count of rows moved.
    ImportLegacy(legacy::ImportLegacy),
    /// Run both broker simulators with demo accounts until Ctrl-C.
    Sim(sim::SimOptions),
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let cli = Cli::parse();
    match run(&cli.globals, cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("brokerctl: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

async fn run(globals: &Globals, command: Command) -> Outcome {
    match command {
        Command::Keys(command) => keys::run(globals, command).await,
        Command::Accounts(command) => accounts::run(globals, command).await,
        Command::Zerodha(command) => accounts::run_zerodha(globals, command).await,
        Command::Orders(command) => orders::run(globals, command).await,
        Command::Run(command) => runs::run(globals, command).await,
        Command::Preflight { slot, date } => runs::preflight(globals, slot, date).await,
        Command::ImportLegacy(options) => legacy::run(globals, options).await,
        Command::Sim(options) => sim::run(options).await,
    }
}
