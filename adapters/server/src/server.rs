//! Running the server: bind, serve, and stop gracefully on SIGTERM or SIGINT.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use std::time::Duration;

use broker_connect::Connector;
use broker_core::BrokerKind;
use broker_worker::postgres::{PostgresClaims, PostgresIntents, PostgresJournal};
use broker_worker::{
    ConnectorAccounts, FileIntents, FileJournal, FnIntents, IntentSource, Journal, Notifiers,
    Runner, Scheduler, TradingCalendar,
};
use secrecy::{ExposeSecret, SecretSlice};
use tokio::net::TcpListener;
use vault::CredentialStore;

use crate::accounts_cache::AccountsCache;
use crate::auth::JwtVerifier;
use crate::config::{Config, SchedulerConfig};
use crate::metrics::Metrics;
use crate::rate_limit::UserRateLimit;
use crate::runs::{ObservedJournal, RunBook, RunNotifier, RunTimes};
use crate::state::AppState;
use crate::store::{OpenStoreError, OpenedStore, load_keyring, open_store};

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
    /// The connector could not start (egress addresses not on this machine, bad settings).
    #[error("connector: {0}")]
    Connector(broker_connect::ConnectorError),
    /// The scheduler could not start (journal, intents, calendar, instruments).
    #[error("scheduler: {0}")]
    Scheduler(String),
    /// The sandbox could not start.
    #[error("sandbox: {0}")]
    Sandbox(String),
    /// The listen address could not be bound or served.
    #[error("cannot serve on {address}: {source}")]
    Io {
        /// The address.
        address: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

/// Builds the handler state from the configuration: the store, the token checker, the
/// connector and the scheduler (with its journal and intents).
///
/// # Errors
/// [`StartError`] when a required setting is missing or something cannot be opened.
pub async fn state_from_config(config: &Config) -> Result<AppState, StartError> {
    build_state(config, None).await
}

/// Makes the scheduler's intent source from the opened store (the sandbox's demo intents).
pub type IntentsFactory = Box<dyn FnOnce(Arc<dyn CredentialStore>) -> Arc<dyn IntentSource> + Send>;

/// [`state_from_config`] with the scheduler's intents made by `intents` instead of the
/// configured source.
///
/// # Errors
/// As for [`state_from_config`].
pub async fn build_state(
    config: &Config,
    intents: Option<IntentsFactory>,
) -> Result<AppState, StartError> {
    let secret = config.auth.jwt_secret.as_ref().ok_or(
        crate::config::ConfigError::Missing(
            "auth.jwt_secret (BROKERD_JWT_SECRET) is required: the HS256 secret of the platform's tokens",
        ),
    )?;
    let state_key = kite_state_key(config)?;
    let keyring = load_keyring(config).map_err(OpenStoreError::from)?;
    let OpenedStore { store, pool } = open_store(config, keyring).await?;
    let connector = Connector::new(Arc::clone(&store), config.connector.clone(), state_key)
        .await
        .map_err(StartError::Connector)?;
    load_instruments(&config.scheduler, &connector)?;
    let metrics = Arc::new(Metrics::default());
    let times = Arc::new(RunTimes::default());
    let scheduling = &config.scheduler;
    let journal: Arc<dyn Journal> = match (&scheduling.journal_file, &pool) {
        (Some(path), _) => Arc::new(FileJournal::open(path).map_err(scheduler_error("journal"))?),
        (None, Some(pool)) => Arc::new(
            PostgresJournal::new(pool.clone())
                .await
                .map_err(scheduler_error("journal"))?,
        ),
        (None, None) => Arc::new(
            FileJournal::open(config.data_dir.join("journal.jsonl"))
                .map_err(scheduler_error("journal"))?,
        ),
    };
    let intents: Arc<dyn IntentSource> = match (intents, &scheduling.intents_file, &pool) {
        (Some(make), _, _) => make(Arc::clone(&store)),
        (None, Some(path), _) => Arc::new(FileIntents::new(path)),
        (None, None, Some(pool)) => Arc::new(
            PostgresIntents::new(pool.clone())
                .await
                .map_err(scheduler_error("intents"))?,
        ),
        (None, None, None) => {
            tracing::warn!(
                "no order intents configured (scheduler.intents_file): runs place nothing"
            );
            Arc::new(FnIntents::new(|_| Ok(Vec::new())))
        }
    };
    let notifier = Notifiers::tracing().with(Arc::new(RunNotifier::new(
        Arc::clone(&times),
        Arc::clone(&metrics),
    )));
    let mut runner = Runner::new(
        Arc::new(ObservedJournal::new(
            Arc::clone(&journal),
            Arc::clone(&times),
        )),
        Arc::new(ConnectorAccounts::new(connector.clone())),
        Arc::clone(&intents),
        Arc::new(notifier),
    )
    .with_settings(scheduling.run.clone());
    // Several processes share a run only with the journal in Postgres.
    if let (None, Some(pool)) = (&scheduling.journal_file, &pool) {
        let owner = format!("brokerd-{}", uuid::Uuid::new_v4().simple());
        let claims = PostgresClaims::new(
            pool.clone(),
            owner,
            Duration::from_secs(scheduling.lease_seconds),
        )
        .await
        .map_err(scheduler_error("claims"))?;
        runner = runner.with_claims(Arc::new(claims));
    }
    let calendar = if scheduling.holiday_files.is_empty() {
        TradingCalendar::nse_2026()
    } else {
        TradingCalendar::from_files(&scheduling.holiday_files)
            .map_err(scheduler_error("holiday lists"))?
    }
    .with_extra_sessions(scheduling.extra_sessions.iter().copied());
    let scheduler = Scheduler::new(runner, calendar, scheduling.schedule.clone());
    Ok(AppState {
        store,
        jwt: Arc::new(JwtVerifier::new(secret, config.auth.audience.as_deref())),
        metrics,
        broker_calls: Arc::new(UserRateLimit::per_minute(config.limits.verify_per_minute)),
        connector,
        scheduler,
        runs: Arc::new(RunBook::new(journal, intents, times)),
        accounts_cache: Arc::new(AccountsCache::new(Duration::from_millis(
            config.accounts_cache_ms,
        ))),
        public_url: Arc::from(config.public_url.trim_end_matches('/')),
        sandbox: None,
    })
}

/// The Kite state key from its hex text.
fn kite_state_key(config: &Config) -> Result<SecretSlice<u8>, StartError> {
    let text = config.kite_state_key.as_ref().ok_or(crate::config::ConfigError::Missing(
        "kite_state_key (BROKERD_KITE_STATE_KEY) is required: 32+ random bytes in hex, the same in every process",
    ))?;
    let bytes =
        hex::decode(text.expose_secret().trim()).map_err(|_| crate::config::ConfigError::Env {
            variable: "BROKERD_KITE_STATE_KEY",
            message: "not hex".into(),
        })?;
    Ok(SecretSlice::from(bytes))
}

fn scheduler_error<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> StartError {
    move |error| StartError::Scheduler(format!("{what}: {error}"))
}

/// Loads the configured instrument masters into the connector: without them every order is
/// refused by the pre-trade checks.
fn load_instruments(config: &SchedulerConfig, connector: &Connector) -> Result<(), StartError> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|error| {
            StartError::Scheduler(format!("cannot read {}: {error}", path.display()))
        })
    };
    if let Some(path) = &config.angelone_instruments {
        let master = broker_angelone::parse_instruments(&read(path)?)
            .map_err(|error| StartError::Scheduler(format!("{}: {error}", path.display())))?;
        connector
            .instruments(BrokerKind::AngelOne)
            .replace(master.index);
    }
    if let Some(path) = &config.zerodha_instruments {
        let master = broker_zerodha::parse_instruments(read(path)?.as_slice())
            .map_err(|error| StartError::Scheduler(format!("{}: {error}", path.display())))?;
        connector
            .instruments(BrokerKind::Zerodha)
            .replace(master.index);
    }
    Ok(())
}

/// What this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    /// Serve the API.
    pub api: bool,
    /// Run the daily schedule.
    pub scheduler: bool,
}

impl Roles {
    /// The API and the scheduler.
    pub const BOTH: Self = Self {
        api: true,
        scheduler: true,
    };
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

/// A shutdown that many tasks can wait for.
#[derive(Debug, Clone)]
pub struct Shutdown(tokio::sync::watch::Receiver<bool>);

impl Shutdown {
    /// A shutdown triggered when `signal` completes.
    pub fn on(signal: impl Future<Output = ()> + Send + 'static) -> Self {
        let (trigger, receiver) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            signal.await;
            let _ = trigger.send(true);
        });
        Self(receiver)
    }

    /// Completes once shutdown was asked for.
    pub async fn wait(mut self) {
        // An error means the trigger is gone: nobody can ask any more, so stop too.
        let _ = self.0.wait_for(|stopping| *stopping).await;
    }
}

/// Runs the roles of this process on `state` until `shutdown`: the API on `listener`, the
/// scheduler's daily schedule. On shutdown the server stops taking connections and answers
/// the requests in flight; a run in progress finishes (its orders journalled) first.
///
/// # Errors
/// [`StartError`] when serving fails or the calendar does not cover today.
pub async fn run_roles(
    state: AppState,
    listener: Option<TcpListener>,
    body_limit_bytes: usize,
    roles: Roles,
    shutdown: Shutdown,
) -> Result<(), StartError> {
    let scheduler = if roles.scheduler {
        state
            .scheduler
            .check()
            .map_err(|error| StartError::Scheduler(error.to_string()))?;
        let scheduler = state.scheduler.clone();
        let stop = shutdown.clone();
        Some(tokio::spawn(async move {
            scheduler.run_until(stop.wait()).await
        }))
    } else {
        None
    };
    let served = match (roles.api, listener) {
        (true, Some(listener)) => serve(listener, state, body_limit_bytes, shutdown.wait()).await,
        _ => {
            shutdown.wait().await;
            Ok(())
        }
    };
    if let Some(scheduler) = scheduler {
        match scheduler.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return Err(StartError::Scheduler(error.to_string())),
            Err(error) => return Err(StartError::Scheduler(error.to_string())),
        }
    }
    served
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

/// Binds the configured address and runs `roles` until SIGTERM/SIGINT.
///
/// # Errors
/// [`StartError`].
pub async fn run(config: Config, roles: Roles) -> Result<(), StartError> {
    let state = state_from_config(&config).await?;
    let listener = if roles.api {
        Some(bind(config.listen).await?)
    } else {
        None
    };
    run_roles(
        state,
        listener,
        config.limits.body_bytes,
        roles,
        Shutdown::on(shutdown_signal()),
    )
    .await
}

/// Binds a listener.
///
/// # Errors
/// [`StartError::Io`].
pub async fn bind(address: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| StartError::Io { address, source })
}

/// Installs the global `tracing` subscriber: text or JSON lines, filtered by `log.filter`;
/// colours only when standard output is a terminal (a log file or collector gets plain text).
pub fn init_logging(log: &crate::config::LogConfig) {
    let filter = tracing_subscriber::EnvFilter::try_new(&log.filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    let installed = if log.json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    if let Err(error) = installed {
        eprintln!("brokerd: logging not installed: {error}");
    }
}
