//! The worker on Postgres: `order_intents`, the journal (`execution_runs`, `executions`) and
//! the claims that let several processes share a run (`execution_claims`).
//!
//! The schema is applied by [`migrate`] with its own version table
//! (`broker_worker_migrations`), not sqlx's `_sqlx_migrations`: the vault's migrator lives in
//! the same schema and refuses versions it does not know. Queries are checked at run time.
//! Execution records are written in batches (one multi-row upsert for every record waiting),
//! so that ten thousand concurrent `submitting` records cost a few round trips.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use broker_core::{OrderId, OrderTag};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgPool, Row};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;
use vault::{AccountId, UserId};

use crate::claims::Claims;
use crate::intent::{IntentError, IntentSource, OrderData, OrderIntent, select};
use crate::journal::{Execution, Journal, JournalError, Run};
use crate::slots::Slot;

/// The worker's migrations, in order: (version, SQL).
const MIGRATIONS: &[(i64, &str)] = &[(
    20261128300001,
    include_str!("../migrations/20261128300001_worker_journal_intents_claims.sql"),
)];

/// Applies the worker's schema to the pool's schema, once, under an advisory lock (several
/// processes may start together).
///
/// # Errors
/// [`JournalError::Database`].
pub async fn migrate(pool: &PgPool) -> Result<(), JournalError> {
    /// An arbitrary constant naming the worker's migration lock.
    const LOCK: i64 = 0x0062_726f_6b65_7277;
    let mut transaction = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(LOCK)
        .execute(&mut *transaction)
        .await?;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS broker_worker_migrations (
             version BIGINT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now());
         ALTER TABLE broker_worker_migrations ENABLE ROW LEVEL SECURITY;
         REVOKE ALL ON broker_worker_migrations FROM PUBLIC;",
    )
    .execute(&mut *transaction)
    .await?;
    for (version, sql) in MIGRATIONS {
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT version FROM broker_worker_migrations WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut *transaction)
                .await?;
        if applied.is_none() {
            sqlx::raw_sql(sql).execute(&mut *transaction).await?;
            sqlx::query("INSERT INTO broker_worker_migrations (version) VALUES ($1)")
                .bind(version)
                .execute(&mut *transaction)
                .await?;
        }
    }
    transaction.commit().await?;
    Ok(())
}

/// A record waiting for the batch writer.
struct Pending {
    execution: Execution,
    done: oneshot::Sender<Result<(), String>>,
}

/// The journal in Postgres (see the module docs).
#[derive(Debug, Clone)]
pub struct PostgresJournal {
    pool: PgPool,
    writer: mpsc::UnboundedSender<Pending>,
}

impl PostgresJournal {
    /// The journal in the pool's schema; applies the schema first. Must be called inside a
    /// Tokio runtime (it starts the batch writer).
    ///
    /// # Errors
    /// [`JournalError::Database`].
    pub async fn new(pool: PgPool) -> Result<Self, JournalError> {
        migrate(&pool).await?;
        let (writer, pending) = mpsc::unbounded_channel();
        tokio::spawn(write_batches(pool.clone(), pending));
        Ok(Self { pool, writer })
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// The most records in one upsert.
const MAX_BATCH: usize = 2000;

async fn write_batches(pool: PgPool, mut pending: mpsc::UnboundedReceiver<Pending>) {
    while let Some(first) = pending.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match pending.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let outcome = upsert(&pool, &batch)
            .await
            .map_err(|error| error.to_string());
        for record in batch {
            // A caller that went away has nothing to learn; the record is written anyway.
            let _ = record.done.send(outcome.clone());
        }
    }
}

/// One multi-row upsert; the latest record of an execution wins within the batch.
async fn upsert(pool: &PgPool, batch: &[Pending]) -> Result<(), sqlx::Error> {
    let mut latest: HashMap<(Uuid, &str), &Execution> = HashMap::new();
    for record in batch {
        let execution = &record.execution;
        latest.insert((execution.run_id, execution.intent_id.as_str()), execution);
    }
    let rows: Vec<&Execution> = latest.into_values().collect();
    let column = |f: fn(&Execution) -> Option<String>| rows.iter().map(|e| f(e)).collect();
    let run_ids: Vec<Uuid> = rows.iter().map(|e| e.run_id).collect();
    let intents: Vec<String> = rows.iter().map(|e| e.intent_id.clone()).collect();
    let users: Vec<Uuid> = rows.iter().map(|e| e.user_id.as_uuid()).collect();
    let accounts: Vec<Uuid> = rows.iter().map(|e| e.account_id.as_uuid()).collect();
    let tags: Vec<String> = rows.iter().map(|e| e.tag.as_str().to_owned()).collect();
    let states: Vec<String> = rows.iter().map(|e| e.state.as_str().to_owned()).collect();
    let order_ids: Vec<Option<String>> =
        column(|e| e.order_id.as_ref().map(|id| id.as_str().to_owned()));
    let references: Vec<Option<String>> = column(|e| e.broker_reference.clone());
    let reasons: Vec<Option<String>> = column(|e| e.reason.clone());
    let details: Vec<Option<String>> = column(|e| e.detail.clone());
    let reconciliations: Vec<Option<String>> =
        column(|e| e.reconciliation.map(|r| r.as_str().to_owned()));
    let statuses: Vec<Option<String>> = column(|e| e.broker_status.clone());
    let updated: Vec<DateTime<Utc>> = rows.iter().map(|e| e.updated_at).collect();
    sqlx::query(
        "INSERT INTO executions (run_id, intent_id, user_id, account_id, tag, state, order_id,
             broker_reference, reason, detail, reconciliation, broker_status, updated_at)
         SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::uuid[], $4::uuid[], $5::text[],
             $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],
             $12::text[], $13::timestamptz[])
         ON CONFLICT (run_id, intent_id) DO UPDATE SET
             state = EXCLUDED.state, order_id = EXCLUDED.order_id,
             broker_reference = EXCLUDED.broker_reference, reason = EXCLUDED.reason,
             detail = EXCLUDED.detail, reconciliation = EXCLUDED.reconciliation,
             broker_status = EXCLUDED.broker_status, updated_at = EXCLUDED.updated_at",
    )
    .bind(run_ids)
    .bind(intents)
    .bind(users)
    .bind(accounts)
    .bind(tags)
    .bind(states)
    .bind(order_ids)
    .bind(references)
    .bind(reasons)
    .bind(details)
    .bind(reconciliations)
    .bind(statuses)
    .bind(updated)
    .execute(pool)
    .await?;
    Ok(())
}

fn corrupt(what: &str, error: impl std::fmt::Display) -> JournalError {
    JournalError::Corrupt(format!("{what}: {error}"))
}

fn run_from_row(row: &sqlx::postgres::PgRow) -> Result<Run, JournalError> {
    let slot: String = row.try_get("slot")?;
    Ok(Run {
        id: row.try_get("id")?,
        trading_date: row.try_get("trading_date")?,
        slot: slot.parse().map_err(|error| corrupt("run slot", error))?,
        created_at: row.try_get("created_at")?,
    })
}

fn execution_from_row(row: &sqlx::postgres::PgRow) -> Result<Execution, JournalError> {
    let tag: String = row.try_get("tag")?;
    let state: String = row.try_get("state")?;
    let reconciliation: Option<String> = row.try_get("reconciliation")?;
    Ok(Execution {
        run_id: row.try_get("run_id")?,
        intent_id: row.try_get("intent_id")?,
        user_id: UserId::from_uuid(row.try_get("user_id")?),
        account_id: AccountId::from_uuid(row.try_get("account_id")?),
        tag: OrderTag::new(tag).map_err(|error| corrupt("execution tag", error))?,
        state: state.parse()?,
        order_id: row
            .try_get::<Option<String>, _>("order_id")?
            .map(OrderId::new),
        broker_reference: row.try_get("broker_reference")?,
        reason: row.try_get("reason")?,
        detail: row.try_get("detail")?,
        reconciliation: reconciliation.map(|text| text.parse()).transpose()?,
        broker_status: row.try_get("broker_status")?,
        updated_at: row.try_get("updated_at")?,
    })
}

#[async_trait]
impl Journal for PostgresJournal {
    async fn open_run(&self, trading_date: NaiveDate, slot: Slot) -> Result<Run, JournalError> {
        sqlx::query(
            "INSERT INTO execution_runs (id, trading_date, slot) VALUES ($1, $2, $3)
             ON CONFLICT (trading_date, slot) DO NOTHING",
        )
        .bind(Uuid::new_v4())
        .bind(trading_date)
        .bind(slot.name())
        .execute(&self.pool)
        .await?;
        let row = sqlx::query(
            "SELECT id, trading_date, slot, created_at FROM execution_runs
             WHERE trading_date = $1 AND slot = $2",
        )
        .bind(trading_date)
        .bind(slot.name())
        .fetch_one(&self.pool)
        .await?;
        run_from_row(&row)
    }

    async fn executions(&self, run: &Run) -> Result<Vec<Execution>, JournalError> {
        sqlx::query("SELECT * FROM executions WHERE run_id = $1 ORDER BY intent_id")
            .bind(run.id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(execution_from_row)
            .collect()
    }

    async fn recent_runs(&self, limit: usize) -> Result<Vec<Run>, JournalError> {
        sqlx::query(
            "SELECT id, trading_date, slot, created_at FROM execution_runs
             ORDER BY trading_date DESC, slot DESC LIMIT $1",
        )
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(run_from_row)
        .collect()
    }

    async fn record(&self, execution: &Execution) -> Result<(), JournalError> {
        let (done, written) = oneshot::channel();
        self.writer
            .send(Pending {
                execution: execution.clone(),
                done,
            })
            .map_err(|_| JournalError::WriterStopped)?;
        written
            .await
            .map_err(|_| JournalError::WriterStopped)?
            .map_err(|message| JournalError::Corrupt(format!("write failed: {message}")))
    }
}

/// Intents from the `order_intents` table.
#[derive(Debug, Clone)]
pub struct PostgresIntents {
    pool: PgPool,
}

impl PostgresIntents {
    /// Intents in the pool's schema; applies the schema first.
    ///
    /// # Errors
    /// [`JournalError::Database`].
    pub async fn new(pool: PgPool) -> Result<Self, JournalError> {
        migrate(&pool).await?;
        Ok(Self { pool })
    }

    /// Stores (or replaces) an intent.
    ///
    /// # Errors
    /// [`IntentError::BadId`], [`IntentError::Database`].
    pub async fn save(&self, intent: &OrderIntent) -> Result<(), IntentError> {
        intent.check_id()?;
        sqlx::query(
            "INSERT INTO order_intents (id, user_id, account_id, slot, order_fields, enabled)
             VALUES ($1, $2, $3, $4, $5::jsonb, $6)
             ON CONFLICT (id) DO UPDATE SET user_id = EXCLUDED.user_id,
                 account_id = EXCLUDED.account_id, slot = EXCLUDED.slot,
                 order_fields = EXCLUDED.order_fields, enabled = EXCLUDED.enabled,
                 updated_at = now()",
        )
        .bind(&intent.id)
        .bind(intent.user_id.as_uuid())
        .bind(intent.account_id.as_uuid())
        .bind(intent.slot.name())
        .bind(intent.order.as_json())
        .bind(intent.enabled)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

#[async_trait]
impl IntentSource for PostgresIntents {
    async fn intents(&self, slot: Slot) -> Result<Vec<OrderIntent>, IntentError> {
        let rows = sqlx::query(
            "SELECT id, user_id, account_id, slot, order_fields::text AS order_fields, enabled
             FROM order_intents WHERE enabled AND slot = $1 ORDER BY id",
        )
        .bind(slot.name())
        .fetch_all(&self.pool)
        .await?;
        let mut intents = Vec::with_capacity(rows.len());
        for row in rows {
            let id: String = row.try_get("id")?;
            let order: String = row.try_get("order_fields")?;
            let row_slot: String = row.try_get("slot")?;
            let bad = |message: String| IntentError::BadOrder {
                intent: id.clone(),
                message,
            };
            intents.push(OrderIntent {
                id: id.clone(),
                user_id: UserId::from_uuid(row.try_get("user_id")?),
                account_id: AccountId::from_uuid(row.try_get("account_id")?),
                slot: row_slot
                    .parse()
                    .map_err(|e: crate::slots::BadSlot| bad(e.to_string()))?,
                order: OrderData::from_json(&order).map_err(|e| bad(e.to_string()))?,
                enabled: row.try_get("enabled")?,
            });
        }
        select(intents, slot)
    }
}

/// Claims on Postgres: leases per (run, account) (see [`Claims`]). A claim is taken when no
/// one holds the account, when this process already does, or when the holder's lease expired
/// (a dead process); rows another claimer is deciding on are skipped (`FOR UPDATE SKIP
/// LOCKED`), never waited for. Taking over an expired lease is safe because the tag is looked
/// up before anything is placed again.
#[derive(Debug, Clone)]
pub struct PostgresClaims {
    pool: PgPool,
    owner: String,
    lease: Duration,
}

impl PostgresClaims {
    /// Claims made as `owner` (unique per process, e.g. host and pid), held for `lease`.
    ///
    /// # Errors
    /// [`JournalError::Database`].
    pub async fn new(
        pool: PgPool,
        owner: impl Into<String>,
        lease: Duration,
    ) -> Result<Self, JournalError> {
        migrate(&pool).await?;
        Ok(Self {
            pool,
            owner: owner.into(),
            lease,
        })
    }

    fn lease_seconds(&self) -> f64 {
        self.lease.as_secs_f64()
    }
}

#[async_trait]
impl Claims for PostgresClaims {
    async fn claim(&self, run: &Run, account: AccountId) -> Result<bool, JournalError> {
        let mut transaction = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO execution_claims (run_id, account_id, owner, lease_until)
             VALUES ($1, $2, $3, now() + make_interval(secs => $4))
             ON CONFLICT (run_id, account_id) DO NOTHING",
        )
        .bind(run.id)
        .bind(account.as_uuid())
        .bind(&self.owner)
        .bind(self.lease_seconds())
        .execute(&mut *transaction)
        .await?
        .rows_affected()
            == 1;
        if inserted {
            transaction.commit().await?;
            return Ok(true);
        }
        let row = sqlx::query(
            "SELECT owner, finished, lease_until < now() AS expired FROM execution_claims
             WHERE run_id = $1 AND account_id = $2 FOR UPDATE SKIP LOCKED",
        )
        .bind(run.id)
        .bind(account.as_uuid())
        .fetch_optional(&mut *transaction)
        .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        let owner: String = row.try_get("owner")?;
        let finished: bool = row.try_get("finished")?;
        let expired: bool = row.try_get("expired")?;
        if finished || (owner != self.owner && !expired) {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE execution_claims SET owner = $3, lease_until = now() + make_interval(secs => $4)
             WHERE run_id = $1 AND account_id = $2",
        )
        .bind(run.id)
        .bind(account.as_uuid())
        .bind(&self.owner)
        .bind(self.lease_seconds())
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        if owner != self.owner {
            tracing::warn!(%account, previous = %owner, "took over an expired lease");
        }
        Ok(true)
    }

    async fn finish(&self, run: &Run, account: AccountId) -> Result<(), JournalError> {
        sqlx::query(
            "UPDATE execution_claims SET finished = TRUE
             WHERE run_id = $1 AND account_id = $2 AND owner = $3",
        )
        .bind(run.id)
        .bind(account.as_uuid())
        .bind(&self.owner)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn unfinished(&self, run: &Run) -> Result<Vec<AccountId>, JournalError> {
        let accounts: Vec<Uuid> = sqlx::query_scalar(
            "SELECT account_id FROM execution_claims WHERE run_id = $1 AND NOT finished
             ORDER BY account_id",
        )
        .bind(run.id)
        .fetch_all(&self.pool)
        .await?;
        Ok(accounts.into_iter().map(AccountId::from_uuid).collect())
    }
}
