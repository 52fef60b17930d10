//! `brokerd`: the onboarding API (see the crate README).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// The broker toolkit's onboarding API server.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// TOML configuration file; `BROKERD_*` variables override it.
    #[arg(long, env = "BROKERD_CONFIG")]
    config: Option<PathBuf>,
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
    match brokerd::run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "brokerd stopped");
            eprintln!("brokerd: {error}");
            ExitCode::FAILURE
        }
    }
}
