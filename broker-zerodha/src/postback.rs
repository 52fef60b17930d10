//! Order postbacks: Kite POSTs an order's JSON to the app's postback URL whenever the order
//! changes (<https://kite.trade/docs/connect/v3/postbacks/>).
//!
//! The payload carries `checksum = hex SHA-256(order_id + order_timestamp + api_secret)`,
//! computed over the strings exactly as sent. [`verify_postback`] recomputes it from the raw
//! strings (never from parsed, re-formatted values), compares in constant time, and only then
//! turns the payload into a domain [`Order`].
//!
//! Kite's checksum covers only the order id and timestamp, not the status or quantities: it
//! proves the sender knows the API secret, not that the rest of the payload is intact. Treat a
//! postback as a prompt and confirm anything that matters with the order's history.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use broker_core::Order;

use crate::http::models::WireOrder;
use crate::login::checksum_matches;
use crate::mapping;

/// Why a postback was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PostbackError {
    /// The body is not a postback payload.
    #[error("not a Kite postback payload: {0}")]
    Malformed(String),
    /// The checksum does not match: the payload was altered or not signed with our secret.
    #[error("postback checksum does not match; ignore the payload")]
    ChecksumMismatch,
    /// The checksum matched but the order could not be understood.
    #[error("postback order could not be read: {0}")]
    Order(String),
}

/// A verified postback.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Postback {
    /// The Kite user the order belongs to.
    pub user_id: String,
    /// The order as it now stands.
    pub order: Order,
    /// Kite's raw status text (the domain status normalises it).
    pub raw_status: String,
}

/// The postback's own fields; the order is read from the same body separately (not through
/// `#[serde(flatten)]`, which would read its prices through `f64`).
#[derive(Deserialize)]
struct Signature {
    #[serde(default)]
    user_id: String,
    checksum: String,
}

/// Verifies a postback body with the app's API secret and parses it.
///
/// # Errors
/// [`PostbackError::Malformed`] when the body is not a postback, [`PostbackError::ChecksumMismatch`]
/// when the checksum is wrong (nothing about the order is returned then), and
/// [`PostbackError::Order`] when a genuine payload holds values this crate does not know.
pub fn verify_postback(body: &[u8], api_secret: &SecretString) -> Result<Postback, PostbackError> {
    let malformed = |error: serde_json::Error| {
        PostbackError::Malformed(format!(
            "{:?} error at line {} column {}",
            error.classify(),
            error.line(),
            error.column()
        ))
    };
    let signature: Signature = serde_json::from_slice(body).map_err(malformed)?;
    let order: WireOrder = serde_json::from_slice(body).map_err(malformed)?;
    let timestamp = order
        .order_timestamp
        .as_deref()
        .ok_or_else(|| PostbackError::Malformed("order_timestamp is missing".into()))?;
    if !checksum_matches(
        &signature.checksum,
        &[&order.order_id, timestamp, api_secret.expose_secret()],
    ) {
        return Err(PostbackError::ChecksumMismatch);
    }
    let domain = mapping::order(&order).map_err(|error| PostbackError::Order(error.to_string()))?;
    Ok(Postback {
        user_id: signature.user_id,
        order: domain,
        raw_status: order.status,
    })
}
