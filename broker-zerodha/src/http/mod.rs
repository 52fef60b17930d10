//! The raw Kite Connect layer: the client with one method per endpoint, the endpoints, wire
//! types, error mapping and Kite's quotas.

mod client;
#[cfg(test)]
mod decoding_fuzz;
mod endpoint;
mod error;
pub mod models;
mod quota;

pub use client::{KITE_API_URL, ZerodhaHttpClient};
pub use endpoint::{Endpoint, MarginSegment};
pub(crate) use error::kite_error;
pub use quota::default_quota_rules;
