//! The run's exactly-once rules against the paper broker, with faults injected around it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use broker_core::BrokerKind;
use broker_worker::{
    AccountProblem, Execution, ExecutionState, FileJournal, FnIntents, Journal, Notification,
    OrderIntent, ProblemReason, Reconciliation, RunSettings, Runner, Slot, StaticAccounts,
};
use chrono::NaiveDate;
use common::{Captured, Fault, FaultyBroker, account, intent, limit_buy, market_buy};
use vault::BrokerAccount;

fn date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
}

fn fast() -> RunSettings {
    RunSettings {
        max_concurrency: 8,
        reconcile_delay_ms: 5,
        reconcile_passes: 2,
        refresh_delay_ms: 0,
        ..RunSettings::default()
    }
}

struct Setup {
    runner: Runner,
    journal: Arc<FileJournal>,
    notes: Arc<Captured>,
    _dir: tempfile::TempDir,
}

fn setup(accounts: StaticAccounts, intents: Vec<OrderIntent>) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let journal = Arc::new(FileJournal::open(dir.path().join("journal.jsonl")).unwrap());
    let notes = Arc::new(Captured::default());
    let runner = Runner::new(
        journal.clone(),
        Arc::new(accounts),
        Arc::new(FnIntents::new(move |_| Ok(intents.clone()))),
        notes.clone(),
    )
    .with_settings(fast());
    Setup {
        runner,
        journal,
        notes,
        _dir: dir,
    }
}

#[tokio::test]
async fn a_run_places_each_intent_once_and_running_it_again_places_nothing() {
    let broker = FaultyBroker::new();
    let alice = account(BrokerKind::Paper);
    let setup = setup(
        StaticAccounts::new().with(alice.clone(), broker.clone()),
        vec![
            intent("a1", &alice, limit_buy(1)),
            intent("a2", &alice, limit_buy(2)),
        ],
    );
    let report = setup.runner.run(date(), Slot::DEFAULT).await.unwrap();
    assert_eq!(report.users[&alice.user_id].placed, 2);
    for id in ["a1", "a2"] {
        let execution = report.execution(id).unwrap();
        assert_eq!(execution.state, ExecutionState::Placed);
        assert_eq!(broker.orders_tagged(&execution.tag).await, 1);
        assert_eq!(execution.tag, report.run.tag_for(id));
        assert_eq!(execution.broker_status.as_deref(), Some("complete"));
    }

    let again = setup.runner.run(date(), Slot::DEFAULT).await.unwrap();
    assert_eq!(again.run, report.run, "one run per (date, slot)");
    assert_eq!(broker.order_count().await, 2);
    assert_eq!(broker.placement_calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_policy_refusal_is_journalled_with_its_rule_before_any_request() {
    let broker = FaultyBroker::new();
    // Angel One's rules, applied by account broker: market orders are refused.
    let angel = account(BrokerKind::AngelOne);
    let setup = setup(
        StaticAccounts::new().with(angel.clone(), broker.clone()),
        vec![intent("m", &angel, market_buy())],
    );
    let report = setup.runner.run(date(), Slot::DEFAULT).await.unwrap();
    let refused = report.execution("m").unwrap();
    assert_eq!(refused.state, ExecutionState::Refused);
    assert_eq!(refused.reason.as_deref(), Some("order_type_refused"));
    assert_eq!(broker.placement_calls.load(Ordering::SeqCst), 0);
    assert_eq!(report.users[&angel.user_id].refused, 1);
    let journalled = setup.journal.executions(&report.run).await.unwrap();
    assert_eq!(journalled, vec![refused.clone()]);
}

#[tokio::test]
async fn invalid_intent_data_and_another_users_account_are_refused_without_a_request() {
    let broker = FaultyBroker::new();
    let alice = account(BrokerKind::Paper);
    let mut missing = limit_buy(1);
    missing.as_object_mut().unwrap().remove("side");
    let mut foreign = intent("foreign", &alice, limit_buy(1));
    foreign.user_id = vault::UserId::new_random();
    let setup = setup(
        StaticAccounts::new().with(alice.clone(), broker.clone()),
        vec![intent("missing", &alice, missing), foreign],
    );
    let report = setup.runner.run(date(), Slot::DEFAULT).await.unwrap();
    let missing = report.execution("missing").unwrap();
    assert_eq!(missing.state, ExecutionState::Refused);
    assert_eq!(missing.reason.as_deref(), Some("invalid_intent"));
    assert!(missing.detail.as_deref().unwrap().contains("side"));
    assert_eq!(
        report.execution("foreign").unwrap().reason.as_deref(),
        Some("account_of_another_user")
    );
    assert_eq!(broker.placement_calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_lost_answer_is_found_by_tag_and_not_placed_again() {
    let broker = FaultyBroker::new();
    broker.set_fault(Fault::LoseAnswerAfterPlacing);
    let alice = account(BrokerKind::Paper);
    let setup = setup(
        StaticAccounts::new().with(alice.clone(), broker.clone()),
        vec![intent("a1", &alice, limit_buy(1))],
    );
    let report = setup.runner.run(date(), Slot::DEFAULT).await.unwrap();
    let execution = report.execution("a1").unwrap();
    assert_eq!(execution.state, ExecutionState::Placed);
    assert_eq!(execution.reconciliation, Some(Reconciliation::FoundByTag));
    assert!(execution.order_id.is_some());
    assert_eq!(broker.orders_tagged(&execution.tag).await, 1);
    assert_eq!(broker.placement_calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_unknown_outcome_absent_from_a_complete_book_is_placed_once_more() {
    let broker = FaultyBroker::new();
    broker.set_fault(Fault::LoseRequestUnknown);
    let alice = account(BrokerKind::Paper);
    let setup = setup(
        StaticAccounts::new().with(alice.clone(), broker.clone()),
        vec![intent("a1", &alice, limit_buy(1))],
    );
    let report = setup.runner.run(date(), Slot::DEFAULT).await.unwrap();
    let execution = report.execution("a1").unwrap();
    assert_eq!(execution.state, ExecutionState::Placed);
    assert_eq!(
        execution.reconciliation,
        Some(Reconciliation::AbsentFromBook)
    );
    assert_eq!(broker.orders_tagged(&execution.tag).await, 1);
    assert_eq!(broker.placement_calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_unreadable_book_leaves_the_outcome_unknown_and_places_nothing() {
    let broker = FaultyBroker::new();
    broker.set_fault(Fault::LoseRequestUnknown);
    broker.fail_lookups.store(true, Ordering::SeqCst);
    let alice = account(BrokerKind::Paper);
    let setup = setup(
        StaticAccounts::new().with(alice.clone(), broker.clone()),
        vec![intent("a1", &alice, limit_buy(1))],
    );
    let report = setup.runner.run(date(), Slot::DEFAULT).await.unwrap();
    let execution = report.execution("a1").unwrap();
    assert_eq!(execution.state, ExecutionState::Unknown);
    assert_eq!(execution.reason.as_deref(), Some("connectivity"));
    assert_eq!(report.users[&alice.user_id].unknown, 1);
    assert_eq!(broker.placement_calls.load(Ordering::SeqCst), 1);

    // The next attempt, with the book readable again, resolves it: still one request.
    broker.fail_lookups.store(false, Ordering::SeqCst);
    let report = setup.runner.run(date(), Slot::DEFAULT).await.unwrap();
    let execution = report.execution("a1").unwrap();
    assert_eq!(execution.state, ExecutionState::Placed);
    assert_eq!(broker.orders_tagged(&execution.tag).await, 1);
    assert_eq!(broker.placement_calls.load(Ordering::SeqCst), 2);
}

/// A crash after `submitting` was journalled: the restarted run looks the tag up first.
#[tokio::test]
async fn after_a_crash_a_submitting_execution_is_looked_up_before_placing() {
    for order_went_out in [true, false] {
        let broker = FaultyBroker::new();
        let alice = account(BrokerKind::Paper);
        let intents = vec![intent("a1", &alice, limit_buy(1))];
        let setup = setup(
            StaticAccounts::new().with(alice.clone(), broker.clone()),
            intents.clone(),
        );
        let run = setup.journal.open_run(date(), Slot::DEFAULT).await.unwrap();
        let submitting = Execution::new(&run, "a1", alice.user_id, alice.id);
        setup.journal.record(&submitting).await.unwrap();
        if order_went_out {
            use broker_core::Broker;
            let request = intents[0].request(&submitting.tag).unwrap();
            broker.inner.place_order(&request).await.unwrap();
        }
        let report = setup.runner.run(date(), Slot::DEFAULT).await.unwrap();
        let execution = report.execution("a1").unwrap();
        assert_eq!(execution.state, ExecutionState::Placed);
        let expected = if order_went_out {
            Reconciliation::FoundByTag
        } else {
            Reconciliation::AbsentFromBook
        };
        assert_eq!(execution.reconciliation, Some(expected));
        assert_eq!(
            broker.orders_tagged(&execution.tag).await,
            1,
            "{order_went_out}"
        );
    }
}

#[tokio::test]
async fn a_rejection_after_acceptance_is_caught_by_the_status_refresh() {
    // 800 a share, 1000 in cash: two shares cannot be paid for.
    let broker = FaultyBroker::with_cash(1000);
    let alice = account(BrokerKind::Paper);
    let setup = setup(
        StaticAccounts::new().with(alice.clone(), broker.clone()),
        vec![intent("big", &alice, limit_buy(2))],
    );
    let report = setup.runner.run(date(), Slot::DEFAULT).await.unwrap();
    let execution = report.execution("big").unwrap();
    assert_eq!(execution.state, ExecutionState::Rejected);
    assert_eq!(
        execution.reconciliation,
        Some(Reconciliation::RejectedAfterAcceptance)
    );
    assert!(
        execution
            .detail
            .as_deref()
            .unwrap()
            .contains("insufficient funds")
    );
    assert_eq!(report.users[&alice.user_id].rejected, 1);
}

#[tokio::test]
async fn an_account_that_cannot_trade_is_reported_while_the_others_trade() {
    let broker = FaultyBroker::new();
    let alice = account(BrokerKind::Paper);
    let bob = account(BrokerKind::Zerodha);
    let mut problem = AccountProblem::new(ProblemReason::NeedsLogin, "log in to Kite today");
    problem.login_url = Some("https://kite.example/connect/login".into());
    let setup = setup(
        StaticAccounts::new()
            .with(alice.clone(), broker.clone())
            .with_problem(bob.clone(), problem.clone()),
        vec![
            intent("a1", &alice, limit_buy(1)),
            intent("b1", &bob, limit_buy(1)),
        ],
    );
    let report = setup.runner.run(date(), Slot::DEFAULT).await.unwrap();
    assert_eq!(
        report.execution("a1").unwrap().state,
        ExecutionState::Placed
    );
    let failed = report.execution("b1").unwrap();
    assert_eq!(failed.state, ExecutionState::Failed);
    assert_eq!(failed.reason.as_deref(), Some("needs_login"));
    assert_eq!(report.users[&bob.user_id].needs_login, 1);
    assert_eq!(report.problems, vec![(bob.id, problem.clone())]);
    let notes = setup.notes.all();
    assert!(notes.contains(&Notification::AccountCannotTrade {
        user_id: bob.user_id,
        account_id: bob.id,
        problem,
    }));
    assert!(
        matches!(notes.last(), Some(Notification::RunFinished { users, .. }) if users.len() == 2)
    );
}

#[tokio::test]
async fn accounts_without_auto_execute_are_not_traded() {
    let broker = FaultyBroker::new();
    let mut off: BrokerAccount = account(BrokerKind::Paper);
    off.auto_execute = false;
    let setup = setup(
        StaticAccounts::new().with(off.clone(), broker.clone()),
        vec![intent("o1", &off, limit_buy(1))],
    );
    let report = setup.runner.run(date(), Slot::DEFAULT).await.unwrap();
    assert!(report.executions.is_empty());
    assert_eq!(broker.placement_calls.load(Ordering::SeqCst), 0);
}
