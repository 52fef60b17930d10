//! Running the server: bind, serve, and stop gracefully on SIGTERM or SIGINT.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::auth::JwtVerifier;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::rate_limit::UserRateLimit;
use crate::state::AppState;
use crate::store::{OpenStoreError, load_keyring, open_store};

/// The server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A required setting is missing.
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    /// The store or its keys could not be opened.
    #[error(transparent)]
    Store(#[from] OpenStoreError),
    /// The listen address could not be bound or served.
    #[error("cannot serve on {address}: {source}")]
    Io {
        /// The address.
        address: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

/// Builds the handler state from the configuration: opens the store and the token checker.
///
/// # Errors
/// [`StartError`] when the JWT secret is missing or the store cannot be opened.
pub async fn state_from_config(config: &Config) -> Result<AppState, StartError> {
    let secret = config.auth.jwt_secret.as_ref().ok_or(
        crate::config::ConfigError::Missing(
            "auth.jwt_secret (BROKERD_JWT_SECRET) is required: the HS256 secret of the platform's tokens",
        ),
    )?;
    let keyring = load_keyring(config).map_err(OpenStoreError::from)?;
    let store = open_store(config, keyring).await?;
    Ok(AppState {
        store,
        jwt: Arc::new(JwtVerifier::new(secret, config.auth.audience.as_deref())),
        metrics: Arc::new(Metrics::default()),
        broker_calls: Arc::new(UserRateLimit::per_minute(config.limits.verify_per_minute)),
    })
}

/// Serves the app on `listener` until `shutdown` completes, then finishes the requests in
/// flight.
///
/// # Errors
/// [`StartError::Io`] when serving fails.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    body_limit_bytes: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let address = listener.local_addr().map_err(|source| StartError::Io {
        address: SocketAddr::from(([0, 0, 0, 0], 0)),
        source,
    })?;
    tracing::info!(%address, "serving");
    axum::serve(listener, crate::app::app(state, body_limit_bytes))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|source| StartError::Io { address, source })
}

/// Completes on the first SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT: stopping"),
        () = terminate => tracing::info!("SIGTERM: stopping"),
    }
}

/// Binds the configured address and serves until SIGTERM/SIGINT.
///
/// # Errors
/// [`StartError`].
pub async fn run(config: Config) -> Result<(), StartError> {
    let state = state_from_config(&config).await?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Io {
            address: config.listen,
            source,
        })?;
    serve(listener, state, config.limits.body_bytes, shutdown_signal()).await
}

/// Installs the global `tracing` subscriber: text or JSON lines, filtered by `log.filter`.
pub fn init_logging(log: &crate::config::LogConfig) {
    let filter = tracing_subscriber::EnvFilter::try_new(&log.filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let installed = if log.json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    if let Err(error) = installed {
        eprintln!("brokerd: logging not installed: {error}");
    }
}
