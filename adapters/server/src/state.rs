//! What every handler shares.

use std::sync::Arc;

use vault::CredentialStore;

use crate::auth::JwtVerifier;
use crate::metrics::Metrics;
use crate::rate_limit::UserRateLimit;

/// Shared handler state; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The credential store (file or Postgres).
    pub store: Arc<dyn CredentialStore>,
    /// Checks bearer tokens.
    pub jwt: Arc<JwtVerifier>,
    /// Request counters.
    pub metrics: Arc<Metrics>,
    /// The per-user limit on calls that reach a broker.
    pub broker_calls: Arc<UserRateLimit>,
}
