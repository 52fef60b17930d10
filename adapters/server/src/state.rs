//! What every handler shares.

use std::sync::Arc;

use broker_connect::Connector;
use broker_worker::Scheduler;
use vault::CredentialStore;

use crate::accounts_cache::AccountsCache;
use crate::auth::JwtVerifier;
use crate::metrics::Metrics;
use crate::rate_limit::UserRateLimit;
use crate::runs::RunBook;
use crate::sandbox_api::SandboxHandle;

/// Shared handler state; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The credential store (file or Postgres).
    pub store: Arc<dyn CredentialStore>,
    /// Checks bearer tokens.
    pub jwt: Arc<JwtVerifier>,
    /// Request, order and run counters.
    pub metrics: Arc<Metrics>,
    /// The per-user limit on calls that reach a broker.
    pub broker_calls: Arc<UserRateLimit>,
    /// Stored accounts in, live brokers out: verification, egress, Kite logins.
    pub connector: Connector,
    /// The scheduler of this process (it runs the daily schedule unless `--api-only`).
    pub scheduler: Scheduler,
    /// The journal's runs as the API shows them.
    pub runs: Arc<RunBook>,
    /// `GET /v1/accounts` answers, per user, until a write.
    pub accounts_cache: Arc<AccountsCache>,
    /// Where users reach this server (the Kite callback redirects to its page).
    pub public_url: Arc<str>,
    /// The sandbox's simulators and demo users, when started with `--sandbox`.
    pub sandbox: Option<Arc<SandboxHandle>>,
}
