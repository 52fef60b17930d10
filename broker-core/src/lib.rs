#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod broker;
pub mod credentials;
pub mod egress;
mod error;
mod instrument;
mod market;
mod order;
mod order_request;
pub mod paper;
pub mod policy;
mod portfolio;
pub mod rate_limit;
pub mod session;
pub mod transport;
mod validation;

pub use broker::{Broker, BrokerKind, UnknownBroker};
pub use credentials::{
    AngelOneCredentials, BrokerCredentials, CredentialError, ZerodhaCredentials,
};
pub use egress::{EgressBinding, HttpClientConfig, HttpClientError, verify_whitelisted};
pub use error::{BrokerError, ConnectivityKind, Result};
pub use instrument::{
    Exchange, Instrument, InstrumentIndex, InstrumentKind, InstrumentRef, UnknownExchange,
};
pub use market::{LastPrice, Ohlc, Quote};
pub use order::{
    MarketProtection, Order, OrderHistory, OrderId, OrderStatus, OrderType, Product, Side,
    Validity, ValidityKind, Variety,
};
pub use order_request::{
    MAX_TAG_LEN, OrderModification, OrderModificationBuilder, OrderRequest, OrderRequestBuilder,
    check_tag,
};
pub use policy::{OrderRateGuard, PolicyRule, PreTradePolicy};
pub use portfolio::{Funds, Holding, Position, Profile, Trade};
pub use rate_limit::{Quota, RateLimiter};
pub use session::SessionTokens;
pub use validation::ValidationError;
