//! What the store knows about an account without opening any secret.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use broker_core::BrokerKind;
use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh random (version 4) id.
            pub fn new_random() -> Self {
                Self(Uuid::new_v4())
            }
            /// Wraps an existing UUID.
            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }
            /// The UUID inside.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

uuid_id!(
    /// The id of one stored broker account.
    AccountId
);
uuid_id!(
    /// The platform user who owns accounts; every store call is scoped by it.
    UserId
);

/// The current time at the microsecond precision every backend stores.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Where an account stands with its broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AccountStatus {
    /// Stored, not yet verified against the broker.
    Pending,
    /// Verified and usable.
    Active,
    /// The broker needs an interactive login (Kite's daily login) before trading.
    NeedsLogin,
    /// Switched off by the user or an operator; never run.
    Disabled,
    /// The broker refused order calls from the account's egress IP: the account holder must
    /// register that IP at the broker.
    IpNotWhitelisted,
    /// The broker refused the stored credentials (API key, client code, MPIN or secret).
    InvalidCredentials,
    /// The broker refused the TOTP code made from the stored secret.
    InvalidTotp,
    /// The broker could not be reached when the account was last verified.
    BrokerUnreachable,
}

impl AccountStatus {
    /// Every status, for parsing.
    const ALL: [Self; 8] = [
        Self::Pending,
        Self::Active,
        Self::NeedsLogin,
        Self::Disabled,
        Self::IpNotWhitelisted,
        Self::InvalidCredentials,
        Self::InvalidTotp,
        Self::BrokerUnreachable,
    ];

    /// The stable name used in storage (`pending`, `active`, `needs_login`, `disabled`,
    /// `ip_not_whitelisted`, `invalid_credentials`, `invalid_totp`, `broker_unreachable`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::NeedsLogin => "needs_login",
            Self::Disabled => "disabled",
            Self::IpNotWhitelisted => "ip_not_whitelisted",
            Self::InvalidCredentials => "invalid_credentials",
            Self::InvalidTotp => "invalid_totp",
            Self::BrokerUnreachable => "broker_unreachable",
        }
    }
}

impl fmt::Display for AccountStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text did not name an account status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown account status {0:?}: expected pending, active, needs_login, disabled, ip_not_whitelisted, invalid_credentials, invalid_totp or broker_unreachable"
)]
pub struct UnknownStatus(pub String);

impl FromStr for AccountStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// One broker account as listed: everything but its secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BrokerAccount {
    /// The account's id.
    pub id: AccountId,
    /// The user who owns it.
    pub user_id: UserId,
    /// The broker it is with.
    pub broker: BrokerKind,
    /// Where it stands with the broker.
    pub status: AccountStatus,
    /// Whether the scheduler trades it.
    pub auto_execute: bool,
    /// The local address its broker traffic leaves from, once assigned.
    pub egress_ip: Option<IpAddr>,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl BrokerAccount {
    /// A new account: pending, not auto-executed, no egress IP yet, created now.
    pub fn new(user_id: UserId, broker: BrokerKind) -> Self {
        let now = now();
        Self {
            id: AccountId::new_random(),
            user_id,
            broker,
            status: AccountStatus::Pending,
            auto_execute: false,
            egress_ip: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// Whether the scheduler should trade it: auto-execute on and not disabled.
    pub fn is_due_for_run(&self) -> bool {
        self.auto_execute && self.status != AccountStatus::Disabled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_storage_names() {
        for status in AccountStatus::ALL {
            assert_eq!(status.as_str().parse::<AccountStatus>().unwrap(), status);
        }
        assert_eq!(
            "suspended".parse::<AccountStatus>().unwrap_err(),
            UnknownStatus("suspended".into())
        );
    }

    #[test]
    fn disabled_accounts_are_never_due_even_with_auto_execute() {
        let mut account = BrokerAccount::new(UserId::new_random(), BrokerKind::Zerodha);
        assert!(!account.is_due_for_run());
        account.auto_execute = true;
        assert!(account.is_due_for_run());
        account.status = AccountStatus::Disabled;
        assert!(!account.is_due_for_run());
    }
}
