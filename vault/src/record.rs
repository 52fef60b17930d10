//! Records as a backend stores them: metadata in the clear, secrets only as ciphertexts.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::account::{AccountId, AccountStatus, BrokerAccount, UserId};
use crate::envelope::{Field, is_current_under, is_envelope, sealing_key_id};
use crate::keyring::KeyId;

/// Ciphertexts by field: envelopes, or legacy ciphertexts awaiting migration.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SealedFields(BTreeMap<Field, String>);

impl SealedFields {
    /// No fields.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a field's ciphertext.
    pub fn insert(&mut self, field: Field, ciphertext: String) {
        self.0.insert(field, ciphertext);
    }

    /// A field's ciphertext, if stored.
    pub fn get(&self, field: Field) -> Option<&str> {
        self.0.get(&field).map(String::as_str)
    }

    /// Every stored field and its ciphertext.
    pub fn iter(&self) -> impl Iterator<Item = (Field, &str)> {
        self.0.iter().map(|(field, text)| (*field, text.as_str()))
    }
}

/// Prints which key sealed each field, never the ciphertext.
impl fmt::Debug for SealedFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sealed_by = |text| sealing_key_id(text).unwrap_or("legacy");
        f.debug_map()
            .entries(self.iter().map(|(field, text)| (field, sealed_by(text))))
            .finish()
    }
}

/// One `broker_accounts` row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRecord {
    /// Everything but the secrets.
    #[serde(flatten)]
    pub account: BrokerAccount,
    /// The secrets, sealed.
    pub secrets: SealedFields,
}

/// One `broker_sessions` row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The account it belongs to.
    pub account_id: AccountId,
    /// The account's broker (part of the associated data).
    pub broker: broker_core::BrokerKind,
    /// The tokens, sealed.
    pub tokens: SealedFields,
    /// When the session stops working.
    pub expires_at: DateTime<Utc>,
}

/// One change to an account's row; the backend also sets `updated_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccountChange {
    /// New sealed credentials, replacing all five fields.
    Secrets(SealedFields),
    /// A new status.
    Status(AccountStatus),
    /// Auto-execute on or off.
    AutoExecute(bool),
    /// A new egress IP, or none.
    EgressIp(Option<IpAddr>),
}

impl AccountChange {
    /// Applies the change to an in-memory record.
    pub fn apply(&self, record: &mut AccountRecord, now: DateTime<Utc>) {
        match self {
            Self::Secrets(secrets) => record.secrets = secrets.clone(),
            Self::Status(status) => record.account.status = *status,
            Self::AutoExecute(on) => record.account.auto_execute = *on,
            Self::EgressIp(ip) => record.account.egress_ip = *ip,
        }
        record.account.updated_at = now;
    }
}

/// The two tables holding ciphertexts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    /// `broker_accounts`.
    Accounts,
    /// `broker_sessions`.
    Sessions,
}

impl Table {
    /// The SQL table name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Accounts => "broker_accounts",
            Self::Sessions => "broker_sessions",
        }
    }

    /// The sealed fields it holds.
    pub fn fields(self) -> &'static [Field] {
        match self {
            Self::Accounts => &Field::ACCOUNT,
            Self::Sessions => &Field::SESSION,
        }
    }
}

/// Which ciphertexts a re-encryption pass rewrites.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Staleness {
    /// Envelopes that are not of the current version under this key (the primary): sealed
    /// under another key, or v1 envelopes, which do not bind the owner.
    SealedUnderOtherKey(KeyId),
    /// Ciphertexts that are not envelopes (the legacy Web Crypto layouts).
    Legacy,
}

impl Staleness {
    /// Whether this ciphertext needs rewriting.
    pub fn matches(&self, ciphertext: &str) -> bool {
        match self {
            Self::SealedUnderOtherKey(primary) => {
                is_envelope(ciphertext) && !is_current_under(ciphertext, primary)
            }
            Self::Legacy => !is_envelope(ciphertext),
        }
    }

    /// Whether any ciphertext of these fields needs rewriting.
    pub fn matches_any(&self, fields: &SealedFields) -> bool {
        fields.iter().any(|(_, text)| self.matches(text))
    }
}

/// The ciphertexts of one row, with what binds them to their place; the unit of re-encryption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedRow {
    /// Which table.
    pub table: Table,
    /// The account (the row's key in both tables).
    pub account_id: AccountId,
    /// The account's owner (part of the associated data).
    pub user_id: UserId,
    /// The account's broker (part of the associated data).
    pub broker: broker_core::BrokerKind,
    /// The row's ciphertexts as read.
    pub fields: SealedFields,
}
