//! The scheduler's runs as the API shows them (`GET /v1/runs`, `GET /v1/runs/{id}`), read from
//! the broker-worker journal; and the hooks that time runs and count their orders
//! ([`ObservedJournal`], [`RunNotifier`]).
//!
//! A user sees a run only when it holds executions of theirs, and only those executions.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use axum::Json;
use axum::extract::{Path, State};
use broker_worker::{
    Execution, IntentSource, Journal, JournalError, Notification, Notifier, Run, Slot, UserSummary,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use vault::{AccountId, UserId};

use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::json::ValidQuery;
use crate::metrics::Metrics;
use crate::state::AppState;

/// How many of the latest runs are searched for a user's runs, a run id or a postback's
/// order (a few months of one slot a day).
const RUNS_SEARCHED: usize = 200;
/// How many of the latest runs a postback's order is looked for in (today's and the days
/// before: Kite sends postbacks while an order changes, the same day).
const RUNS_SEARCHED_FOR_POSTBACKS: usize = 20;

/// When a run started, and finished if it did.
type StartAndEnd = (DateTime<Utc>, Option<DateTime<Utc>>);

/// When each run started and finished in this process.
#[derive(Debug, Default)]
pub struct RunTimes {
    runs: Mutex<HashMap<(NaiveDate, Slot), StartAndEnd>>,
}

impl RunTimes {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(NaiveDate, Slot), StartAndEnd>> {
        self.runs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn started(&self, date: NaiveDate, slot: Slot) {
        self.lock().insert((date, slot), (Utc::now(), None));
    }

    /// Marks the run finished; how long it took, when this process started it.
    fn finished(&self, date: NaiveDate, slot: Slot) -> Option<std::time::Duration> {
        let now = Utc::now();
        let mut runs = self.lock();
        let (started, finished) = runs.get_mut(&(date, slot))?;
        *finished = Some(now);
        (now - *started).to_std().ok()
    }

    fn of(&self, run: &Run) -> Option<StartAndEnd> {
        self.lock().get(&(run.trading_date, run.slot)).copied()
    }
}

/// The journal the scheduler writes through: notes when each run starts.
pub struct ObservedJournal {
    inner: Arc<dyn Journal>,
    times: Arc<RunTimes>,
}

impl ObservedJournal {
    /// Wraps `inner`, noting run starts in `times`.
    pub fn new(inner: Arc<dyn Journal>, times: Arc<RunTimes>) -> Self {
        Self { inner, times }
    }
}

#[async_trait]
impl Journal for ObservedJournal {
    async fn open_run(&self, trading_date: NaiveDate, slot: Slot) -> Result<Run, JournalError> {
        let run = self.inner.open_run(trading_date, slot).await?;
        self.times.started(trading_date, slot);
        Ok(run)
    }

    async fn executions(&self, run: &Run) -> Result<Vec<Execution>, JournalError> {
        self.inner.executions(run).await
    }

    async fn record(&self, execution: &Execution) -> Result<(), JournalError> {
        self.inner.record(execution).await
    }

    async fn recent_runs(&self, limit: usize) -> Result<Vec<Run>, JournalError> {
        self.inner.recent_runs(limit).await
    }
}

/// Hears the end of each run: its duration and its orders by outcome go to the metrics.
pub struct RunNotifier {
    times: Arc<RunTimes>,
    metrics: Arc<Metrics>,
}

impl RunNotifier {
    /// A notifier timing runs noted in `times`.
    pub fn new(times: Arc<RunTimes>, metrics: Arc<Metrics>) -> Self {
        Self { times, metrics }
    }
}

impl Notifier for RunNotifier {
    fn notify(&self, notification: &Notification) {
        if let Notification::RunFinished {
            trading_date,
            slot,
            users,
        } = notification
        {
            let took = self.times.finished(*trading_date, *slot);
            self.metrics.record_run(took, users.values());
        }
    }
}

/// Reads runs for the API.
pub struct RunBook {
    journal: Arc<dyn Journal>,
    intents: Arc<dyn IntentSource>,
    times: Arc<RunTimes>,
}

impl std::fmt::Debug for RunBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunBook").finish_non_exhaustive()
    }
}

/// A run as its user sees it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RunView {
    /// The run's id.
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    /// The IST trading date.
    pub trading_date: NaiveDate,
    /// The slot, `HH:MM` IST.
    #[schema(value_type = String, example = "15:10")]
    pub slot: Slot,
    /// When it started (in this process; else when the run was created).
    pub started_at: DateTime<Utc>,
    /// When it finished; `null` while it runs.
    pub finished_at: Option<DateTime<Utc>>,
    /// The caller's executions by outcome.
    #[schema(value_type = Object)]
    pub counts: UserSummary,
    /// The caller's executions (absent in lists).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub executions: Option<Vec<ExecutionView>>,
}

/// One of the caller's orders in a run.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ExecutionView {
    /// The account that placed it.
    #[schema(value_type = String, format = Uuid)]
    pub account_id: AccountId,
    /// The account's broker (`null` when the account is gone).
    #[schema(value_type = Option<String>, example = "angel_one")]
    pub broker: Option<broker_core::BrokerKind>,
    /// The order intent.
    pub intent_id: String,
    /// The intent's trading symbol (`null` when the intent is no longer configured).
    pub symbol: Option<String>,
    /// `buy` or `sell` (`null` as for `symbol`).
    pub side: Option<String>,
    /// The quantity (`null` as for `symbol`).
    pub quantity: Option<u64>,
    /// The order's tag at the broker.
    pub tag: String,
    /// `submitting`, `placed`, `rejected`, `refused`, `failed` or `unknown`.
    pub state: String,
    /// The broker's order id, once known.
    pub broker_order_id: Option<String>,
    /// Why it is not placed (`needs_login`, `order_type_refused`, ...).
    pub reason: Option<String>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// Query of `GET /v1/runs`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RunsQuery {
    /// At most this many runs (1 to 100, default 20).
    #[serde(default = "default_limit")]
    pub limit: usize,
}

fn default_limit() -> usize {
    20
}

impl RunBook {
    /// Runs of `journal`, with the intents' details from `intents` and times from `times`.
    pub fn new(
        journal: Arc<dyn Journal>,
        intents: Arc<dyn IntentSource>,
        times: Arc<RunTimes>,
    ) -> Self {
        Self {
            journal,
            intents,
            times,
        }
    }

    /// The journal (the postback records order updates in it).
    pub fn journal(&self) -> &Arc<dyn Journal> {
        &self.journal
    }

    /// The user's latest runs, newest first, without executions.
    ///
    /// # Errors
    /// [`JournalError`].
    pub async fn list(&self, user: UserId, limit: usize) -> Result<Vec<RunView>, JournalError> {
        let mut views = Vec::new();
        for run in self.journal.recent_runs(RUNS_SEARCHED).await? {
            if views.len() >= limit {
                break;
            }
            let executions = self.executions_of(&run, user).await?;
            if !executions.is_empty() {
                views.push(self.view(&run, &executions));
            }
        }
        Ok(views)
    }

    /// One run with the user's executions; `None` when the user has none in it.
    ///
    /// # Errors
    /// [`JournalError`].
    pub async fn get(
        &self,
        user: UserId,
        id: Uuid,
        brokers: &HashMap<AccountId, broker_core::BrokerKind>,
    ) -> Result<Option<RunView>, JournalError> {
        let runs = self.journal.recent_runs(RUNS_SEARCHED).await?;
        let Some(run) = runs.into_iter().find(|run| run.id == id) else {
            return Ok(None);
        };
        let executions = self.executions_of(&run, user).await?;
        if executions.is_empty() {
            return Ok(None);
        }
        let mut view = self.view(&run, &executions);
        let orders = self.intent_orders(run.slot).await;
        view.executions = Some(
            executions
                .into_iter()
                .map(|execution| execution_view(execution, &orders, brokers))
                .collect(),
        );
        Ok(Some(view))
    }

    /// The journalled execution that placed the broker order `order_id`, among recent runs.
    ///
    /// # Errors
    /// [`JournalError`].
    pub async fn execution_of_order(
        &self,
        order_id: &str,
    ) -> Result<Option<Execution>, JournalError> {
        for run in self
            .journal
            .recent_runs(RUNS_SEARCHED_FOR_POSTBACKS)
            .await?
        {
            let found = self
                .journal
                .executions(&run)
                .await?
                .into_iter()
                .find(|execution| {
                    execution
                        .order_id
                        .as_ref()
                        .is_some_and(|id| id.as_str() == order_id)
                });
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    async fn executions_of(&self, run: &Run, user: UserId) -> Result<Vec<Execution>, JournalError> {
        let mut executions = self.journal.executions(run).await?;
        executions.retain(|execution| execution.user_id == user);
        Ok(executions)
    }

    fn view(&self, run: &Run, executions: &[Execution]) -> RunView {
        let mut counts = UserSummary::default();
        for execution in executions {
            counts.count(execution.state, execution.reason.as_deref());
        }
        let latest_change = executions
            .iter()
            .map(|execution| execution.updated_at)
            .max();
        // A run this process did not start (an earlier process, another machine): it ended
        // with its last journalled change.
        let (started_at, finished_at) = self
            .times
            .of(run)
            .unwrap_or((run.created_at, latest_change));
        RunView {
            id: run.id,
            trading_date: run.trading_date,
            slot: run.slot,
            started_at,
            finished_at,
            counts,
            executions: None,
        }
    }

    /// The order JSON of each intent of the slot; empty when the intents cannot be read now
    /// (the run's journal still answers, without symbols).
    async fn intent_orders(&self, slot: Slot) -> BTreeMap<String, serde_json::Value> {
        match self.intents.intents(slot).await {
            Ok(intents) => intents
                .into_iter()
                .map(|intent| (intent.id, intent.order.to_value()))
                .collect(),
            Err(error) => {
                tracing::warn!(%error, "intents unreadable: run details without symbols");
                BTreeMap::new()
            }
        }
    }
}

fn execution_view(
    execution: Execution,
    orders: &BTreeMap<String, serde_json::Value>,
    brokers: &HashMap<AccountId, broker_core::BrokerKind>,
) -> ExecutionView {
    let order = orders.get(&execution.intent_id);
    let text = |value: Option<&serde_json::Value>| {
        value.and_then(serde_json::Value::as_str).map(str::to_owned)
    };
    ExecutionView {
        account_id: execution.account_id,
        broker: brokers.get(&execution.account_id).copied(),
        symbol: text(order.and_then(|order| order.pointer("/instrument/trading_symbol"))),
        side: text(order.and_then(|order| order.get("side"))),
        quantity: order
            .and_then(|order| order.get("quantity"))
            .and_then(serde_json::Value::as_u64),
        tag: execution.tag.as_str().to_owned(),
        state: execution.state.as_str().to_owned(),
        broker_order_id: execution.order_id.map(|id| id.as_str().to_owned()),
        reason: execution.reason,
        intent_id: execution.intent_id,
        updated_at: execution.updated_at,
    }
}

/// The caller's latest runs, newest first (only runs holding their executions).
#[utoipa::path(
    get, path = "/v1/runs", tag = "runs",
    params(RunsQuery),
    responses(
        (status = 200, description = "The caller's runs, without executions", body = [RunView]),
        (status = 400, description = "A bad limit", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_runs(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ValidQuery(query): ValidQuery<RunsQuery>,
) -> Result<Json<Vec<RunView>>, ApiError> {
    if !(1..=100).contains(&query.limit) {
        return Err(ApiError::invalid_field("limit", "limit must be 1 to 100"));
    }
    let runs = state
        .runs
        .list(user, query.limit)
        .await
        .map_err(|error| ApiError::internal("journal", &error))?;
    Ok(Json(runs))
}

/// One run with the caller's executions only.
#[utoipa::path(
    get, path = "/v1/runs/{id}", tag = "runs",
    params(("id" = String, Path, description = "Run id")),
    responses(
        (status = 200, description = "The run with the caller's executions", body = RunView),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such run with executions of the caller", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_run(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
) -> Result<Json<RunView>, ApiError> {
    let not_found = || {
        ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "not_found",
            "no such run",
        )
    };
    let id: Uuid = id.parse().map_err(|_| not_found())?;
    let brokers = state
        .store
        .accounts(user)
        .await?
        .into_iter()
        .map(|account| (account.id, account.broker))
        .collect();
    state
        .runs
        .get(user, id, &brokers)
        .await
        .map_err(|error| ApiError::internal("journal", &error))?
        .map(Json)
        .ok_or_else(not_found)
}
