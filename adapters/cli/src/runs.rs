//! `brokerctl run` and `brokerctl preflight`, on the broker-worker library and its journal.

use std::collections::BTreeMap;

use broker_core::ist;
use broker_worker::{Execution, PreflightReport, Run, Slot, WorkerConfig};
use chrono::{Days, NaiveDate, Utc};
use uuid::Uuid;

use crate::context::{Globals, Store};
use crate::failure::{EXIT_NOT_FOUND, Failure, Outcome};
use crate::output::{print_json, print_table};

/// How many of the latest runs `run status` lists.
const RUNS_LISTED: usize = 50;

/// `brokerctl run …`
#[derive(Debug, clap::Subcommand)]
pub enum RunCommand {
    /// Run a slot now: every due account's intents for it, exactly once (a rerun of the same
    /// date and slot reconciles by tag and places nothing twice).
    Now {
        /// The slot (HH:MM IST; default: the first configured slot, else 15:10).
        #[arg(long)]
        slot: Option<Slot>,
        /// The trading date (default: today in IST).
        #[arg(long)]
        date: Option<NaiveDate>,
    },
    /// The journalled runs, newest first, with their outcomes counted.
    Status,
    /// One run: per account, per intent, the outcome.
    Show {
        /// The run's id (from `run status`).
        run: Uuid,
    },
}

/// Runs a `run` command.
pub async fn run(globals: &Globals, command: RunCommand) -> Outcome {
    let store = globals.store().await?;
    let config = globals.worker_config(&store)?;
    match command {
        RunCommand::Now { slot, date } => {
            let slot = slot.unwrap_or_else(|| default_slot(&config));
            let date = date.unwrap_or_else(|| ist::date_of(Utc::now()));
            let scheduler = scheduler(&store, &config).await?;
            let Some(report) = scheduler.run_on(date, slot).await? else {
                if globals.json {
                    return print_json(&serde_json::json!({ "trading_day": false, "date": date }));
                }
                println!("{date} is not a trading day: nothing was placed");
                return Ok(());
            };
            if globals.json {
                return print_json(&serde_json::json!({
                    "run": report.run,
                    "executions": report.executions,
                    "problems": report.problems,
                }));
            }
            print_run(&report.run, &report.executions);
            for (account, problem) in &report.problems {
                println!(
                    "account {account} cannot trade: {} ({})",
                    problem.reason.as_str(),
                    problem.detail
                );
            }
            Ok(())
        }
        RunCommand::Status => {
            let journal = config.journal(store.pool().as_ref()).await?;
            let mut listed = Vec::new();
            for run in journal.recent_runs(RUNS_LISTED).await? {
                let executions = journal.executions(&run).await?;
                let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
                for execution in &executions {
                    *counts.entry(execution.state.as_str()).or_default() += 1;
                }
                listed.push((run, counts));
            }
            if globals.json {
                let value: Vec<serde_json::Value> = listed
                    .iter()
                    .map(|(run, counts)| serde_json::json!({ "run": run, "outcomes": counts }))
                    .collect();
                return print_json(&value);
            }
            let rows: Vec<Vec<String>> = listed
                .iter()
                .map(|(run, counts)| {
                    let outcomes: Vec<String> = counts
                        .iter()
                        .map(|(state, n)| format!("{state} {n}"))
                        .collect();
                    vec![
                        run.id.to_string(),
                        run.trading_date.to_string(),
                        run.slot.to_string(),
                        outcomes.join(", "),
                    ]
                })
                .collect();
            print_table(&["RUN", "DATE", "SLOT", "OUTCOMES"], &rows);
            Ok(())
        }
        RunCommand::Show { run } => {
            let journal = config.journal(store.pool().as_ref()).await?;
            let found = journal
                .recent_runs(usize::MAX)
                .await?
                .into_iter()
                .find(|candidate| candidate.id == run)
                .ok_or_else(|| Failure::new(EXIT_NOT_FOUND, format!("no such run: {run}")))?;
            let executions = journal.executions(&found).await?;
            if globals.json {
                return print_json(&serde_json::json!({ "run": found, "executions": executions }));
            }
            print_run(&found, &executions);
            Ok(())
        }
    }
}

/// Runs `preflight`: who can trade at the slot and who cannot, and why.
pub async fn preflight(globals: &Globals, slot: Option<Slot>, date: Option<NaiveDate>) -> Outcome {
    let store = globals.store().await?;
    let config = globals.worker_config(&store)?;
    let scheduler = scheduler(&store, &config).await?;
    let (date, slot) = match (date, slot) {
        (Some(date), Some(slot)) => (date, slot),
        (date, slot) => next_slot(&config, date, slot)?,
    };
    let report: PreflightReport = scheduler.preflight(date, slot).await?;
    if globals.json {
        return print_json(&serde_json::json!({
            "date": date, "slot": slot, "ready": report.ready,
            "problems": report.problems, "invalid_intents": report.invalid_intents,
        }));
    }
    println!("pre-flight for {date} {slot}");
    let mut rows: Vec<Vec<String>> = report
        .ready
        .iter()
        .map(|account| vec![account.to_string(), "ready".into(), String::new()])
        .collect();
    rows.extend(report.problems.iter().map(|(account, problem)| {
        let mut why = problem.detail.clone();
        if let Some(url) = &problem.login_url {
            why.push_str(&format!(" (log in at {url})"));
        }
        vec![account.to_string(), problem.reason.as_str().to_owned(), why]
    }));
    print_table(&["ACCOUNT", "CAN TRADE", "WHY NOT"], &rows);
    for (intent, problem) in &report.invalid_intents {
        println!("intent {intent} is invalid: {problem}");
    }
    Ok(())
}

async fn scheduler(store: &Store, config: &WorkerConfig) -> Outcome<broker_worker::Scheduler> {
    Ok(config
        .scheduler_over(
            store.credentials(),
            store.pool(),
            crate::context::kite_state_key(false)?,
        )
        .await?)
}

fn default_slot(config: &WorkerConfig) -> Slot {
    config
        .schedule
        .slots
        .iter()
        .min()
        .copied()
        .unwrap_or(Slot::DEFAULT)
}

/// The next (date, slot) from now on a trading day, honouring a given date or slot.
fn next_slot(
    config: &WorkerConfig,
    date: Option<NaiveDate>,
    slot: Option<Slot>,
) -> Outcome<(NaiveDate, Slot)> {
    let now = Utc::now();
    let calendar = config.calendar()?;
    let start = date.unwrap_or_else(|| ist::date_of(now));
    for offset in 0..15 {
        let Some(day) = start.checked_add_days(Days::new(offset)) else {
            break;
        };
        let trading = calendar
            .is_trading_day(day)
            .map_err(|error| Failure::runtime(error.to_string()))?;
        if !trading {
            if date.is_some() {
                break;
            }
            continue;
        }
        let found = match slot {
            Some(slot) if date.is_some() || slot.on(day) > now => Some(slot),
            Some(_) => None,
            None if date.is_some() => Some(default_slot(config)),
            None => config.schedule.next_on(day, now),
        };
        if let Some(found) = found {
            return Ok((day, found));
        }
    }
    Err(Failure::runtime(format!(
        "no trading slot found from {start}: give --date and --slot"
    )))
}

/// The run as a table: per account, per intent, the outcome.
fn print_run(run: &Run, executions: &[Execution]) {
    println!("run {} ({} {})", run.id, run.trading_date, run.slot);
    let mut sorted: Vec<&Execution> = executions.iter().collect();
    sorted.sort_by(|a, b| (a.account_id, &a.intent_id).cmp(&(b.account_id, &b.intent_id)));
    let rows: Vec<Vec<String>> = sorted
        .iter()
        .map(|execution| {
            vec![
                execution.account_id.to_string(),
                execution.intent_id.clone(),
                execution.state.as_str().to_owned(),
                execution.reason.clone().unwrap_or_default(),
                execution
                    .order_id
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            ]
        })
        .collect();
    print_table(&["ACCOUNT", "INTENT", "OUTCOME", "REASON", "ORDER"], &rows);
}
