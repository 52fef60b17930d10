// The README's example runs on the paper broker; without it the docs are the README's words
// without the example.
#![cfg_attr(feature = "paper", doc = include_str!("../README.md"))]
#![cfg_attr(
    not(feature = "paper"),
    doc = "The shared vocabulary of the broker toolkit (see README.md)."
)]
#![deny(missing_docs)]

mod broker;
mod clock;
#[cfg(feature = "http")]
mod connect;
mod credentials;
mod egress;
mod error;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
#[cfg(feature = "http")]
mod http1;
#[cfg(feature = "http")]
mod http_client;
mod instrument;
mod instrument_index;
mod interned;
pub mod ist;
mod market;
mod order;
mod order_modification;
mod order_request;
mod order_tag;
#[cfg(feature = "paper")]
pub mod paper;
mod policy;
mod portfolio;
#[cfg(feature = "rate-limit")]
mod rate_limit;
mod session;
#[cfg(feature = "sim")]
pub mod sim;
pub mod transport;
mod validation;

pub use broker::{Broker, BrokerKind, Placement, UnknownBroker};
pub use clock::{Clock, ManualClock, SharedClock, SystemClock, system_clock};
#[cfg(feature = "http")]
pub use connect::{ConnectError, ConnectOptions};
pub use credentials::{
    AngelOneCredentials, BrokerCredentials, CredentialError, MIN_TOTP_SECRET_BYTES, REDACTED,
    ZerodhaCredentials,
};
pub use egress::{AddressNotLocal, EgressBinding, verify_whitelisted};
pub use error::{BrokerError, ConnectivityKind, ErrorKind, PlacementOutcome, Result};
#[cfg(feature = "http")]
pub use http_client::{
    ApiAnswer, ApiRequest, BadUrl, HttpClient, HttpClientConfig, HttpClientError, TlsConfig,
};
#[cfg(feature = "http")]
pub use hyper::Uri;
pub use instrument::{Exchange, Instrument, InstrumentKind, InstrumentRef, UnknownExchange};
pub use instrument_index::{InstrumentIndex, SharedInstruments};
pub use interned::Interned;
pub use market::{LastPrice, Ohlc, Quote};
pub use order::{
    MarketProtection, Order, OrderHistory, OrderId, OrderStatus, OrderType, Product, Side,
    Validity, ValidityKind, Variety,
};
pub use order_modification::{OrderModification, OrderModificationBuilder};
pub use order_request::{OrderRequest, OrderRequestBuilder};
pub use order_tag::OrderTag;
pub use policy::{OrderRateGuard, PolicyRule, PreTradePolicy};
pub use portfolio::{Funds, Holding, Position, Profile, Trade};
#[cfg(feature = "rate-limit")]
pub use rate_limit::{BadQuota, EndpointClass, Quota, QuotaRule, RateLimiter};
pub use session::{
    BrokerSession, LoginGate, LoginMode, PendingLogin, SessionChange, SessionListener,
    SessionTokens, SharedLoginGate, SharedSessionListener,
};
pub use validation::{MAX_ICEBERG_LEGS, MIN_ICEBERG_LEGS, ValidationError};
