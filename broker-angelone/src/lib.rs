#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod broker;
pub mod http;
pub mod mapping;
pub mod scrip_master;
#[cfg(feature = "sim")]
pub mod sim;
pub mod totp;

pub use broker::{AngelOne, ORDER_NOT_FOUND_CODE, SetupError, session_expiry_time};
