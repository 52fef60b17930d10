#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod broker;
mod http;
mod instruments;
mod login;
mod mapping;
mod postback;
mod session;
#[cfg(feature = "sim")]
pub mod sim;

pub use broker::{AutoslicePlacement, Zerodha};
pub use http::{
    Endpoint, KITE_API_URL, MarginSegment, ZerodhaHttpClient, default_quota_rules, models,
};
pub use instruments::{InstrumentMaster, InstrumentsError, parse_instruments};
pub use login::{KITE_LOGIN_URL, LoginRedirect, LoginRedirectError};
pub use postback::{Postback, PostbackError, verify_postback};
pub use session::Authorization;
