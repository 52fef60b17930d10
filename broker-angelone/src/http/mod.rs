//! The raw SmartAPI layer: endpoints, wire types, error classification and the client.

pub mod client;
pub mod endpoint;
pub(crate) mod error;
mod lenient;
pub mod models;
