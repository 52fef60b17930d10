#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod auth;
mod broker;
pub mod http;
pub mod instruments;
pub mod postback;
#[cfg(feature = "sim")]
pub mod sim;

pub use auth::{LoginRedirect, LoginRedirectError, login_url};
pub use broker::Zerodha;
pub use http::{KiteHttpClient, KiteHttpClientBuilder};
pub use instruments::{InstrumentMaster, InstrumentsError, parse_instruments};
pub use postback::{Postback, PostbackError, verify_postback};
