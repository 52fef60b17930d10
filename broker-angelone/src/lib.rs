#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod broker;
mod http;
mod instruments;
mod login;
mod mapping;
mod session;
#[cfg(feature = "sim")]
pub mod sim;
mod totp;

pub use broker::AngelOne;
pub use http::{AngelOneHttpClient, Endpoint, SMARTAPI_URL, default_quota_rules, models};
pub use instruments::{
    INSTRUMENTS_DOWNLOAD_TIMEOUT, InstrumentCache, InstrumentMaster, InstrumentsError,
    SCRIP_MASTER_URL, download_instruments, parse_instruments,
};
