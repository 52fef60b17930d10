//! The scheduler: on each trading day, pre-flight before every slot, then the run at it.
//!
//! This is the library entry the server embeds: [`Scheduler::run_until`] runs the daily
//! schedule until a shutdown future completes; [`Scheduler::run_now`] and
//! [`Scheduler::preflight`] run one slot or one pre-flight pass on demand (the CLI and the
//! server's operator endpoints).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use broker_core::{SharedClock, ist, system_clock};
use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::Serialize;
use vault::{AccountId, BrokerAccount};

use crate::accounts::AccountProblem;
use crate::calendar::{CalendarError, TradingCalendar};
use crate::fan_out::fan_out;
use crate::intent::IntentError;
use crate::notify::Notification;
use crate::run::{RunError, RunReport, Runner};
use crate::slots::{Slot, SlotSettings};

/// Why the scheduler cannot go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchedulerError {
    /// The calendar cannot say whether the exchange trades (no holiday list for the year).
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    /// A run could not proceed.
    #[error(transparent)]
    Run(#[from] RunError),
    /// The intents could not be loaded for pre-flight.
    #[error(transparent)]
    Intents(#[from] IntentError),
    /// The accounts could not be listed for pre-flight.
    #[error("cannot list the accounts due for the run: {0}")]
    Accounts(String),
}

/// What a pre-flight pass found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PreflightReport {
    /// Accounts logged in, with their connection open.
    pub ready: Vec<AccountId>,
    /// Accounts that cannot trade, and why.
    pub problems: Vec<(AccountId, AccountProblem)>,
    /// Intents whose order data is missing or invalid: (intent id, what is wrong).
    pub invalid_intents: Vec<(String, String)>,
}

/// Runs the daily schedule (see the module docs).
#[derive(Clone)]
pub struct Scheduler {
    runner: Runner,
    calendar: TradingCalendar,
    slots: SlotSettings,
    clock: SharedClock,
    /// Accounts already reported by a pre-flight pass of a (date, slot), so that the second
    /// pass notifies only what is new.
    reported: Arc<Mutex<HashSet<(NaiveDate, Slot, AccountId)>>>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("slots", &self.slots)
            .finish_non_exhaustive()
    }
}

/// Something the schedule does at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Preflight,
    SecondPass,
    Run,
}

/// A step at its instant, for a slot of a date (ordered by instant first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Scheduled {
    at: DateTime<Utc>,
    date: NaiveDate,
    slot: Slot,
    step: Step,
}

impl Scheduler {
    /// A scheduler running `runner` at `slots` on the trading days of `calendar`.
    pub fn new(runner: Runner, calendar: TradingCalendar, slots: SlotSettings) -> Self {
        Self {
            runner,
            calendar,
            slots,
            clock: system_clock(),
            reported: Arc::new(Mutex::new(HashSet::new())),
        }
    }

    /// The same scheduler reading time from `clock` (which decides the trading date; waiting
    /// still uses the Tokio timer).
    #[must_use]
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// The calendar.
    pub fn calendar(&self) -> &TradingCalendar {
        &self.calendar
    }

    /// Checks, at start-up, that the calendar covers today: a missing holiday list is a
    /// loud error, never a silent trading day.
    ///
    /// # Errors
    /// [`SchedulerError::Calendar`].
    pub fn check(&self) -> Result<(), SchedulerError> {
        let today = ist::date_of(self.clock.now());
        self.calendar.check_covers(today).map_err(|error| {
            self.runner.notifier.notify(&Notification::WorkerProblem {
                message: error.to_string(),
            });
            SchedulerError::from(error)
        })
    }

    /// Runs `slot` for today (IST) now: `None` when today is not a trading day.
    ///
    /// # Errors
    /// [`SchedulerError`].
    pub async fn run_now(&self, slot: Slot) -> Result<Option<RunReport>, SchedulerError> {
        self.run_on(ist::date_of(self.clock.now()), slot).await
    }

    /// Runs `slot` on `date`: `None` (and nothing placed) when the exchange is closed.
    ///
    /// # Errors
    /// [`SchedulerError`].
    pub async fn run_on(
        &self,
        date: NaiveDate,
        slot: Slot,
    ) -> Result<Option<RunReport>, SchedulerError> {
        if !self.trading_day(date)? {
            return Ok(None);
        }
        Ok(Some(self.runner.run(date, slot).await?))
    }

    /// One pre-flight pass for `slot` on `date`: verifies (logs in, probes the whitelist
    /// without placing anything) and warms every due account with intents at the slot (Angel
    /// One logs in; Zerodha without today's login becomes `needs_login`), and reports (and notifies, once per slot) accounts that cannot trade
    /// and intents with invalid data. Empty on a closed day.
    ///
    /// # Errors
    /// [`SchedulerError`] when the calendar, the intents or the accounts cannot be read.
    pub async fn preflight(
        &self,
        date: NaiveDate,
        slot: Slot,
    ) -> Result<PreflightReport, SchedulerError> {
        let mut report = PreflightReport::default();
        if !self.trading_day(date)? {
            return Ok(report);
        }
        let intents = self.runner.intents.intents(slot).await?;
        let probe_tag = broker_core::OrderTag::derive("preflight", "check");
        let mut with_intents = BTreeSet::new();
        for intent in &intents {
            with_intents.insert(intent.account_id);
            if let Err(error) = intent.request(&probe_tag) {
                report
                    .invalid_intents
                    .push((intent.id.clone(), error.to_string()));
            }
        }
        let accounts: Vec<BrokerAccount> = self
            .runner
            .accounts
            .due_accounts()
            .await
            .map_err(SchedulerError::Accounts)?
            .into_iter()
            .filter(|account| {
                with_intents.contains(&account.id) && self.runner.accounts.serves(account)
            })
            .collect();

        // The accounts of one egress address are verified and warmed together, then its client
        // opens as many connections to each broker as it has accounts there, so that the slot
        // finds them open and makes no TLS handshake. (Warming alone cannot ensure that: a
        // fast answer hands its connection to the next account, which then opens none.)
        let mut by_address: BTreeMap<Option<std::net::IpAddr>, Vec<BrokerAccount>> =
            BTreeMap::new();
        for account in accounts {
            by_address
                .entry(account.egress_ip)
                .or_default()
                .push(account);
        }
        let source = &self.runner.accounts;
        let mut warmed_all = Vec::new();
        fan_out(
            by_address.into_values(),
            self.runner.settings.max_concurrency,
            |group, permit| {
                let source = Arc::clone(source);
                async move {
                    let _permit = permit;
                    let mut warms = tokio::task::JoinSet::new();
                    for account in group {
                        let source = Arc::clone(&source);
                        warms.spawn(async move {
                            let warmed = match source.verify(&account).await {
                                Ok(()) => source.warm(&account).await,
                                Err(problem) => Err(problem),
                            };
                            (account, warmed)
                        });
                    }
                    let warmed = warms.join_all().await;
                    let ready: Vec<BrokerAccount> = warmed
                        .iter()
                        .filter(|(_, warmed)| warmed.is_ok())
                        .map(|(account, _)| account.clone())
                        .collect();
                    if let Err(problem) = source.keep_open(&ready).await {
                        // Still ready: the slot opens what is missing, a handshake later.
                        tracing::warn!(
                            accounts = ready.len(),
                            reason = problem.reason.as_str(),
                            detail = %problem.detail,
                            "could not open every connection ahead of the slot"
                        );
                    }
                    warmed
                }
            },
            |joined| match joined {
                Ok(warmed) => warmed_all.extend(warmed),
                Err(error) => tracing::error!(%error, "a pre-flight task of an address failed"),
            },
        )
        .await;
        for (account, warmed) in warmed_all {
            match warmed {
                Ok(()) => report.ready.push(account.id),
                Err(problem) => {
                    let first_time = self
                        .reported
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert((date, slot, account.id));
                    if first_time {
                        self.runner
                            .notifier
                            .notify(&Notification::AccountCannotTrade {
                                user_id: account.user_id,
                                account_id: account.id,
                                problem: problem.clone(),
                            });
                    }
                    report.problems.push((account.id, problem));
                }
            }
        }
        report.ready.sort();
        report.problems.sort_by_key(|(account, _)| *account);
        Ok(report)
    }

    /// Runs the schedule until `shutdown` completes: on each trading day, for each slot, the
    /// first pre-flight pass at the slot minus its lead, the second pass a minute before, the
    /// run at the slot. A slot that started less than `late_start_window_seconds` ago when the
    /// scheduler starts (a restart after a crash) is run at once: its journalled executions
    /// are reconciled by tag, nothing is placed twice.
    ///
    /// # Errors
    /// [`SchedulerError::Calendar`] at start-up or on a day without a holiday list (after a
    /// [`Notification::WorkerProblem`]). A failed run is notified and the schedule goes on.
    pub async fn run_until(
        &self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), SchedulerError> {
        self.check()?;
        tokio::pin!(shutdown);
        let started = self.clock.now();
        let late = chrono::Duration::seconds(
            i64::try_from(self.slots.late_start_window_seconds).unwrap_or(i64::MAX),
        );
        let mut after = started - late;
        loop {
            let Some(Scheduled {
                at,
                date,
                slot,
                step,
            }) = self.next_step(after)?
            else {
                return Ok(());
            };
            let wait = (at - self.clock.now()).to_std().unwrap_or(Duration::ZERO);
            tokio::select! {
                () = &mut shutdown => return Ok(()),
                () = tokio::time::sleep(wait) => {}
            }
            // A preparation step whose time passed before the start is not worth doing.
            let stale = at < started && step != Step::Run;
            if !stale {
                self.perform(date, slot, step).await;
            }
            after = at;
        }
    }

    async fn perform(&self, date: NaiveDate, slot: Slot, step: Step) {
        let outcome = match step {
            Step::Preflight | Step::SecondPass => self.preflight(date, slot).await.map(|report| {
                tracing::info!(
                    %date, %slot, ?step, ready = report.ready.len(),
                    problems = report.problems.len(),
                    invalid_intents = report.invalid_intents.len(), "pre-flight"
                );
            }),
            Step::Run => self.run_on(date, slot).await.map(|_| ()),
        };
        if let Err(error) = outcome {
            self.runner.notifier.notify(&Notification::WorkerProblem {
                message: format!("{step:?} of {date} {slot} failed: {error}"),
            });
        }
    }

    /// The first step strictly after `after`, on the next trading days (a week ahead at
    /// most); `None` when no slot is configured.
    fn next_step(&self, after: DateTime<Utc>) -> Result<Option<Scheduled>, SchedulerError> {
        let preflight = chrono::Duration::from_std(self.slots.preflight_lead())
            .unwrap_or(chrono::Duration::zero());
        let second = chrono::Duration::from_std(self.slots.second_pass_lead())
            .unwrap_or(chrono::Duration::zero());
        let first_date = ist::date_of(after);
        for offset in 0..=8 {
            let Some(date) = first_date.checked_add_days(Days::new(offset)) else {
                break;
            };
            if !self.trading_day(date)? {
                continue;
            }
            let mut steps: Vec<Scheduled> = self
                .slots
                .slots
                .iter()
                .flat_map(|slot| {
                    let start = slot.on(date);
                    let at = |at, step| Scheduled {
                        at,
                        date,
                        slot: *slot,
                        step,
                    };
                    [
                        at(start - preflight, Step::Preflight),
                        at(start - second, Step::SecondPass),
                        at(start, Step::Run),
                    ]
                })
                .filter(|scheduled| scheduled.at > after)
                .collect();
            steps.sort();
            if let Some(first) = steps.into_iter().next() {
                return Ok(Some(first));
            }
        }
        Ok(None)
    }

    fn trading_day(&self, date: NaiveDate) -> Result<bool, SchedulerError> {
        match self.calendar.is_trading_day(date) {
            Ok(open) => {
                if !open {
                    tracing::info!(%date, "exchange closed: nothing runs");
                }
                Ok(open)
            }
            Err(error) => {
                self.runner.notifier.notify(&Notification::WorkerProblem {
                    message: error.to_string(),
                });
                Err(error.into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveTime;

    use super::*;
    use crate::accounts::StaticAccounts;
    use crate::file_journal::FileJournal;
    use crate::intent::FnIntents;
    use crate::notify::TracingNotifier;

    fn scheduler(dir: &std::path::Path) -> Scheduler {
        let runner = Runner::new(
            Arc::new(FileJournal::open(dir.join("journal.jsonl")).unwrap()),
            Arc::new(StaticAccounts::new()),
            Arc::new(FnIntents::new(|_| Ok(Vec::new()))),
            Arc::new(TracingNotifier),
        );
        Scheduler::new(runner, TradingCalendar::nse_2026(), SlotSettings::default())
    }

    fn ist(date: &str, hour: u32, minute: u32) -> DateTime<Utc> {
        ist::at(
            date.parse().unwrap(),
            NaiveTime::from_hms_opt(hour, minute, 0).unwrap(),
        )
    }

    #[test]
    fn steps_come_in_order_and_skip_holidays_and_weekends() {
        let dir = tempfile::tempdir().unwrap();
        let scheduler = scheduler(dir.path());
        let next = |after| scheduler.next_step(after).unwrap().unwrap();
        let first = next(ist("2026-12-01", 12, 0));
        assert_eq!(
            (first.at, first.step),
            (ist("2026-12-01", 15, 0), Step::Preflight)
        );
        let second = next(first.at);
        assert_eq!(
            (second.at, second.step),
            (ist("2026-12-01", 15, 9), Step::SecondPass)
        );
        let run = next(second.at);
        assert_eq!((run.at, run.step), (ist("2026-12-01", 15, 10), Step::Run));
        // Thursday 24 Dec after the slot: Christmas (Friday) and the weekend are skipped.
        let monday = next(ist("2026-12-24", 16, 0));
        assert_eq!(monday.date, "2026-12-28".parse::<NaiveDate>().unwrap());
        assert_eq!(monday.step, Step::Preflight);
    }

    #[test]
    fn a_year_without_a_holiday_list_stops_the_scheduler_loudly() {
        let dir = tempfile::tempdir().unwrap();
        let scheduler = scheduler(dir.path());
        assert!(matches!(
            scheduler.next_step(ist("2026-12-31", 16, 0)),
            Err(SchedulerError::Calendar(CalendarError::NoHolidayList {
                year: 2027,
                ..
            }))
        ));
        let clock = broker_core::ManualClock::new(ist("2027-01-04", 9, 0));
        let scheduler = scheduler.with_clock(Arc::new(clock));
        assert!(scheduler.check().is_err());
    }

    #[tokio::test]
    async fn run_until_returns_when_shut_down() {
        let dir = tempfile::tempdir().unwrap();
        let clock = broker_core::ManualClock::new(ist("2026-12-01", 12, 0));
        let scheduler = scheduler(dir.path()).with_clock(Arc::new(clock));
        tokio::time::timeout(Duration::from_secs(5), scheduler.run_until(async {}))
            .await
            .unwrap()
            .unwrap();
    }
}
