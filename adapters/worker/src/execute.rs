//! Exactly once: how one intent's order is placed, or found, for one run.
//!
//! The rules, in order:
//! 1. A final execution (placed, rejected, refused) is left alone.
//! 2. Whenever an order may exist without the journal knowing its id (`submitting` after a
//!    crash, `unknown` after a lost answer, `failed` before a retry), its tag is looked up
//!    with [`Broker::orders_with_tag`]. Found means placed. Only a successful answer without
//!    it (a complete book) allows a new placement; a failed lookup leaves it `unknown`.
//! 3. `submitting` is durable before the request leaves; the answer is classified with
//!    [`broker_core::BrokerError::placement_outcome`] and journalled.

use broker_core::{Broker, BrokerError, Order, OrderRequest, OrderStatus, PlacementOutcome};

use crate::journal::{Execution, ExecutionState, Journal, JournalError, Reconciliation};

/// The stable name of an order status, as journalled in `broker_status`.
pub(crate) fn status_name(status: &OrderStatus) -> String {
    match status {
        OrderStatus::Pending => "pending".into(),
        OrderStatus::Open => "open".into(),
        OrderStatus::TriggerPending => "trigger_pending".into(),
        OrderStatus::Complete => "complete".into(),
        OrderStatus::Cancelled => "cancelled".into(),
        OrderStatus::Rejected { .. } => "rejected".into(),
        OrderStatus::Unknown { raw } => format!("unknown:{raw}"),
        _ => "unrecognised".into(),
    }
}

/// A placed execution moved by the broker's latest order status (a status refresh, a Kite
/// postback): `rejected` after acceptance, else still placed with the status noted. `None`
/// when it is not a placed execution or the status is the one already recorded.
pub fn with_order_status(execution: &Execution, status: &OrderStatus) -> Option<Execution> {
    if execution.state != ExecutionState::Placed {
        return None;
    }
    let name = status_name(status);
    if execution.broker_status.as_deref() == Some(name.as_str()) {
        return None;
    }
    let mut refreshed = execution.clone();
    refreshed.broker_status = Some(name);
    Some(match status {
        OrderStatus::Rejected { reason } => {
            refreshed.reconciliation = Some(Reconciliation::RejectedAfterAcceptance);
            refreshed.moved_to(
                ExecutionState::Rejected,
                Some("rejected_after_acceptance".into()),
                Some(reason.clone()),
            )
        }
        _ => {
            if refreshed.reconciliation.is_none() {
                refreshed.reconciliation = Some(Reconciliation::StatusRefreshed);
            }
            let (reason, detail) = (refreshed.reason.clone(), refreshed.detail.clone());
            refreshed.moved_to(ExecutionState::Placed, reason, detail)
        }
    })
}

/// The execution once an order carrying its tag was found in the book.
fn found(mut execution: Execution, order: &Order) -> Execution {
    execution.order_id = Some(order.order_id.clone());
    execution.reconciliation = Some(Reconciliation::FoundByTag);
    execution.broker_status = Some(status_name(&order.status));
    match &order.status {
        OrderStatus::Rejected { reason } => execution.moved_to(
            ExecutionState::Rejected,
            Some("rejected_by_broker".into()),
            Some(reason.clone()),
        ),
        _ => execution.moved_to(ExecutionState::Placed, None, None),
    }
}

/// What looking the tag up decided.
enum Lookup {
    /// The order exists: the execution is settled.
    Found(Execution),
    /// A complete book lacks the tag: placing is allowed.
    Absent(Execution),
    /// The book could not be read: nothing may be placed.
    Unresolved(Execution),
}

async fn look_up(broker: &dyn Broker, execution: Execution) -> Lookup {
    match broker.orders_with_tag(&execution.tag).await {
        Ok(orders) => match orders.first() {
            Some(order) => Lookup::Found(found(execution, order)),
            None => {
                let mut execution = execution;
                execution.reconciliation = Some(Reconciliation::AbsentFromBook);
                Lookup::Absent(execution)
            }
        },
        Err(error) => {
            // Only `unknown` and `submitting` can be here unresolved; a `failed` execution
            // proved nothing was placed, so it stays as it was.
            let state = if execution.state == ExecutionState::Failed {
                ExecutionState::Failed
            } else {
                ExecutionState::Unknown
            };
            Lookup::Unresolved(execution.moved_to(
                state,
                Some(error.kind().as_str().into()),
                Some(format!(
                    "the order book could not be searched for the tag: {error}"
                )),
            ))
        }
    }
}

/// Places `request` for `execution` exactly once (see the module docs) and journals every
/// step. `execution` is the journalled state, or a fresh one.
///
/// # Errors
/// [`JournalError`] when a record could not be made durable: the caller stops placing.
pub async fn place_exactly_once(
    broker: &dyn Broker,
    journal: &dyn Journal,
    execution: Execution,
    request: &OrderRequest,
    journalled: bool,
) -> Result<Execution, JournalError> {
    if journalled && execution.state.is_final() {
        return Ok(execution);
    }
    let execution = if journalled {
        match look_up(broker, execution).await {
            Lookup::Found(settled) | Lookup::Unresolved(settled) => {
                journal.record(&settled).await?;
                return Ok(settled);
            }
            Lookup::Absent(execution) => execution,
        }
    } else {
        execution
    };

    let submitting = execution.moved_to(ExecutionState::Submitting, None, None);
    journal.record(&submitting).await?;
    let answered = match broker.place_order(request).await {
        Ok(placement) => {
            let mut placed = submitting.moved_to(ExecutionState::Placed, None, None);
            placed.order_id = Some(placement.order_id);
            placed.broker_reference = placement.broker_reference;
            placed
        }
        Err(error) => settle_error(submitting, &error),
    };
    journal.record(&answered).await?;
    Ok(answered)
}

/// The execution after a failed placement, by the one outcome rule.
fn settle_error(submitting: Execution, error: &BrokerError) -> Execution {
    let state = match error.placement_outcome() {
        PlacementOutcome::NotPlaced => ExecutionState::Failed,
        PlacementOutcome::Rejected => ExecutionState::Rejected,
        PlacementOutcome::Unknown => ExecutionState::Unknown,
    };
    submitting.moved_to(
        state,
        Some(error.kind().as_str().into()),
        Some(error.to_string()),
    )
}

/// Resolves an `unknown` (or `submitting`) execution by its tag, placing it again only when a
/// complete book lacks it.
///
/// # Errors
/// [`JournalError`].
pub async fn reconcile(
    broker: &dyn Broker,
    journal: &dyn Journal,
    execution: Execution,
    request: &OrderRequest,
) -> Result<Execution, JournalError> {
    place_exactly_once(broker, journal, execution, request, true).await
}

/// Refreshes a placed order's status to catch a rejection after acceptance; journals only a
/// change.
///
/// # Errors
/// [`JournalError`].
pub async fn refresh_status(
    broker: &dyn Broker,
    journal: &dyn Journal,
    execution: Execution,
) -> Result<Execution, JournalError> {
    let Some(order_id) = execution.order_id.clone() else {
        return Ok(execution);
    };
    if execution.state != ExecutionState::Placed {
        return Ok(execution);
    }
    let history = match broker.order(&order_id).await {
        Ok(history) => history,
        Err(error) => {
            tracing::warn!(intent = %execution.intent_id, %error, "order status refresh failed");
            return Ok(execution);
        }
    };
    let Some(refreshed) = with_order_status(&execution, &history.current.status) else {
        return Ok(execution);
    };
    journal.record(&refreshed).await?;
    Ok(refreshed)
}
