//! Logs in and places orders back to back through the raw client, printing the wall time of
//! the order loop. The conformance script runs it in release mode against the simulator and
//! measures its CPU time alongside the official Python SDK's.
//!
//! ```text
//! order_throughput BASE_URL ORDERS API_KEY CLIENT_CODE MPIN TOTP_SECRET
//! ```

use std::process::ExitCode;
use std::time::Instant;

use broker_angelone::http::client::{AngelOneConfig, AngelOneHttpClient, RateLimits};
use broker_angelone::http::models::{
    LoginBody, PlaceOrderBody, WireDuration, WireOrderType, WireProduct, WireSide, WireVariety,
};
use broker_angelone::totp::TotpGenerator;
use broker_core::Exchange;
use rust_decimal::Decimal;
use secrecy::SecretString;

async fn run(args: &[String]) -> Result<(), String> {
    let [base_url, orders, api_key, client_code, mpin, totp_secret] = args else {
        return Err(
            "usage: order_throughput BASE_URL ORDERS API_KEY CLIENT_CODE MPIN TOTP_SECRET".into(),
        );
    };
    let orders: u32 = orders
        .parse()
        .map_err(|_| format!("ORDERS must be a whole number, got {orders:?}"))?;
    let base_url = base_url
        .parse()
        .map_err(|error| format!("BASE_URL {base_url:?}: {error}"))?;
    let mut config = AngelOneConfig::with_base_url(base_url);
    // The simulator imposes no quota; the point is the client's own cost per order.
    config.rate_limits = RateLimits::Off;
    let client = AngelOneHttpClient::new(&config, &SecretString::from(api_key.as_str()))
        .map_err(|error| error.to_string())?;
    let totp = TotpGenerator::from_base32(&SecretString::from(totp_secret.as_str()))
        .map_err(|error| error.to_string())?;
    let code = totp.current_code().map_err(|error| error.to_string())?;
    let mpin = SecretString::from(mpin.as_str());
    let session = client
        .login(&LoginBody {
            clientcode: client_code,
            password: &mpin,
            totp: &code,
        })
        .await
        .map_err(|error| format!("login failed: {error}"))?;
    let body = PlaceOrderBody {
        variety: WireVariety::Normal,
        tradingsymbol: "SBIN-EQ".into(),
        symboltoken: "3045".into(),
        transactiontype: WireSide::Buy,
        exchange: Exchange::Nse,
        ordertype: WireOrderType::Limit,
        producttype: WireProduct::Delivery,
        duration: WireDuration::Day,
        price: Decimal::new(80105, 2),
        squareoff: Decimal::ZERO,
        stoploss: Decimal::ZERO,
        quantity: 1,
        triggerprice: None,
        disclosedquantity: None,
        ordertag: Some("rustbench".into()),
    };
    let started = Instant::now();
    for number in 0..orders {
        client
            .place_order(&session.jwt_token, &body)
            .await
            .map_err(|error| format!("order {number} failed: {error}"))?;
    }
    println!(
        "rust_orders={orders} rust_wall_seconds={:.3}",
        started.elapsed().as_secs_f64()
    );
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
