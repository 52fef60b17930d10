//! The raw SmartAPI layer: endpoints, quotas, wire types, error classification and the
//! client, one method per endpoint.

mod client;
#[cfg(test)]
mod decoding_fuzz;
mod endpoint;
mod error;
pub mod models;
mod quota;

pub use client::{AngelOneHttpClient, SMARTAPI_URL};
pub use endpoint::Endpoint;
pub(crate) use endpoint::order_id_param;
#[cfg(feature = "sim")]
pub(crate) use error::ORDER_NOT_FOUND;
pub use quota::default_quota_rules;
