//! The journal: one run per (trading date, slot), one execution per (run, intent), the single
//! source of truth of what was sent.
//!
//! The rule that makes placements exactly-once rests on it: an execution is journalled
//! `submitting` (durably) before its request leaves, and its outcome after. Backends:
//! [`crate::FileJournal`] (an append-only, fsync'd file) and [`crate::postgres::PostgresJournal`]
//! (`execution_runs`, `executions`).

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use broker_core::{OrderId, OrderTag};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use vault::{AccountId, UserId};

use crate::slots::Slot;

/// One run: a slot on a trading date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    /// The run's id.
    pub id: Uuid,
    /// The IST trading date.
    pub trading_date: NaiveDate,
    /// The slot.
    pub slot: Slot,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl Run {
    /// The run's part of every tag: its date and slot (`2026-12-01/15:10`), so that tags do
    /// not depend on the journal's ids and are found again even from another journal.
    pub fn tag_key(&self) -> String {
        format!("{}/{}", self.trading_date, self.slot)
    }

    /// The deterministic tag of the order `intent` places in this run.
    pub fn tag_for(&self, intent: &str) -> OrderTag {
        OrderTag::derive(self.tag_key(), intent)
    }
}

/// Where an execution stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionState {
    /// The request may be on its way: durable before it leaves.
    Submitting,
    /// The broker holds the order.
    Placed,
    /// The broker (or later the exchange) refused the order.
    Rejected,
    /// Refused before any request: pre-trade policy or invalid intent data.
    Refused,
    /// Nothing was placed (account cannot trade, connectivity before sending, ...).
    Failed,
    /// The answer was lost: the order may exist; resolved by its tag.
    Unknown,
}

impl ExecutionState {
    /// Every state.
    pub const ALL: [Self; 6] = [
        Self::Submitting,
        Self::Placed,
        Self::Rejected,
        Self::Refused,
        Self::Failed,
        Self::Unknown,
    ];

    /// The stable name stored in the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submitting => "submitting",
            Self::Placed => "placed",
            Self::Rejected => "rejected",
            Self::Refused => "refused",
            Self::Failed => "failed",
            Self::Unknown => "unknown",
        }
    }

    /// Whether the order's fate is settled: nothing is sent for it again in this run.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Placed | Self::Rejected | Self::Refused)
    }

    /// Whether an order may exist at the broker without the journal knowing its id: its tag
    /// must be looked up before anything is sent again.
    pub fn needs_lookup(self) -> bool {
        matches!(self, Self::Submitting | Self::Unknown)
    }
}

impl fmt::Display for ExecutionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ExecutionState {
    type Err = JournalError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == text)
            .ok_or_else(|| JournalError::Corrupt(format!("unknown execution state {text:?}")))
    }
}

/// How an execution's state was settled other than by the direct answer to its placement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reconciliation {
    /// The tag was found in the order book: the earlier request had placed it.
    FoundByTag,
    /// A complete order book lacked the tag, so the order was placed (again).
    AbsentFromBook,
    /// The status refresh after the run found the order rejected after acceptance.
    RejectedAfterAcceptance,
    /// The status refresh after the run confirmed the order.
    StatusRefreshed,
}

impl Reconciliation {
    /// Every value.
    pub const ALL: [Self; 4] = [
        Self::FoundByTag,
        Self::AbsentFromBook,
        Self::RejectedAfterAcceptance,
        Self::StatusRefreshed,
    ];

    /// The stable name stored in the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FoundByTag => "found_by_tag",
            Self::AbsentFromBook => "absent_from_book",
            Self::RejectedAfterAcceptance => "rejected_after_acceptance",
            Self::StatusRefreshed => "status_refreshed",
        }
    }
}

impl FromStr for Reconciliation {
    type Err = JournalError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|value| value.as_str() == text)
            .ok_or_else(|| JournalError::Corrupt(format!("unknown reconciliation {text:?}")))
    }
}

/// One intent's execution in one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Execution {
    /// The run.
    pub run_id: Uuid,
    /// The intent.
    pub intent_id: String,
    /// The intent's user.
    pub user_id: UserId,
    /// The account that places it.
    pub account_id: AccountId,
    /// The order's tag.
    pub tag: OrderTag,
    /// Where it stands.
    pub state: ExecutionState,
    /// The broker's order id, once known.
    pub order_id: Option<OrderId>,
    /// The broker's second reference (Angel One's `uniqueorderid`), once known.
    pub broker_reference: Option<String>,
    /// A stable name for why it is not placed (`needs_login`, `order_type_refused`,
    /// an `ErrorKind` name, ...).
    pub reason: Option<String>,
    /// Details in words (never a secret).
    pub detail: Option<String>,
    /// How the state was settled other than by the direct answer.
    pub reconciliation: Option<Reconciliation>,
    /// The broker's last reported order status (`open`, `complete`, `rejected`, ...).
    pub broker_status: Option<String>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl Execution {
    /// A new execution, before anything happened to it.
    pub fn new(run: &Run, intent_id: &str, user_id: UserId, account_id: AccountId) -> Self {
        Self {
            run_id: run.id,
            intent_id: intent_id.to_owned(),
            user_id,
            account_id,
            tag: run.tag_for(intent_id),
            state: ExecutionState::Submitting,
            order_id: None,
            broker_reference: None,
            reason: None,
            detail: None,
            reconciliation: None,
            broker_status: None,
            updated_at: Utc::now(),
        }
    }

    /// The same execution in a new state, with why (clears an earlier reason).
    #[must_use]
    pub fn moved_to(
        mut self,
        state: ExecutionState,
        reason: Option<String>,
        detail: Option<String>,
    ) -> Self {
        self.state = state;
        self.reason = reason;
        self.detail = detail;
        self.updated_at = Utc::now();
        self
    }
}

/// Why the journal failed: the run stops placing, because an order sent without its
/// `submitting` record could not be reconciled after a crash.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// Reading or writing the journal file failed.
    #[error("journal file: {0}")]
    Io(#[from] std::io::Error),
    /// The database failed.
    #[error("journal database: {0}")]
    Database(#[from] sqlx::Error),
    /// A record could not be read back.
    #[error("journal corrupt: {0}")]
    Corrupt(String),
    /// The journal's writer stopped (after an earlier error).
    #[error("journal writer stopped")]
    WriterStopped,
}

/// Storage for runs and executions.
#[async_trait]
pub trait Journal: Send + Sync {
    /// The run of `(trading_date, slot)`, created the first time it is asked for.
    ///
    /// # Errors
    /// [`JournalError`].
    async fn open_run(&self, trading_date: NaiveDate, slot: Slot) -> Result<Run, JournalError>;

    /// Every execution of a run, in their latest state.
    ///
    /// # Errors
    /// [`JournalError`].
    async fn executions(&self, run: &Run) -> Result<Vec<Execution>, JournalError>;

    /// Records an execution's latest state; durable when this returns.
    ///
    /// # Errors
    /// [`JournalError`].
    async fn record(&self, execution: &Execution) -> Result<(), JournalError>;

    /// Every run, newest trading date and slot first (for operators' listings).
    ///
    /// # Errors
    /// [`JournalError`].
    async fn runs(&self) -> Result<Vec<Run>, JournalError>;
}
