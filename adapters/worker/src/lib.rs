#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod accounts;
mod calendar;
mod claims;
mod config;
mod connector;
mod execute;
mod fan_out;
mod file_journal;
mod intent;
mod journal;
mod notify;
pub mod postgres;
mod run;
mod scheduler;
mod slots;
mod webhook;

pub use accounts::{AccountProblem, AccountSource, ProblemReason, StaticAccounts};
pub use calendar::{CalendarError, Holiday, NSE_2026, TradingCalendar};
pub use claims::{Claims, SingleProcess};
pub use config::{
    ConfigError, KITE_STATE_KEY_ENV_VAR, StoreConfig, WEBHOOK_SECRET_ENV_VAR, WorkerConfig,
    kite_state_key_from_env,
};
pub use connector::{ConnectorAccounts, problem_of};
pub use execute::{place_exactly_once, reconcile, refresh_status, with_order_status};
pub use file_journal::FileJournal;
pub use intent::{
    FileIntents, FnIntents, IntentError, IntentFn, IntentSource, MAX_INTENT_ID_LEN, OrderData,
    OrderIntent,
};
pub use journal::{Execution, ExecutionState, Journal, JournalError, Reconciliation, Run};
pub use notify::{Notification, Notifier, Notifiers, TracingNotifier, UserSummary};
pub use run::{Policies, RunError, RunReport, RunSettings, Runner};
pub use scheduler::{PreflightReport, Scheduler, SchedulerError};
pub use slots::{BadSlot, Slot, SlotSettings};
pub use webhook::{
    SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookNotifier, WebhookSettings, signature,
};
