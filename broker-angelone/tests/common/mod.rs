//! Shared fixtures of the simulator tests.
#![allow(dead_code)] // each test binary uses its own subset
#![allow(clippy::unwrap_used)] // fixtures: a bad fixture should fail the test loudly

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use broker_angelone::AngelOne;
use broker_angelone::http::client::AngelOneConfig;
use broker_angelone::sim::{SimAccount, Simulator};
use broker_core::{
    AngelOneCredentials, EgressBinding, Exchange, InstrumentIndex, InstrumentRef, OrderRequest,
    OrderType, Product, Side,
};
use rust_decimal_macros::dec;
use secrecy::SecretString;

pub const API_KEY: &str = "simKEYq7f3a9";
pub const CLIENT_CODE: &str = "S1234";
pub const MPIN: &str = "97315864";
/// RFC 6238's SHA-1 key "12345678901234567890" in base32.
pub const TOTP_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

pub fn account(registered: &str) -> SimAccount {
    SimAccount::new(API_KEY, CLIENT_CODE, MPIN, TOTP_SECRET)
        .with_registered_ip(registered.parse().unwrap())
}

pub fn credentials() -> AngelOneCredentials {
    AngelOneCredentials::new(
        SecretString::from(API_KEY),
        CLIENT_CODE,
        SecretString::from(MPIN),
        SecretString::from(TOTP_SECRET),
    )
    .unwrap()
}

pub fn instruments() -> Arc<InstrumentIndex> {
    let master = include_str!("../../test_data/scrip_master_sample.json");
    Arc::new(broker_angelone::scrip_master::parse(master.as_bytes()).unwrap())
}

pub fn config(simulator: &Simulator, egress: &str, timeout: Duration) -> AngelOneConfig {
    let egress: IpAddr = egress.parse().unwrap();
    let mut config =
        AngelOneConfig::with_base_url(simulator.url()).bound_to(EgressBinding::direct(egress));
    config.http.request_timeout = timeout;
    config
}

pub fn broker(simulator: &Simulator, egress: &str) -> AngelOne {
    broker_with_timeout(simulator, egress, Duration::from_secs(5))
}

pub fn broker_with_timeout(simulator: &Simulator, egress: &str, timeout: Duration) -> AngelOne {
    AngelOne::new(
        credentials(),
        &config(simulator, egress, timeout),
        instruments(),
    )
    .unwrap()
}

pub fn limit_buy(tag: &str) -> OrderRequest {
    OrderRequest::builder()
        .instrument(InstrumentRef::new(Exchange::Nse, "SBIN-EQ"))
        .side(Side::Buy)
        .order_type(OrderType::Limit)
        .product(Product::Delivery)
        .quantity(2)
        .price(dec!(801.05))
        .tag(tag)
        .build()
        .unwrap()
}
