//! `broker-worker`: the scheduler as a process.
//!
//! ```text
//! broker-worker --config worker.toml serve                 # the daily schedule, until Ctrl-C
//! broker-worker --config worker.toml run --slot 15:10 [--date 2026-12-01]
//! broker-worker --config worker.toml preflight --slot 15:10 [--date 2026-12-01]
//! broker-worker --config worker.toml check                 # calendar and settings
//! ```
//!
//! Secrets come from the environment: `BROKER_VAULT_KEYS`, `BROKER_KITE_STATE_KEY` (hex),
//! `BROKER_WEBHOOK_SECRET` (with `webhook_url`).

// glibc's malloc cost a fifth of the worker's CPU at the slot (arena contention, chunk
// consolidation); jemalloc cut slot-to-last-order by a third in fanout-bench.
#[cfg(all(feature = "jemalloc", not(target_env = "msvc")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::path::PathBuf;
use std::process::ExitCode;

use broker_core::ist;
use broker_worker::{Slot, WorkerConfig};
use chrono::NaiveDate;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "broker-worker",
    version,
    about = "Runs every tenant's scheduled orders exactly once"
)]
struct Args {
    /// The settings file (TOML).
    #[arg(long, env = "BROKER_WORKER_CONFIG")]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the daily schedule until interrupted.
    Serve,
    /// Runs one slot now (resuming its run if it exists).
    Run {
        /// The slot, HH:MM IST.
        #[arg(long, default_value = "15:10")]
        slot: Slot,
        /// The IST trading date (default today).
        #[arg(long)]
        date: Option<NaiveDate>,
    },
    /// One pre-flight pass for a slot.
    Preflight {
        /// The slot, HH:MM IST.
        #[arg(long, default_value = "15:10")]
        slot: Slot,
        /// The IST trading date (default today).
        #[arg(long)]
        date: Option<NaiveDate>,
    },
    /// Checks the settings and that the calendar covers today.
    Check,
}

async fn run(args: Args) -> Result<(), String> {
    let config = WorkerConfig::load(&args.config).map_err(|error| error.to_string())?;
    let today = || ist::date_of(chrono::Utc::now());
    if let Command::Check = args.command {
        let calendar = config.calendar().map_err(|error| error.to_string())?;
        calendar
            .check_covers(today())
            .map_err(|error| error.to_string())?;
        println!("settings read; the calendar covers {}", today());
        return Ok(());
    }
    let scheduler = config
        .scheduler()
        .await
        .map_err(|error| error.to_string())?;
    match args.command {
        Command::Serve => scheduler
            .run_until(async {
                if tokio::signal::ctrl_c().await.is_err() {
                    std::future::pending::<()>().await;
                }
            })
            .await
            .map_err(|error| error.to_string()),
        Command::Run { slot, date } => {
            let date = date.unwrap_or_else(today);
            match scheduler.run_on(date, slot).await {
                Ok(Some(report)) => {
                    let summary = serde_json::json!({
                        "run": report.run, "users": report.users,
                        "problems": report.problems, "executions": report.executions,
                    });
                    println!("{summary}");
                    Ok(())
                }
                Ok(None) => {
                    println!("{date} is not a trading day: nothing to run");
                    Ok(())
                }
                Err(error) => Err(error.to_string()),
            }
        }
        Command::Preflight { slot, date } => {
            let report = scheduler
                .preflight(date.unwrap_or_else(today), slot)
                .await
                .map_err(|error| error.to_string())?;
            println!(
                "{}",
                serde_json::to_string(&report).map_err(|e| e.to_string())?
            );
            Ok(())
        }
        Command::Check => Ok(()),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("broker-worker: {error}");
            ExitCode::FAILURE
        }
    }
}
