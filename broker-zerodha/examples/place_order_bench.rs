//! Places N orders through our client against a running Kite simulator and prints wall and
//! CPU seconds, for comparison with the official Python SDK (`conformance/run.sh`).
//!
//! ```text
//! cargo run --release -p broker-zerodha --example place_order_bench -- \
//!     http://127.0.0.1:40123 simkey simsecret 2000
//! ```
//!
//! Orders go one after another through [`Zerodha::place_order`] (pre-trade policy, form
//! encoding, HTTP, decoding), on a single-threaded runtime, without client-side rate limits so
//! that only the client's own cost is measured. CPU time is the whole process's user plus
//! system time from `/proc/self/stat`, like Python's `time.process_time()`.

use std::time::Instant;

use broker_core::{Broker, Exchange, InstrumentRef, OrderRequest, OrderType, Product, Side};
use broker_zerodha::sim::browser_login;
use broker_zerodha::{KiteHttpClient, Zerodha};
use rust_decimal::Decimal;

/// Clock ticks per second of `/proc/self/stat` (`sysconf(_SC_CLK_TCK)`, 100 on Linux).
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// User plus system CPU seconds of this process so far.
fn process_cpu_seconds() -> Result<f64, Box<dyn std::error::Error>> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    let after_name = stat.rsplit_once(')').ok_or("unexpected /proc/self/stat")?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = fields.get(11).ok_or("no utime")?.parse::<u64>()?
        + fields.get(12).ok_or("no stime")?.parse::<u64>()?;
    Ok(ticks as f64 / CLOCK_TICKS_PER_SECOND)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let [url, api_key, api_secret, count] = arguments.as_slice() else {
        return Err(
            "usage: place_order_bench <simulator URL> <api key> <api secret> <orders>".into(),
        );
    };
    let count: u32 = count.parse()?;

    let client = KiteHttpClient::builder(api_key.as_str())
        .base_url(url.as_str())
        .login_page(format!("{url}/connect/login"))
        .without_rate_limits()
        .build()?;
    let redirect = browser_login(client.login_url(&[])).await?;
    client
        .generate_session(redirect.request_token(), &api_secret.as_str().into())
        .await?;
    let broker = Zerodha::new(client);

    let request = OrderRequest::builder()
        .instrument(InstrumentRef::new(Exchange::Nse, "SBIN"))
        .side(Side::Buy)
        .order_type(OrderType::Limit)
        .product(Product::Delivery)
        .quantity(1)
        .price(Decimal::new(790, 0))
        .tag("rustbench")
        .build()?;

    let cpu_before = process_cpu_seconds()?;
    let started = Instant::now();
    for _ in 0..count {
        broker.place_order(&request).await?;
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = process_cpu_seconds()? - cpu_before;
    println!(
        "rust_client orders={count} wall_s={wall:.3} cpu_s={cpu:.3} cpu_per_order_us={:.1}",
        cpu * 1e6 / f64::from(count)
    );
    Ok(())
}
