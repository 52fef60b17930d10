//! Runs the Kite Connect simulator on an address and prints its URL, for scripts such as the
//! Python SDK conformance run (`conformance/run.sh`).
//!
//! ```text
//! kite-sim --listen 127.0.0.1:0 --api-key simkey --api-secret simsecret
//! KITE_SIM_URL=http://127.0.0.1:40123
//! ```

use std::io::Write;
use std::net::{IpAddr, SocketAddr};

use clap::Parser;

use broker_zerodha::sim::{KiteSimulator, SimConfig};

/// Command-line options.
#[derive(Parser)]
#[command(about = "An in-process Kite Connect v3 simulator")]
struct Options {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
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
    api_secret: secrecy::SecretString,
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
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = Options::parse();
    let config = SimConfig {
        api_key: options.api_key,
        api_secret: options.api_secret,
        user_id: options.user_id,
        allowed_ips: options.allowed_ips,
        redirect_url: options.redirect_url,
        postback_url: options.postback_url,
        issue_refresh_tokens: options.refresh_tokens,
        ..SimConfig::default()
    };
    let simulator = KiteSimulator::start_on(config, options.listen).await?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "KITE_SIM_URL={}", simulator.url())?;
    stdout.flush()?;
    tokio::signal::ctrl_c().await?;
    Ok(())
}
