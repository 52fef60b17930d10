//! Notifications: what users and operators hear about a run. Tracing always; a webhook when
//! configured ([`crate::WebhookNotifier`]). Notifying never blocks or fails the run.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use vault::{AccountId, UserId};

use crate::accounts::AccountProblem;
use crate::journal::ExecutionState;
use crate::slots::Slot;

/// One user's outcome of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    /// Orders the broker holds.
    pub placed: usize,
    /// Orders the broker or exchange refused.
    pub rejected: usize,
    /// Intents refused before any request (policy, invalid intent data).
    pub refused: usize,
    /// Intents not placed because the account needs a login.
    pub needs_login: usize,
    /// Intents not placed for any other reason.
    pub failed: usize,
    /// Orders whose outcome is still unknown (reconciliation continues).
    pub unknown: usize,
}

impl UserSummary {
    /// Counts one execution's final state.
    pub fn count(&mut self, state: ExecutionState, reason: Option<&str>) {
        match state {
            ExecutionState::Placed => self.placed += 1,
            ExecutionState::Rejected => self.rejected += 1,
            ExecutionState::Refused => self.refused += 1,
            ExecutionState::Failed if reason == Some("needs_login") => self.needs_login += 1,
            ExecutionState::Failed => self.failed += 1,
            ExecutionState::Unknown | ExecutionState::Submitting => self.unknown += 1,
        }
    }
}

/// Something users or operators should hear of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Notification {
    /// An account cannot trade at the coming (or current) slot.
    AccountCannotTrade {
        /// The user.
        user_id: UserId,
        /// The account.
        account_id: AccountId,
        /// Why, with the login URL for `needs_login`.
        problem: AccountProblem,
    },
    /// A run ended: per user, how its intents went.
    RunFinished {
        /// The IST trading date.
        trading_date: NaiveDate,
        /// The slot.
        slot: Slot,
        /// Per user.
        users: BTreeMap<UserId, UserSummary>,
    },
    /// The worker cannot run at all (a missing holiday list, an unreadable intent source).
    WorkerProblem {
        /// What is wrong.
        message: String,
    },
}

/// Receives notifications. `notify` must return at once: queue, never wait.
pub trait Notifier: Send + Sync {
    /// Hands over one notification.
    fn notify(&self, notification: &Notification);
}

/// Writes every notification to `tracing`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingNotifier;

impl Notifier for TracingNotifier {
    fn notify(&self, notification: &Notification) {
        match notification {
            Notification::AccountCannotTrade {
                user_id,
                account_id,
                problem,
            } => tracing::warn!(
                %user_id, %account_id, reason = problem.reason.as_str(), detail = %problem.detail,
                "account cannot trade"
            ),
            Notification::RunFinished {
                trading_date,
                slot,
                users,
            } => {
                for (user_id, summary) in users {
                    tracing::info!(
                        %trading_date, %slot, %user_id,
                        placed = summary.placed, rejected = summary.rejected,
                        refused = summary.refused, needs_login = summary.needs_login,
                        failed = summary.failed, unknown = summary.unknown,
                        "run finished for user"
                    );
                }
            }
            Notification::WorkerProblem { message } => {
                tracing::error!(%message, "worker problem");
            }
        }
    }
}

/// Sends every notification to each of several notifiers.
#[derive(Clone, Default)]
pub struct Notifiers(Vec<Arc<dyn Notifier>>);

impl Notifiers {
    /// Tracing only.
    pub fn tracing() -> Self {
        Self(vec![Arc::new(TracingNotifier)])
    }

    /// The same set with one more notifier.
    #[must_use]
    pub fn with(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.0.push(notifier);
        self
    }
}

impl std::fmt::Debug for Notifiers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Notifiers({})", self.0.len())
    }
}

impl Notifier for Notifiers {
    fn notify(&self, notification: &Notification) {
        for notifier in &self.0 {
            notifier.notify(notification);
        }
    }
}
