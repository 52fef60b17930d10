//! Places N orders against a running Kite simulator and prints wall and CPU seconds, for
//! comparison with the official Python SDK (`conformance/run.sh`).
//!
//! ```text
//! cargo run --release -p broker-zerodha --features sim --example place_order_bench -- \
//!     broker http://127.0.0.1:40123 simkey simsecret 20000 [certificate.pem]
//! ```
//!
//! The first argument picks the path measured: `broker` goes through
//! [`broker_core::Broker::place_order`] of [`Zerodha`] (pre-trade policy, instrument check,
//! mapping, rate limiter, session, form encoding, HTTP, decoding), the path the worker uses;
//! `raw` calls [`broker_zerodha::ZerodhaHttpClient::place_order`] with a ready form. Orders
//! go one after another on a single-threaded runtime. The rate limiter has Kite's quota rules
//! with budgets too large to ever wait (it does its real work on every order) and the policy
//! no orders-per-second cap, so that waiting is not counted; everything else is as in
//! production. Start-up (runtime, TLS configuration, login, instrument master, a warm-up of
//! 100 orders) is excluded from the loop figures.
//!
//! It prints two CPU figures: `loop` (user plus system CPU of the order loop alone) and
//! `process` (the whole process, start-up included, divided by the same number of orders), both
//! from `/proc/self/stat`, whose clock ticks are 10 ms on Linux (so run enough orders).

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Instant;

use broker_core::{
    Broker, BrokerKind, ConnectOptions, Exchange, HttpClientConfig, InstrumentRef, OrderRequest,
    OrderType, PreTradePolicy, Product, Quota, QuotaRule, RateLimiter, Side, TlsConfig, Variety,
    ZerodhaCredentials,
};
use broker_zerodha::models::PlaceOrderBody;
use broker_zerodha::sim::browser_login;
use broker_zerodha::{Zerodha, default_quota_rules};
use rust_decimal::Decimal;

/// Clock ticks per second of `/proc/self/stat` (`sysconf(_SC_CLK_TCK)`, 100 on Linux).
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// Orders placed before measuring, so connections and allocations are warm.
const WARM_UP_ORDERS: u32 = 100;

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

#[derive(Clone, Copy, PartialEq, Eq)]
enum Path {
    Broker,
    Raw,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let (path, url, api_key, api_secret, count, certificate) = match arguments.as_slice() {
        [path, url, key, secret, count] => (path, url, key, secret, count, None),
        [path, url, key, secret, count, certificate] => {
            (path, url, key, secret, count, Some(certificate))
        }
        _ => {
            return Err(
                "usage: place_order_bench broker|raw <simulator URL> <api key> <api secret> <orders> [certificate.pem]"
                    .into(),
            );
        }
    };
    let path = match path.as_str() {
        "broker" => Path::Broker,
        "raw" => Path::Raw,
        other => return Err(format!("unknown path {other:?}: broker or raw").into()),
    };
    let count: u32 = count.parse()?;

    let mut config = HttpClientConfig::default();
    match certificate {
        Some(file) => config.tls = TlsConfig::with_extra_roots(&std::fs::read(file)?)?,
        None => config = config.allow_plain_http(),
    }
    let http = config.build()?;
    let limiter = RateLimiter::new(
        default_quota_rules()
            .into_iter()
            .map(|rule| QuotaRule::new(rule.classes, Quota::per_second(NonZeroU32::MAX))),
    );
    let options = ConnectOptions::new(http.clone())
        .with_api_url(url.as_str())
        .with_login_url(format!("{url}/connect/login"))
        .with_rate_limiter(Arc::new(limiter))
        .with_policy(PreTradePolicy {
            max_orders_per_second: 0,
            ..PreTradePolicy::for_broker(BrokerKind::Zerodha)
        });
    let credentials = ZerodhaCredentials::new(api_key.as_str().into(), api_secret.as_str().into())?;
    let broker = Zerodha::connect(&credentials, None, &options)?;
    let redirect = browser_login(http.client(), broker.login_url(&[])).await?;
    broker.complete_login(redirect.request_token()).await?;
    broker.refresh_instruments().await?;

    let request = OrderRequest::builder()
        .instrument(InstrumentRef::new(Exchange::Nse, "SBIN"))
        .side(Side::Buy)
        .order_type(OrderType::Limit)
        .product(Product::Delivery)
        .quantity(1)
        .price(Decimal::new(790, 0))
        .tag("rustbench")
        .build()?;
    let mut body = PlaceOrderBody {
        exchange: "NSE".into(),
        tradingsymbol: "SBIN".into(),
        transaction_type: "BUY".into(),
        order_type: "LIMIT".into(),
        quantity: 1,
        product: "CNC".into(),
        ..PlaceOrderBody::default()
    };
    body.validity = Some("DAY".into());
    body.price = Some(Decimal::new(790, 0));
    body.tag = Some("rustraw".into());
    let session = broker.authorization()?;

    let place = |path: Path| {
        let (broker, request, body, session) = (&broker, &request, &body, &session);
        async move {
            match path {
                Path::Broker => broker.place_order(request).await.map(|_| ()),
                Path::Raw => broker
                    .client()
                    .place_order(session, Variety::Regular, body)
                    .await
                    .map(|_| ()),
            }
        }
    };
    for _ in 0..WARM_UP_ORDERS {
        place(path).await?;
    }

    let cpu_before = process_cpu_seconds()?;
    let started = Instant::now();
    for _ in 0..count {
        place(path).await?;
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu_after = process_cpu_seconds()?;
    let loop_cpu = cpu_after - cpu_before;
    let name = match path {
        Path::Broker => "rust_broker",
        Path::Raw => "rust_raw_client",
    };
    let per_order = |seconds: f64| seconds * 1e6 / f64::from(count);
    println!(
        "{name} orders={count} wall_s={wall:.3} loop_cpu_s={loop_cpu:.3} loop_cpu_per_order_us={:.1} process_cpu_s={cpu_after:.3} process_cpu_per_order_us={:.1}",
        per_order(loop_cpu),
        per_order(cpu_after)
    );
    Ok(())
}
