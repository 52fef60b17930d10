//! One run: every due account's intents for a slot, fanned out with bounded concurrency.
//!
//! Each account is one task: its intents go out one after another (the broker clients pace
//! them to the 10 orders/s cap and the per-account quotas), while accounts run side by side up
//! to [`RunSettings::max_concurrency`], so a slow or failing account holds one permit and
//! delays nobody else. After placing, the account's unknown outcomes are reconciled by tag
//! inside its own task; once every account has placed, each placed order's status is refreshed
//! (fanned out the same way) to catch rejections after acceptance.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use broker_core::{Broker, BrokerKind, OrderRequest, PreTradePolicy, ValidationError};
use chrono::NaiveDate;
use tokio::sync::OwnedSemaphorePermit;
use vault::{AccountId, BrokerAccount, UserId};

use crate::accounts::{AccountProblem, AccountSource, ProblemReason};
use crate::claims::Claims;
use crate::execute::{place_exactly_once, reconcile, refresh_status};
use crate::fan_out::fan_out;
use crate::intent::{IntentError, IntentSource, OrderIntent};
use crate::journal::{Execution, ExecutionState, Journal, JournalError, Run};
use crate::notify::{Notification, Notifier, UserSummary};
use crate::slots::Slot;

/// How a run fans out and reconciles.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunSettings {
    /// Accounts in flight at once in this process (default 1000).
    pub max_concurrency: usize,
    /// Wait before looking up a lost answer's tag, so the broker has booked it (default 2000 ms).
    pub reconcile_delay_ms: u64,
    /// Look-ups of a still unknown outcome before it is reported unknown (default 3).
    pub reconcile_passes: u32,
    /// Wait after placing before refreshing statuses, to catch rejections after acceptance
    /// (default 1000 ms).
    pub refresh_delay_ms: u64,
    /// With shared claims: how long a process that finished its own accounts keeps waiting
    /// for other processes' unfinished accounts, to take them over when their leases expire
    /// (default 120000 ms; 0: never take over).
    pub takeover_wait_ms: u64,
    /// How often it looks while waiting (default 1000 ms).
    pub takeover_poll_ms: u64,
}

impl Default for RunSettings {
    fn default() -> Self {
        Self {
            max_concurrency: 1000,
            reconcile_delay_ms: 2000,
            reconcile_passes: 3,
            refresh_delay_ms: 1000,
            takeover_wait_ms: 120_000,
            takeover_poll_ms: 1000,
        }
    }
}

/// The pre-trade policy per broker: the 2026 rules unless configured otherwise.
#[derive(Debug, Clone, Default)]
pub struct Policies(HashMap<BrokerKind, PreTradePolicy>);

impl Policies {
    /// The same policies with `policy` for its broker.
    #[must_use]
    pub fn with(mut self, policy: PreTradePolicy) -> Self {
        self.0.insert(policy.broker, policy);
        self
    }

    /// The policy of a broker.
    pub fn of(&self, broker: BrokerKind) -> PreTradePolicy {
        self.0
            .get(&broker)
            .cloned()
            .unwrap_or_else(|| PreTradePolicy::for_broker(broker))
    }
}

/// Why a run could not proceed at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The journal failed: nothing more is placed.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The intents could not be loaded.
    #[error(transparent)]
    Intents(#[from] IntentError),
    /// The accounts could not be listed.
    #[error("cannot list the accounts due for the run: {0}")]
    Accounts(String),
    /// An account task stopped unexpectedly.
    #[error("an account task stopped: {0}")]
    Task(String),
}

/// What a run did in this process.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The run.
    pub run: Run,
    /// The latest state of every execution this process handled.
    pub executions: Vec<Execution>,
    /// Per user, how its intents went.
    pub users: BTreeMap<UserId, UserSummary>,
    /// Accounts that could not trade, and why.
    pub problems: Vec<(AccountId, AccountProblem)>,
}

impl RunReport {
    /// The execution of an intent, if this process handled it.
    pub fn execution(&self, intent: &str) -> Option<&Execution> {
        self.executions
            .iter()
            .find(|execution| execution.intent_id == intent)
    }
}

/// Everything a run needs, shared by its account tasks.
#[derive(Clone)]
pub struct Runner {
    pub(crate) journal: Arc<dyn Journal>,
    pub(crate) accounts: Arc<dyn AccountSource>,
    pub(crate) intents: Arc<dyn IntentSource>,
    pub(crate) notifier: Arc<dyn Notifier>,
    pub(crate) claims: Arc<dyn Claims>,
    pub(crate) policies: Policies,
    pub(crate) settings: RunSettings,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// One intent's work in an account task.
struct Work {
    intent: OrderIntent,
    execution: Execution,
    journalled: bool,
}

/// What an account task hands back.
struct AccountOutcome {
    executions: Vec<Execution>,
    problem: Option<(AccountId, AccountProblem)>,
    /// Placed orders whose status the refresh after the run reads, with their broker.
    to_refresh: Option<(Arc<dyn Broker>, Vec<Execution>)>,
}

impl Runner {
    /// A runner over these parts, with every account claimed by this process alone (the file
    /// journal's single-process mode) and the default policies and settings.
    pub fn new(
        journal: Arc<dyn Journal>,
        accounts: Arc<dyn AccountSource>,
        intents: Arc<dyn IntentSource>,
        notifier: Arc<dyn Notifier>,
    ) -> Self {
        Self {
            journal,
            accounts,
            intents,
            notifier,
            claims: Arc::new(crate::claims::SingleProcess),
            policies: Policies::default(),
            settings: RunSettings::default(),
        }
    }

    /// The same runner with these settings.
    #[must_use]
    pub fn with_settings(mut self, settings: RunSettings) -> Self {
        self.settings = settings;
        self
    }

    /// The same runner with these policies.
    #[must_use]
    pub fn with_policies(mut self, policies: Policies) -> Self {
        self.policies = policies;
        self
    }

    /// The same runner sharing runs with other processes through `claims`.
    #[must_use]
    pub fn with_claims(mut self, claims: Arc<dyn Claims>) -> Self {
        self.claims = claims;
        self
    }

    /// Runs `slot` on `trading_date`: creates (or resumes) the run, and executes every due
    /// account's intents exactly once. Calling it again for the same run places nothing twice.
    ///
    /// # Errors
    /// [`RunError`] when the run cannot proceed at all; per-account problems are in the report.
    pub async fn run(&self, trading_date: NaiveDate, slot: Slot) -> Result<RunReport, RunError> {
        let run = self.journal.open_run(trading_date, slot).await?;
        let mut report = RunReport {
            run: run.clone(),
            executions: Vec::new(),
            users: BTreeMap::new(),
            problems: Vec::new(),
        };
        let outcome = self.execute(&run, None, &mut report).await;
        let outcome = match outcome {
            Ok(()) => self.take_over(&run, &mut report).await,
            Err(error) => Err(error),
        };
        if let Err(error) = outcome {
            self.notifier.notify(&Notification::WorkerProblem {
                message: format!("run {} stopped: {error}", run.tag_key()),
            });
            return Err(error);
        }
        report
            .executions
            .sort_by(|a, b| a.intent_id.cmp(&b.intent_id));
        for execution in &report.executions {
            report
                .users
                .entry(execution.user_id)
                .or_default()
                .count(execution.state, execution.reason.as_deref());
        }
        self.notifier.notify(&Notification::RunFinished {
            trading_date,
            slot,
            users: report.users.clone(),
        });
        Ok(report)
    }

    /// Waits for accounts other processes claimed and did not finish, and executes those whose
    /// lease expired (their process died): the tag look-up keeps that exactly-once.
    async fn take_over(&self, run: &Run, report: &mut RunReport) -> Result<(), RunError> {
        let deadline =
            tokio::time::Instant::now() + Duration::from_millis(self.settings.takeover_wait_ms);
        loop {
            let unfinished = self.claims.unfinished(run).await?;
            if unfinished.is_empty() || tokio::time::Instant::now() >= deadline {
                if !unfinished.is_empty() {
                    tracing::warn!(
                        accounts = unfinished.len(),
                        "accounts still claimed by other processes at the end of the wait"
                    );
                }
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(self.settings.takeover_poll_ms.max(1))).await;
            let only: std::collections::HashSet<AccountId> = unfinished.into_iter().collect();
            report
                .executions
                .retain(|execution| !only.contains(&execution.account_id));
            self.execute(run, Some(&only), report).await?;
        }
    }

    /// Plans and executes the run's accounts (all, or `only` these), adding to `report`.
    async fn execute(
        &self,
        run: &Run,
        only: Option<&std::collections::HashSet<AccountId>>,
        report: &mut RunReport,
    ) -> Result<(), RunError> {
        let intents = self.intents.intents(run.slot).await?;
        let accounts: HashMap<AccountId, BrokerAccount> = self
            .accounts
            .due_accounts()
            .await
            .map_err(RunError::Accounts)?
            .into_iter()
            .filter(|account| only.is_none_or(|only| only.contains(&account.id)))
            .map(|account| (account.id, account))
            .collect();
        let mut journalled: HashMap<String, Execution> = self
            .journal
            .executions(run)
            .await?
            .into_iter()
            .map(|execution| (execution.intent_id.clone(), execution))
            .collect();

        let mut per_account: BTreeMap<AccountId, Vec<Work>> = BTreeMap::new();
        for intent in intents {
            let Some(account) = accounts.get(&intent.account_id) else {
                tracing::debug!(intent = %intent.id, "account not due for this run; intent skipped");
                continue;
            };
            if !self.accounts.serves(account) {
                continue;
            }
            let (execution, is_journalled) = match journalled.remove(&intent.id) {
                Some(execution) => (execution, true),
                None => (
                    Execution::new(run, &intent.id, intent.user_id, intent.account_id),
                    false,
                ),
            };
            // Most accounts have one intent: a vector's first push would make room for four
            // (1.9 KB an account, 12 MB of the run's peak for 10,000).
            per_account
                .entry(account.id)
                .or_insert_with(|| Vec::with_capacity(1))
                .push(Work {
                    intent,
                    execution,
                    journalled: is_journalled,
                });
        }

        // Room for every execution up front: grown by doubling, the report's vector held the
        // old and the new block at once (9 MB at the peak for 10,000 intents).
        report
            .executions
            .reserve(per_account.values().map(Vec::len).sum());
        let due = per_account.into_iter().filter_map(|(account_id, work)| {
            accounts
                .get(&account_id)
                .cloned()
                .map(|account| (account, work))
        });
        let mut first_error = None;
        let mut to_refresh = Vec::new();
        fan_out(
            due,
            self.settings.max_concurrency,
            |(account, work), permit| {
                let (runner, run) = (self.clone(), run.clone());
                async move { runner.run_account(&run, account, work, permit).await }
            },
            |joined| {
                if let Some(outcome) = keep_first_error(joined, &mut first_error) {
                    report.executions.extend(outcome.executions);
                    report.problems.extend(outcome.problem);
                    to_refresh.extend(outcome.to_refresh);
                }
            },
        )
        .await;
        if let Some(error) = first_error {
            return Err(error);
        }
        report
            .executions
            .extend(self.refresh_statuses(to_refresh).await?);
        Ok(())
    }

    /// After every account's placements (so that no status read competes with a placement
    /// for the slot), each placed order's status is read once, to catch rejections after
    /// acceptance.
    async fn refresh_statuses(
        &self,
        placed: Vec<(Arc<dyn Broker>, Vec<Execution>)>,
    ) -> Result<Vec<Execution>, RunError> {
        if placed.is_empty() {
            return Ok(Vec::new());
        }
        tokio::time::sleep(Duration::from_millis(self.settings.refresh_delay_ms)).await;
        let journal = &self.journal;
        let mut refreshed = Vec::new();
        let mut first_error = None;
        fan_out(
            placed,
            self.settings.max_concurrency,
            |(broker, executions), permit| {
                let journal = Arc::clone(journal);
                async move {
                    let _permit = permit;
                    let mut refreshed = Vec::with_capacity(executions.len());
                    for execution in executions {
                        refreshed.push(
                            refresh_status(broker.as_ref(), journal.as_ref(), execution).await?,
                        );
                    }
                    Ok::<_, JournalError>(refreshed)
                }
            },
            |joined| {
                refreshed.extend(
                    keep_first_error(joined, &mut first_error)
                        .into_iter()
                        .flatten(),
                )
            },
        )
        .await;
        if let Some(error) = first_error {
            return Err(error);
        }
        Ok(refreshed)
    }

    /// One account: claim it, refuse what policy refuses, connect, place, reconcile, refresh.
    async fn run_account(
        &self,
        run: &Run,
        account: BrokerAccount,
        work: Vec<Work>,
        permit: OwnedSemaphorePermit,
    ) -> Result<AccountOutcome, JournalError> {
        let mut outcome = AccountOutcome {
            executions: Vec::new(),
            problem: None,
            to_refresh: None,
        };
        if !self.claims.claim(run, account.id).await? {
            return Ok(outcome);
        }
        let policy = self.policies.of(account.broker);
        let mut pending: Vec<(Execution, OrderRequest, bool)> = Vec::new();
        for Work {
            intent,
            execution,
            journalled,
        } in work
        {
            if journalled && execution.state.is_final() {
                outcome.executions.push(execution);
                continue;
            }
            match check_intent(&intent, &account, &execution, &policy) {
                Ok(request) => pending.push((execution, request, journalled)),
                Err(_) if execution.state.needs_lookup() && journalled => {
                    // The order may already be out: it must be resolved, not refused. An
                    // intent edited after a crash keeps its journalled execution unresolved.
                    let unresolved = execution.moved_to(
                        ExecutionState::Unknown,
                        Some("intent_changed".into()),
                        Some("the intent changed after its order may have been sent".into()),
                    );
                    self.journal.record(&unresolved).await?;
                    outcome.executions.push(unresolved);
                }
                Err((reason, detail)) => {
                    let refused =
                        execution.moved_to(ExecutionState::Refused, Some(reason), Some(detail));
                    self.journal.record(&refused).await?;
                    outcome.executions.push(refused);
                }
            }
        }
        if pending.is_empty() {
            self.claims.finish(run, account.id).await?;
            return Ok(outcome);
        }

        let broker = match self.accounts.connect(&account).await {
            Ok(broker) => broker,
            Err(problem) => {
                for (execution, _, journalled) in pending {
                    let state = if journalled && execution.state.needs_lookup() {
                        ExecutionState::Unknown
                    } else {
                        ExecutionState::Failed
                    };
                    let failed = execution.moved_to(
                        state,
                        Some(problem.reason.as_str().into()),
                        Some(problem.detail.clone()),
                    );
                    self.journal.record(&failed).await?;
                    outcome.executions.push(failed);
                }
                self.notifier.notify(&Notification::AccountCannotTrade {
                    user_id: account.user_id,
                    account_id: account.id,
                    problem: problem.clone(),
                });
                outcome.problem = Some((account.id, problem));
                self.claims.finish(run, account.id).await?;
                return Ok(outcome);
            }
        };

        let mut placed = Vec::with_capacity(pending.len());
        for (index, (execution, request, journalled)) in pending.into_iter().enumerate() {
            // Renews the lease before every further placement; a lease lost (this process
            // stalled past it and another took the account over) stops this one at once, so
            // two processes never place for one account side by side.
            if index > 0 && !self.claims.claim(run, account.id).await? {
                tracing::warn!(account = %account.id, "lease lost; another process continues");
                return Ok(outcome);
            }
            // Boxed, as is reconciling below: inline, the two futures were four of the task's
            // five kilobytes, held by every account task alive (thousands at the slot).
            let settled = Box::pin(place_exactly_once(
                broker.as_ref(),
                self.journal.as_ref(),
                execution,
                &request,
                journalled,
            ))
            .await?;
            if let Some(problem) = account_problem(&settled) {
                outcome.problem.get_or_insert((account.id, problem));
            }
            placed.push((settled, request));
        }
        // Reconciling waits for the broker to book a lost answer: the next account need not.
        drop(permit);

        let placed = Box::pin(self.reconcile_unknown(broker.as_ref(), placed)).await?;
        self.claims.finish(run, account.id).await?;
        let (placed, settled): (Vec<Execution>, Vec<Execution>) = placed
            .into_iter()
            .map(|(execution, _)| execution)
            .partition(|execution| execution.state == ExecutionState::Placed);
        outcome.executions.extend(settled);
        outcome.to_refresh = Some((broker, placed));
        if let Some((account_id, problem)) = &outcome.problem {
            self.notifier.notify(&Notification::AccountCannotTrade {
                user_id: account.user_id,
                account_id: *account_id,
                problem: problem.clone(),
            });
        }
        Ok(outcome)
    }

    /// Looks up every still unknown outcome by tag, after a delay, a few times.
    async fn reconcile_unknown(
        &self,
        broker: &dyn Broker,
        mut executions: Vec<(Execution, OrderRequest)>,
    ) -> Result<Vec<(Execution, OrderRequest)>, JournalError> {
        for _ in 0..self.settings.reconcile_passes {
            if !executions
                .iter()
                .any(|(execution, _)| execution.state == ExecutionState::Unknown)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(self.settings.reconcile_delay_ms)).await;
            let mut next = Vec::with_capacity(executions.len());
            for (execution, request) in executions {
                let execution = if execution.state == ExecutionState::Unknown {
                    reconcile(broker, self.journal.as_ref(), execution, &request).await?
                } else {
                    execution
                };
                next.push((execution, request));
            }
            executions = next;
        }
        Ok(executions)
    }
}

/// A finished task's value; a journal failure or a stopped task is kept in `first_error`
/// (the first one only) and gives none.
fn keep_first_error<T>(
    joined: Result<Result<T, JournalError>, tokio::task::JoinError>,
    first_error: &mut Option<RunError>,
) -> Option<T> {
    let error = match joined {
        Ok(Ok(value)) => return Some(value),
        Ok(Err(error)) => RunError::Journal(error),
        Err(error) => RunError::Task(error.to_string()),
    };
    first_error.get_or_insert(error);
    None
}

/// The request of an intent, or why it is refused before any request: the account is another
/// user's, the intent data is invalid, or the broker's policy refuses it.
fn check_intent(
    intent: &OrderIntent,
    account: &BrokerAccount,
    execution: &Execution,
    policy: &PreTradePolicy,
) -> Result<OrderRequest, (String, String)> {
    if intent.user_id != account.user_id {
        return Err((
            "account_of_another_user".into(),
            "the intent names an account its user does not own".into(),
        ));
    }
    let request = intent
        .request(&execution.tag)
        .map_err(|error| ("invalid_intent".to_owned(), error.to_string()))?;
    policy.check(&request).map_err(|error| match &error {
        ValidationError::Policy { rule, .. } => (rule.to_string(), error.to_string()),
        _ => ("invalid_intent".to_owned(), error.to_string()),
    })?;
    Ok(request)
}

/// A placement error that says the account itself cannot trade (reported to its user).
fn account_problem(execution: &Execution) -> Option<AccountProblem> {
    if execution.state != ExecutionState::Failed {
        return None;
    }
    let reason = match execution.reason.as_deref()? {
        "ip_not_whitelisted" => ProblemReason::IpNotWhitelisted,
        "session_expired" => ProblemReason::NeedsLogin,
        "invalid_credentials" | "invalid_totp" => ProblemReason::InvalidCredentials,
        _ => return None,
    };
    Some(AccountProblem::new(
        reason,
        execution.detail.clone().unwrap_or_default(),
    ))
}
