//! The Postgres backend: tables `broker_accounts` and `broker_sessions` (see
//! `migrations/`), runtime-checked queries, every per-account query scoped by user id.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use async_trait::async_trait;
use broker_core::BrokerKind;
use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection, Executor, Postgres, QueryBuilder, Row};
use uuid::Uuid;

use crate::account::{AccountId, AccountStatus, BrokerAccount, UserId};
use crate::backend::RecordBackend;
use crate::claim::{Claim, ClaimOutcome};
use crate::envelope::{Field, V1_PREFIX, V2_PREFIX};
use crate::error::StoreError;
use crate::record::{
    AccountChange, AccountRecord, SealedFields, SealedRow, SessionRecord, Staleness, Table,
};

/// The embedded schema migrations.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The migration that creates `broker_accounts` and `broker_sessions`; adopting the platform's
/// table does its work and records it as applied.
const CREATE_TABLES_VERSION: i64 = 20261128000001;

/// Extends the platform's `broker_accounts` table in place (see the file's comments).
const ADOPT_PLATFORM_TABLE: &str = include_str!("../sql/adopt_platform_broker_accounts.sql");

/// Columns the platform's table must have to be adopted.
const PLATFORM_COLUMNS: [&str; 5] = [
    "id",
    "user_id",
    "broker",
    "api_key_encrypted",
    "api_secret_encrypted",
];

/// The account columns other than secrets.
const ACCOUNT_COLUMNS: &str = "id, user_id, broker, host(egress_ip) AS egress_ip, auto_execute, \
                               status, created_at, updated_at";

/// Sealed records in Postgres.
#[derive(Debug, Clone)]
pub struct PostgresBackend {
    pool: PgPool,
}

impl PostgresBackend {
    /// Connects to `url` and applies the embedded migrations.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the connection fails, [`StoreError::Migration`] when a
    /// migration does.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new().connect(url).await?;
        Self::from_pool(pool).await
    }

    /// Connects to `url` with every connection's `search_path` set to `schema` (created if
    /// missing), and applies the embedded migrations there. Lets the vault live in its own
    /// schema, and gives each test run a fresh one.
    ///
    /// # Errors
    /// [`StoreError::InvalidRecord`] when `schema` is not a plain lower-case identifier,
    /// [`StoreError::Database`] or [`StoreError::Migration`].
    pub async fn connect_in_schema(url: &str, schema: &str) -> Result<Self, StoreError> {
        let plain_identifier = schema.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && schema
                .bytes()
                .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_')
            && schema.len() <= 63;
        if !plain_identifier {
            return Err(invalid(format!(
                "schema name {schema:?} must be a lower-case identifier (a-z, 0-9, _)"
            )));
        }
        let mut admin = PgConnection::connect(url).await?;
        admin
            .execute(format!("CREATE SCHEMA IF NOT EXISTS {schema}").as_str())
            .await?;
        admin.close().await?;
        let search_path = format!("SET search_path TO {schema}");
        let pool = PgPoolOptions::new()
            .after_connect(move |connection, _| {
                let search_path = search_path.clone();
                Box::pin(async move {
                    connection.execute(search_path.as_str()).await?;
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        Self::from_pool(pool).await
    }

    /// Uses an existing pool (e.g. one whose connections set a `search_path`) and applies the
    /// embedded migrations.
    ///
    /// When the schema already holds the platform's own `broker_accounts` table (Supabase,
    /// with `user_id`, `api_key_encrypted`, `api_secret_encrypted` and columns of its own) and
    /// the vault's migrations never ran there, the table is adopted in place: every row and
    /// column is kept, the vault's columns (`client_id_encrypted`, `mpin_encrypted`,
    /// `totp_secret_encrypted`, `egress_ip`, `auto_execute`, `status`, `updated_at`) and
    /// `broker_sessions` are added, the migrations run as usual (closing the table to
    /// Supabase's client roles), and the place of every legacy ciphertext is recorded
    /// ([`crate::Vault::record_legacy_placements`]). [`crate::Vault::migrate_legacy`] then
    /// re-seals the legacy values in place.
    ///
    /// # Errors
    /// [`StoreError::Migration`] when a migration fails, [`StoreError::UnadoptableTable`]
    /// when an existing `broker_accounts` lacks a column the platform's has or names a broker
    /// the vault does not know (nothing is changed then), [`StoreError::Database`].
    pub async fn from_pool(pool: PgPool) -> Result<Self, StoreError> {
        let adopted = adopt_platform_table(&pool).await?;
        MIGRATOR.run(&pool).await?;
        let backend = Self { pool };
        if adopted {
            let placements = crate::rotation::record_legacy_placements(&backend).await?;
            tracing::info!(
                recorded = placements.recorded,
                duplicated = placements.duplicated,
                "adopted the platform's broker_accounts table"
            );
        }
        Ok(backend)
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// Adopts the platform's `broker_accounts` when it is there and the vault's migrations have not
/// created theirs; whether it did. One transaction, under an advisory lock so that two
/// processes starting at once do not both adopt.
async fn adopt_platform_table(pool: &PgPool) -> Result<bool, StoreError> {
    use sqlx::migrate::Migrate;
    let mut transaction = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('broker-vault/adopt-platform-table'))")
        .execute(&mut *transaction)
        .await?;
    let (table_exists, migrations_exist): (bool, bool) = sqlx::query_as(
        "SELECT to_regclass('broker_accounts') IS NOT NULL, \
                to_regclass('_sqlx_migrations') IS NOT NULL",
    )
    .fetch_one(&mut *transaction)
    .await?;
    if !table_exists {
        return Ok(false);
    }
    if migrations_exist {
        let created_by_vault: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM _sqlx_migrations WHERE version = $1)")
                .bind(CREATE_TABLES_VERSION)
                .fetch_one(&mut *transaction)
                .await?;
        if created_by_vault {
            return Ok(false);
        }
    }
    let unadoptable = |detail: String| StoreError::UnadoptableTable { detail };
    let columns: Vec<String> = sqlx::query_scalar(
        "SELECT attname::text FROM pg_attribute \
         WHERE attrelid = 'broker_accounts'::regclass AND attnum > 0 AND NOT attisdropped",
    )
    .fetch_all(&mut *transaction)
    .await?;
    if let Some(missing) = PLATFORM_COLUMNS
        .iter()
        .find(|wanted| !columns.iter().any(|column| column == *wanted))
    {
        return Err(unadoptable(format!(
            "it has no column {missing} (the platform's table has id, user_id, broker, \
             api_key_encrypted and api_secret_encrypted)"
        )));
    }
    // The brokers the vault's own table accepts (its CHECK constraint).
    let known: Vec<&str> = [BrokerKind::AngelOne, BrokerKind::Zerodha, BrokerKind::Paper]
        .iter()
        .map(|broker| broker.as_str())
        .collect();
    let unknown: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT broker FROM broker_accounts WHERE broker <> ALL($1) ORDER BY 1 LIMIT 10",
    )
    .bind(&known)
    .fetch_all(&mut *transaction)
    .await?;
    if !unknown.is_empty() {
        return Err(unadoptable(format!(
            "rows name broker(s) {unknown:?}; the vault knows {known:?}: update those rows first"
        )));
    }
    sqlx::raw_sql(ADOPT_PLATFORM_TABLE)
        .execute(&mut *transaction)
        .await?;
    let create_tables = MIGRATOR
        .iter()
        .find(|migration| migration.version == CREATE_TABLES_VERSION)
        .ok_or_else(|| invalid("the migration creating broker_accounts is not embedded"))?;
    transaction.ensure_migrations_table().await?;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES ($1, $2, TRUE, $3, 0)",
    )
    .bind(create_tables.version)
    .bind(create_tables.description.as_ref())
    .bind(create_tables.checksum.as_ref())
    .execute(&mut *transaction)
    .await?;
    transaction.commit().await?;
    Ok(true)
}

fn invalid(detail: impl Into<String>) -> StoreError {
    StoreError::InvalidRecord {
        detail: detail.into(),
    }
}

fn broker_from_row(row: &PgRow) -> Result<BrokerKind, StoreError> {
    let broker: String = row.try_get("broker")?;
    broker
        .parse()
        .map_err(|error: broker_core::UnknownBroker| invalid(error.to_string()))
}

fn account_from_row(row: &PgRow) -> Result<BrokerAccount, StoreError> {
    let status: String = row.try_get("status")?;
    let egress_ip: Option<String> = row.try_get("egress_ip")?;
    let egress_ip = egress_ip
        .map(|text| {
            text.parse::<IpAddr>()
                .map_err(|_| invalid(format!("egress_ip {text:?} is not an IP address")))
        })
        .transpose()?;
    Ok(BrokerAccount {
        id: AccountId::from_uuid(row.try_get("id")?),
        user_id: UserId::from_uuid(row.try_get("user_id")?),
        broker: broker_from_row(row)?,
        status: status
            .parse::<AccountStatus>()
            .map_err(|error| invalid(error.to_string()))?,
        auto_execute: row.try_get("auto_execute")?,
        egress_ip,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn sealed_from_row(row: &PgRow, fields: &[Field]) -> Result<SealedFields, StoreError> {
    let mut sealed = SealedFields::new();
    for field in fields {
        if let Some(ciphertext) = row.try_get::<Option<String>, _>(field.column())? {
            sealed.insert(*field, ciphertext);
        }
    }
    Ok(sealed)
}

fn secret_columns(fields: &[Field]) -> String {
    fields
        .iter()
        .map(|field| field.column())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Appends `WHERE`-clause text matching rows with any stale ciphertext among `fields`.
fn push_staleness(query: &mut QueryBuilder<'_, Postgres>, fields: &[Field], stale: &Staleness) {
    query.push("(");
    for (index, field) in fields.iter().enumerate() {
        if index > 0 {
            query.push(" OR ");
        }
        let column = format!("x.{}", field.column());
        let is_envelope = format!(
            "(starts_with({column}, '{V2_PREFIX}') OR starts_with({column}, '{V1_PREFIX}'))"
        );
        query.push(format!("({column} IS NOT NULL AND "));
        match stale {
            Staleness::SealedUnderOtherKey(primary) => {
                query.push(format!("{is_envelope} AND NOT starts_with({column}, "));
                query.push_bind(format!("{V2_PREFIX}{primary}."));
                query.push("))");
            }
            Staleness::Legacy => {
                query.push(format!("NOT {is_envelope})"));
            }
        }
    }
    query.push(")");
}

fn key_column(table: Table) -> &'static str {
    match table {
        Table::Accounts => "id",
        Table::Sessions => "account_id",
    }
}

#[async_trait]
impl RecordBackend for PostgresBackend {
    async fn insert_accounts(&self, records: &[AccountRecord]) -> Result<(), StoreError> {
        let mut transaction = self.pool.begin().await?;
        let insert = format!(
            "INSERT INTO broker_accounts (id, user_id, broker, egress_ip, auto_execute, \
             status, created_at, updated_at, {}) \
             VALUES ($1, $2, $3, $4::inet, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            secret_columns(&Field::ACCOUNT)
        );
        for record in records {
            let account = &record.account;
            let mut query = sqlx::query(&insert)
                .bind(account.id.as_uuid())
                .bind(account.user_id.as_uuid())
                .bind(account.broker.as_str())
                .bind(account.egress_ip.map(|ip| ip.to_string()))
                .bind(account.auto_execute)
                .bind(account.status.as_str())
                .bind(account.created_at)
                .bind(account.updated_at);
            for field in Field::ACCOUNT {
                query = query.bind(record.secrets.get(field));
            }
            query.execute(&mut *transaction).await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    async fn account(
        &self,
        user: UserId,
        id: AccountId,
    ) -> Result<Option<AccountRecord>, StoreError> {
        let columns = secret_columns(&Field::ACCOUNT);
        let row = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS}, {columns} FROM broker_accounts WHERE user_id = $1 AND id = $2"
        ))
        .bind(user.as_uuid())
        .bind(id.as_uuid())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(AccountRecord {
                account: account_from_row(&row)?,
                secrets: sealed_from_row(&row, &Field::ACCOUNT)?,
            })
        })
        .transpose()
    }

    async fn accounts(&self, user: UserId) -> Result<Vec<BrokerAccount>, StoreError> {
        sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM broker_accounts WHERE user_id = $1 \
             ORDER BY created_at, id"
        ))
        .bind(user.as_uuid())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(account_from_row)
        .collect()
    }

    async fn update_account(
        &self,
        user: UserId,
        id: AccountId,
        change: &AccountChange,
    ) -> Result<Option<BrokerAccount>, StoreError> {
        let mut query = QueryBuilder::<Postgres>::new("UPDATE broker_accounts SET updated_at = ");
        query.push_bind(crate::account::now());
        match change {
            AccountChange::Secrets(secrets) => {
                for field in Field::ACCOUNT {
                    query.push(format!(", {} = ", field.column()));
                    query.push_bind(secrets.get(field).map(str::to_owned));
                }
            }
            AccountChange::Status(status) => {
                query.push(", status = ").push_bind(status.as_str());
            }
            AccountChange::AutoExecute(on) => {
                query.push(", auto_execute = ").push_bind(*on);
            }
            AccountChange::EgressIp(ip) => {
                query
                    .push(", egress_ip = ")
                    .push_bind(ip.map(|ip| ip.to_string()))
                    .push("::inet");
            }
        }
        query.push(" WHERE user_id = ").push_bind(user.as_uuid());
        query.push(" AND id = ").push_bind(id.as_uuid());
        query.push(format!(" RETURNING {ACCOUNT_COLUMNS}"));
        let row = query.build().fetch_optional(&self.pool).await?;
        row.as_ref().map(account_from_row).transpose()
    }

    async fn delete_account(&self, user: UserId, id: AccountId) -> Result<bool, StoreError> {
        let deleted = sqlx::query("DELETE FROM broker_accounts WHERE user_id = $1 AND id = $2")
            .bind(user.as_uuid())
            .bind(id.as_uuid())
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected() == 1)
    }

    /// One row this binary cannot read (say a status added by a newer schema) is skipped and
    /// reported, so it does not stop every other tenant's run.
    async fn accounts_due_for_run(&self) -> Result<Vec<BrokerAccount>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM broker_accounts \
             WHERE auto_execute AND status <> 'disabled' ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await?;
        let mut due = Vec::with_capacity(rows.len());
        for row in &rows {
            match account_from_row(row) {
                Ok(account) => due.push(account),
                Err(error) => {
                    let account: Option<Uuid> = row.try_get("id").ok();
                    tracing::warn!(?account, %error, "skipped an unreadable account row");
                }
            }
        }
        let skipped = rows.len() - due.len();
        if skipped > 0 {
            tracing::warn!(
                skipped,
                due = due.len(),
                "accounts due for a run: rows skipped"
            );
        }
        Ok(due)
    }

    async fn save_session(
        &self,
        user: UserId,
        id: AccountId,
        tokens: &SealedFields,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let saved = sqlx::query(
            "INSERT INTO broker_sessions (account_id, access_token_encrypted, \
             refresh_token_encrypted, feed_token_encrypted, expires_at, updated_at) \
             SELECT id, $3, $4, $5, $6, $7 FROM broker_accounts WHERE user_id = $1 AND id = $2 \
             ON CONFLICT (account_id) DO UPDATE SET \
             access_token_encrypted = EXCLUDED.access_token_encrypted, \
             refresh_token_encrypted = EXCLUDED.refresh_token_encrypted, \
             feed_token_encrypted = EXCLUDED.feed_token_encrypted, \
             expires_at = EXCLUDED.expires_at, updated_at = EXCLUDED.updated_at",
        )
        .bind(user.as_uuid())
        .bind(id.as_uuid())
        .bind(tokens.get(Field::AccessToken))
        .bind(tokens.get(Field::RefreshToken))
        .bind(tokens.get(Field::FeedToken))
        .bind(expires_at)
        .bind(crate::account::now())
        .execute(&self.pool)
        .await?;
        Ok(saved.rows_affected() == 1)
    }

    async fn session(
        &self,
        user: UserId,
        id: AccountId,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let columns = secret_columns(&Field::SESSION);
        let row = sqlx::query(&format!(
            "SELECT a.broker, s.expires_at, {columns} FROM broker_sessions s \
             JOIN broker_accounts a ON a.id = s.account_id \
             WHERE a.user_id = $1 AND a.id = $2"
        ))
        .bind(user.as_uuid())
        .bind(id.as_uuid())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(SessionRecord {
                account_id: id,
                broker: broker_from_row(&row)?,
                tokens: sealed_from_row(&row, &Field::SESSION)?,
                expires_at: row.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    async fn clear_session(&self, user: UserId, id: AccountId) -> Result<bool, StoreError> {
        let owned: i64 = sqlx::query_scalar(
            "WITH owned AS (SELECT id FROM broker_accounts WHERE user_id = $1 AND id = $2), \
             cleared AS (DELETE FROM broker_sessions WHERE account_id IN (SELECT id FROM owned)) \
             SELECT count(*) FROM owned",
        )
        .bind(user.as_uuid())
        .bind(id.as_uuid())
        .fetch_one(&self.pool)
        .await?;
        Ok(owned == 1)
    }

    async fn stale_rows(
        &self,
        table: Table,
        stale: &Staleness,
        after: Option<AccountId>,
        limit: usize,
    ) -> Result<Vec<SealedRow>, StoreError> {
        let fields = table.fields();
        let key = key_column(table);
        let columns: Vec<String> = fields
            .iter()
            .map(|field| format!("x.{}", field.column()))
            .collect();
        let mut query = QueryBuilder::<Postgres>::new(format!(
            "SELECT x.{key} AS row_id, a.user_id, a.broker, {} FROM {} x \
             JOIN broker_accounts a ON a.id = x.{key} WHERE ",
            columns.join(", "),
            table.name()
        ));
        push_staleness(&mut query, fields, stale);
        if let Some(after) = after {
            query
                .push(format!(" AND x.{key} > "))
                .push_bind(after.as_uuid());
        }
        query.push(format!(" ORDER BY x.{key} LIMIT "));
        query.push_bind(i64::try_from(limit).unwrap_or(i64::MAX));
        query
            .build()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| {
                Ok(SealedRow {
                    table,
                    account_id: AccountId::from_uuid(row.try_get::<Uuid, _>("row_id")?),
                    user_id: UserId::from_uuid(row.try_get::<Uuid, _>("user_id")?),
                    broker: broker_from_row(row)?,
                    fields: sealed_from_row(row, fields)?,
                })
            })
            .collect()
    }

    async fn replace_fields(
        &self,
        row: &SealedRow,
        fields: &SealedFields,
    ) -> Result<bool, StoreError> {
        let table_fields = row.table.fields();
        let mut query = QueryBuilder::<Postgres>::new(format!("UPDATE {} SET ", row.table.name()));
        for (index, field) in table_fields.iter().enumerate() {
            if index > 0 {
                query.push(", ");
            }
            query.push(format!("{} = ", field.column()));
            query.push_bind(fields.get(*field).map(str::to_owned));
        }
        query.push(format!(" WHERE {} = ", key_column(row.table)));
        query.push_bind(row.account_id.as_uuid());
        for field in table_fields {
            query.push(format!(" AND {} IS NOT DISTINCT FROM ", field.column()));
            query.push_bind(row.fields.get(*field).map(str::to_owned));
        }
        let replaced = query.build().execute(&self.pool).await?;
        Ok(replaced.rows_affected() == 1)
    }

    async fn ciphertexts_per_key(&self) -> Result<BTreeMap<String, u64>, StoreError> {
        let per_table = |table: Table| {
            let values: Vec<String> = table
                .fields()
                .iter()
                .map(|field| format!("({})", field.column()))
                .collect();
            format!(
                "SELECT split_part(v.c, '.', 2) AS key_id, count(*) AS ciphertexts \
                 FROM {}, LATERAL (VALUES {}) AS v(c) \
                 WHERE starts_with(v.c, '{V2_PREFIX}') OR starts_with(v.c, '{V1_PREFIX}') \
                 GROUP BY 1",
                table.name(),
                values.join(", ")
            )
        };
        let query = format!(
            "{} UNION ALL {}",
            per_table(Table::Accounts),
            per_table(Table::Sessions)
        );
        let mut counts = BTreeMap::new();
        for row in sqlx::query(&query).fetch_all(&self.pool).await? {
            let key_id: String = row.try_get("key_id")?;
            let ciphertexts: i64 = row.try_get("ciphertexts")?;
            *counts.entry(key_id).or_insert(0) += u64::try_from(ciphertexts).unwrap_or_default();
        }
        Ok(counts)
    }

    async fn record_legacy_placements(&self, digests: &[String]) -> Result<u64, StoreError> {
        let recorded = sqlx::query(
            "INSERT INTO legacy_placements (digest) SELECT unnest($1::text[]) \
             ON CONFLICT (digest) DO NOTHING",
        )
        .bind(digests)
        .execute(&self.pool)
        .await?;
        Ok(recorded.rows_affected())
    }

    async fn recorded_legacy_placements(
        &self,
        digests: &[String],
    ) -> Result<BTreeSet<String>, StoreError> {
        let recorded: Vec<String> =
            sqlx::query_scalar("SELECT digest FROM legacy_placements WHERE digest = ANY($1)")
                .bind(digests)
                .fetch_all(&self.pool)
                .await?;
        Ok(recorded.into_iter().collect())
    }

    async fn claim(
        &self,
        name: &str,
        holder: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<ClaimOutcome, StoreError> {
        // The upsert takes the claim when it is free, lapsed or the holder's own, in one
        // statement; when it does not, the current claim is read (a release in between is
        // a free claim: try again).
        loop {
            let taken = sqlx::query(
                "INSERT INTO store_claims (name, holder, until) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, until = EXCLUDED.until \
                 WHERE store_claims.until <= $4 OR store_claims.holder = EXCLUDED.holder",
            )
            .bind(name)
            .bind(holder)
            .bind(until)
            .bind(now)
            .execute(&self.pool)
            .await?;
            if taken.rows_affected() == 1 {
                return Ok(ClaimOutcome::Granted);
            }
            let current =
                sqlx::query("SELECT name, holder, until FROM store_claims WHERE name = $1")
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?;
            if let Some(row) = current {
                return Ok(ClaimOutcome::HeldBy(claim_from_row(&row)?));
            }
        }
    }

    async fn release_claim(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        let released = sqlx::query("DELETE FROM store_claims WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(released.rows_affected() == 1)
    }

    async fn claims(&self, prefix: &str, now: DateTime<Utc>) -> Result<Vec<Claim>, StoreError> {
        sqlx::query(
            "SELECT name, holder, until FROM store_claims \
             WHERE starts_with(name, $1) AND until > $2 ORDER BY name",
        )
        .bind(prefix)
        .bind(now)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(claim_from_row)
        .collect()
    }
}

fn claim_from_row(row: &PgRow) -> Result<Claim, StoreError> {
    Ok(Claim {
        name: row.try_get("name")?,
        holder: row.try_get("holder")?,
        until: row.try_get("until")?,
    })
}
