//! Shared fixtures of the simulator tests.
#![allow(dead_code)] // each test binary uses its own subset
#![allow(clippy::unwrap_used)] // fixtures: a bad fixture should fail the test loudly

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use broker_angelone::models::{
    PlaceOrderBody, WireDuration, WireOrderType, WireProduct, WireSide, WireVariety,
};
use broker_angelone::sim::{SimAccount, SimConfig, Simulator};
use broker_angelone::{AngelOne, AngelOneHttpClient};
use broker_core::{
    AngelOneCredentials, ConnectOptions, EgressBinding, Exchange, HttpClient, HttpClientConfig,
    InstrumentRef, OrderRequest, OrderType, Product, SessionChange, SessionTokens,
    SharedInstruments, SharedSessionListener, Side,
};
use rust_decimal::Decimal;
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

/// A simulator on plain HTTP serving the account registering `registered`, with Angel
/// One's quotas.
pub async fn simulator(registered: &str) -> Simulator {
    Simulator::start(SimConfig::new([account(registered)]))
        .await
        .unwrap()
}

/// The same without quotas, for tests of something else that call faster than Angel One
/// allows (several clients of one account logging in within a second).
pub async fn simulator_without_quotas(registered: &str) -> Simulator {
    Simulator::start(SimConfig::new([account(registered)]).without_quotas())
        .await
        .unwrap()
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

/// The simulator's own instrument master (the file it serves), shared.
pub fn instruments() -> SharedInstruments {
    let master = include_str!("../../src/sim/scrip_master.json");
    SharedInstruments::new(
        broker_angelone::parse_instruments(master.as_bytes())
            .unwrap()
            .index,
    )
}

/// A plain-http client leaving from `egress` (and claiming it as its public address).
pub fn http(egress: EgressBinding, timeout: Duration) -> HttpClient {
    HttpClientConfig {
        request_timeout: timeout,
        ..HttpClientConfig::bound_to(egress)
    }
    .allow_plain_http()
    .build()
    .unwrap()
}

pub fn options(simulator: &Simulator, egress: &str, timeout: Duration) -> ConnectOptions {
    let egress = EgressBinding::direct(egress.parse().unwrap());
    ConnectOptions::new(http(egress, timeout))
        .with_api_url(simulator.url())
        .with_instruments(instruments())
}

pub fn broker(simulator: &Simulator, egress: &str) -> AngelOne {
    broker_with_timeout(simulator, egress, Duration::from_secs(5))
}

pub fn broker_with_timeout(simulator: &Simulator, egress: &str, timeout: Duration) -> AngelOne {
    AngelOne::connect(credentials(), None, &options(simulator, egress, timeout)).unwrap()
}

/// SBIN-EQ's opening last price in the simulator.
pub const SBIN_LAST: rust_decimal::Decimal = dec!(801.05);

/// A limit buy of 2 SBIN-EQ at 790, below the last price: it rests until the price comes
/// down.
pub fn limit_buy(tag: &str) -> OrderRequest {
    OrderRequest::builder()
        .instrument(InstrumentRef::new(Exchange::Nse, "SBIN-EQ"))
        .side(Side::Buy)
        .order_type(OrderType::Limit)
        .product(Product::Delivery)
        .quantity(2)
        .price(dec!(790))
        .tag(tag)
        .build()
        .unwrap()
}

/// A session listener that keeps what it hears.
#[derive(Clone, Default)]
pub struct Changes(Arc<Mutex<Vec<SessionChange>>>);

impl Changes {
    pub fn listener(&self) -> SharedSessionListener {
        let changes = Arc::clone(&self.0);
        Arc::new(move |change| {
            changes
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(change);
        })
    }

    pub fn all(&self) -> Vec<SessionChange> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The tokens of every session started, in order.
    pub fn started(&self) -> Vec<SessionTokens> {
        self.all()
            .into_iter()
            .filter_map(|change| match change {
                SessionChange::Started(tokens) => Some(tokens),
                _ => None,
            })
            .collect()
    }

    pub fn ended(&self) -> usize {
        self.all()
            .iter()
            .filter(|change| matches!(change, SessionChange::Ended))
            .count()
    }
}

/// A `placeOrder` body: a regular limit buy of `quantity` SBIN-EQ for delivery at `price`.
pub fn sbin_body(price: Decimal, quantity: u32) -> PlaceOrderBody {
    PlaceOrderBody {
        variety: WireVariety::Normal,
        tradingsymbol: "SBIN-EQ".into(),
        symboltoken: "3045".into(),
        transactiontype: WireSide::Buy,
        exchange: Exchange::Nse,
        ordertype: WireOrderType::Limit,
        producttype: WireProduct::Delivery,
        duration: WireDuration::Day,
        price,
        squareoff: Decimal::ZERO,
        stoploss: Decimal::ZERO,
        quantity,
        triggerprice: None,
        disclosedquantity: None,
        ordertag: None,
    }
}

/// A raw client of the account that neither paces itself nor checks anything: it sends
/// whatever it is given, as a careless client would.
pub fn raw_client(simulator: &Simulator) -> AngelOneHttpClient {
    let egress = EgressBinding::direct("127.0.0.1".parse().unwrap());
    AngelOneHttpClient::new(
        http(egress, Duration::from_secs(5)),
        &simulator.url(),
        &SecretString::from(API_KEY),
    )
    .unwrap()
}

/// A broker of the account, logged in, and its session's bearer token.
pub async fn logged_in(simulator: &Simulator) -> (AngelOne, SecretString) {
    use broker_core::BrokerSession;
    let broker = broker(simulator, "127.0.0.1");
    let token = broker.login().await.unwrap().access_token().clone();
    (broker, token)
}
