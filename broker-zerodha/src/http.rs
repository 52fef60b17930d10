//! The raw Kite Connect layer: client, wire types, error mapping, conversions, rate limits.

pub mod client;
pub mod error;
pub mod models;
pub mod parse;
pub mod quota;

pub use client::{
    ClientBuildError, KITE_API_URL, KiteHttpClient, KiteHttpClientBuilder, MarginSegment,
};
pub use quota::{EndpointClass, kite_rate_limiter};
