//! Places orders back to back through `Broker::place_order` of an [`AngelOne`] session (the
//! pre-trade policy, the instrument check, the session, the raw client and the answer's
//! classification: everything an order goes through) and prints the wall and CPU time of the
//! order loop alone, start-up and login excluded. The conformance script runs it in release
//! mode against the simulator and also measures the whole process's CPU time.
//!
//! ```text
//! order_throughput BASE_URL ORDERS API_KEY CLIENT_CODE MPIN TOTP_SECRET [CERTIFICATE_PEM]
//! ```
//!
//! `CERTIFICATE_PEM` is the certificate of a simulator serving HTTPS (`angelone-sim --https`),
//! trusted in addition to the web PKI roots.
//!
//! The loop's CPU time is read from `/proc/self/stat` (Linux; every thread of the process,
//! in 10 ms ticks), so it is printed only where that file exists.

use std::num::NonZeroU32;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use broker_angelone::{AngelOne, default_quota_rules};
use broker_core::{
    AngelOneCredentials, Broker, BrokerKind, BrokerSession, ConnectOptions, Exchange,
    HttpClientConfig, Instrument, InstrumentIndex, InstrumentKind, InstrumentRef, OrderRequest,
    OrderType, PreTradePolicy, Product, Quota, QuotaRule, RateLimiter, SharedInstruments, Side,
    TlsConfig,
};
use rust_decimal::Decimal;
use secrecy::SecretString;

/// The CPU time this process has used so far (user and system, every thread), when known.
fn process_cpu_time() -> Option<Duration> {
    // Fields 14 and 15 of /proc/self/stat, counted after the command name's closing ')'.
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    // The kernel reports these in USER_HZ, 100 a second on every Linux architecture.
    Some(Duration::from_millis((user + system) * 10))
}

fn sbin() -> SharedInstruments {
    let mut index = InstrumentIndex::new();
    index.insert(Instrument {
        exchange: Exchange::Nse,
        trading_symbol: "SBIN-EQ".into(),
        broker_token: "3045".into(),
        exchange_token: "3045".into(),
        name: "SBIN".into(),
        kind: InstrumentKind::Equity,
        lot_size: 1,
        tick_size: Decimal::new(5, 2),
        expiry: None,
        strike: None,
    });
    SharedInstruments::new(index)
}

async fn run(args: &[String]) -> Result<(), String> {
    const USAGE: &str = "usage: order_throughput BASE_URL ORDERS API_KEY CLIENT_CODE MPIN TOTP_SECRET [CERTIFICATE_PEM]";
    let (required, certificate) = match args.len() {
        6 => (args, None),
        7 => (&args[..6], args.get(6)),
        _ => return Err(USAGE.into()),
    };
    let [base_url, orders, api_key, client_code, mpin, totp_secret] = required else {
        return Err(USAGE.into());
    };
    let orders: u32 = orders
        .parse()
        .map_err(|_| format!("ORDERS must be a whole number, got {orders:?}"))?;
    let credentials = AngelOneCredentials::new(
        SecretString::from(api_key.as_str()),
        client_code.as_str(),
        SecretString::from(mpin.as_str()),
        SecretString::from(totp_secret.as_str()),
    )
    .map_err(|error| error.to_string())?;
    let mut config = HttpClientConfig::default().allow_plain_http();
    if let Some(path) = certificate {
        let pem = std::fs::read(path).map_err(|error| format!("{path}: {error}"))?;
        config.tls = TlsConfig::with_extra_roots(&pem).map_err(|error| error.to_string())?;
    }
    let http = config.build().map_err(|error| error.to_string())?;
    // The simulator runs without quotas (`--no-quotas`), and pacing at 10 orders a second
    // would make the run last for hours: the point is the client's own cost per order. So the
    // limiter has Angel One's quota rules with budgets too large to ever wait (it does its
    // real work on every order) and the policy does not pace. Every other check applies.
    let limiter = RateLimiter::new(
        default_quota_rules()
            .into_iter()
            .map(|rule| QuotaRule::new(rule.classes, Quota::per_second(NonZeroU32::MAX))),
    );
    let options = ConnectOptions::new(http)
        .with_api_url(base_url.as_str())
        .with_instruments(sbin())
        .with_rate_limiter(Arc::new(limiter))
        .with_policy(PreTradePolicy {
            max_orders_per_second: 0,
            ..PreTradePolicy::for_broker(BrokerKind::AngelOne)
        });
    let broker =
        AngelOne::connect(credentials, None, &options).map_err(|error| error.to_string())?;
    broker
        .login()
        .await
        .map_err(|error| format!("login failed: {error}"))?;
    let request = OrderRequest::builder()
        .instrument(InstrumentRef::new(Exchange::Nse, "SBIN-EQ"))
        .side(Side::Buy)
        .order_type(OrderType::Limit)
        .product(Product::Delivery)
        .quantity(1)
        // Below the simulator's last price (801.05): the orders rest instead of filling.
        .price(Decimal::new(79000, 2))
        .tag("rustbench")
        .build()
        .map_err(|error| error.to_string())?;

    let cpu_before = process_cpu_time();
    let started = Instant::now();
    for number in 0..orders {
        broker
            .place_order(&request)
            .await
            .map_err(|error| format!("order {number} failed: {error}"))?;
    }
    let wall = started.elapsed();
    let cpu = cpu_before
        .zip(process_cpu_time())
        .map(|(before, after)| after.saturating_sub(before));
    print!(
        "rust_orders={orders} rust_loop_wall_seconds={:.3}",
        wall.as_secs_f64()
    );
    if let Some(cpu) = cpu {
        print!(" rust_loop_cpu_seconds={:.3}", cpu.as_secs_f64());
    }
    println!();
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("order_throughput: {message}");
            ExitCode::FAILURE
        }
    }
}
