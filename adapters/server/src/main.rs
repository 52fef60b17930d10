//! `brokerd`: the onboarding API and the scheduler in one process, or the self-contained
//! sandbox (see the crate README).

// glibc's malloc cost a fifth of the worker's CPU at the slot (arena contention, chunk
// consolidation); jemalloc cut slot-to-last-order by a third in fanout-bench.
#[cfg(all(feature = "jemalloc", not(target_env = "msvc")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

/// The broker toolkit's onboarding API and scheduler.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// TOML configuration file; `BROKERD_*` variables override it.
    #[arg(long, env = "BROKERD_CONFIG")]
    config: Option<PathBuf>,
    /// Serve the API only; the schedule runs in another process.
    #[arg(long, conflicts_with_all = ["scheduler_only", "sandbox"])]
    api_only: bool,
    /// Run the daily schedule only, without the API.
    #[arg(long, conflicts_with = "sandbox")]
    scheduler_only: bool,
    /// Simulated Angel One and Zerodha in process, demo tenants, a development key and a demo
    /// slot: try everything on one machine. Never in production.
    #[arg(long)]
    sandbox: bool,
    /// Sandbox: seconds from start to the demo slot.
    #[arg(long, default_value_t = 60, requires = "sandbox")]
    demo_slot_in: u64,
    /// Sandbox: stop after the demo slot; the exit code says whether every demo tenant's
    /// expected outcome happened (CI).
    #[arg(long, requires = "sandbox")]
    exit_after_demo: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let config = match brokerd::Config::load(args.config.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("brokerd: {error}");
            return ExitCode::FAILURE;
        }
    };
    brokerd::server::init_logging(&config.log);
    let outcome = if args.sandbox {
        let options = brokerd::sandbox::SandboxOptions {
            demo_slot_in: Duration::from_secs(args.demo_slot_in),
            exit_after_demo: args.exit_after_demo,
        };
        match brokerd::sandbox::run(config, options).await {
            Ok(demo_ok) if args.exit_after_demo && !demo_ok => {
                eprintln!("brokerd: the demo slot did not go as expected");
                return ExitCode::FAILURE;
            }
            Ok(_) => Ok(()),
            Err(error) => Err(error),
        }
    } else {
        let roles = brokerd::Roles {
            api: !args.scheduler_only,
            scheduler: !args.api_only,
        };
        brokerd::run(config, roles).await
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "brokerd stopped");
            eprintln!("brokerd: {error}");
            ExitCode::FAILURE
        }
    }
}
