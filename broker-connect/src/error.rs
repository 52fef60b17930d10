//! What can go wrong turning an account into a live broker. No variant holds a secret.

use std::net::IpAddr;
use std::path::PathBuf;

use broker_core::{BrokerError, ConnectError, HttpClientError};
use vault::{StoreError, UserId};

/// A connector call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectorError {
    /// The user has no such account (it may be another user's: that is not said).
    #[error("account not found")]
    AccountNotFound,
    /// A Zerodha account without a valid session: the account holder must log in to Kite
    /// (at `login_url`) before it can trade.
    #[error("the Kite session is missing or expired: the account holder must log in to Kite")]
    NeedsLogin {
        /// Where the account holder logs in (with a signed `state`).
        login_url: String,
    },
    /// The account has no egress IP yet ([`crate::Connector::assign_egress`]).
    #[error("the account has no egress IP assigned")]
    NoEgressIp,
    /// Every address this user's scope may use is held by another scope.
    #[error(
        "the egress IP pool is exhausted: {in_use} of its {addresses} shared address(es) are held by other users or families; add addresses to the pool"
    )]
    PoolExhausted {
        /// How many addresses the pool can give out.
        addresses: usize,
        /// How many of them other scopes hold.
        in_use: usize,
    },
    /// The account's bind address is not on this machine: another machine of the pool
    /// serves it ([`crate::Connector::serves`]).
    #[error(
        "egress address {bind} is not on this machine; the machine that holds it serves this account"
    )]
    AddressNotOwned {
        /// The bind address.
        bind: IpAddr,
    },
    /// At start-up: bind addresses of the pool that this machine does not hold.
    #[error(
        "egress address(es) {} are not on this machine: add them to an interface, remove them from the pool, or set egress.spans_machines",
        list(missing)
    )]
    AddressesNotOwned {
        /// The addresses missing.
        missing: Vec<IpAddr>,
    },
    /// The account's stored egress IP is not (or no longer) in the pool.
    #[error("the account's egress IP {ip} is not in the egress pool; assign it again")]
    EgressNotInPool {
        /// The stored address.
        ip: IpAddr,
    },
    /// The account's stored egress IP belongs to another user or family.
    #[error("the account's egress IP {ip} is not this user's to use; assign it again")]
    EgressNotAllowed {
        /// The stored address.
        ip: IpAddr,
    },
    /// The account is disabled and is never connected.
    #[error("the account is disabled")]
    AccountDisabled,
    /// A Kite login `state` was refused.
    #[error(transparent)]
    BadState(#[from] BadState),
    /// The credential store failed.
    #[error("credential store: {0}")]
    Store(StoreError),
    /// The broker failed or refused.
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// The broker session could not be built from the stored account.
    #[error("cannot build the broker session: {0}")]
    Connect(#[from] ConnectError),
    /// The settings cannot be used.
    #[error(transparent)]
    Settings(#[from] SettingsError),
}

impl From<StoreError> for ConnectorError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::AccountNotFound { .. } => Self::AccountNotFound,
            other => Self::Store(other),
        }
    }
}

fn list(ips: &[IpAddr]) -> String {
    ips.iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why a Kite login `state` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BadState {
    /// Not a state this connector signed (malformed, or the signature does not match).
    #[error("the login state is not one this service issued")]
    Forged,
    /// Signed, but past its expiry: start the login again.
    #[error("the login state has expired; start the Kite login again")]
    Expired,
    /// Signed and valid, but used already.
    #[error("the login state was used already; start the Kite login again")]
    Replayed,
    /// Signed for another account than the one completing the login.
    #[error("the login state was issued for another account")]
    OtherAccount,
}

/// The settings cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// An address appears twice in the pool (as a bind or a public address).
    #[error("egress address {ip} appears more than once in the pool")]
    DuplicateAddress {
        /// The address.
        ip: IpAddr,
    },
    /// A user is listed in two families.
    #[error("user {user} is in two families ({first:?} and {second:?}); SEBI allows one")]
    UserInTwoFamilies {
        /// The user.
        user: UserId,
        /// One family.
        first: String,
        /// The other.
        second: String,
    },
    /// An address is reserved for a family that is not defined.
    #[error(
        "an egress address is reserved for family {name:?}, which egress.families does not define"
    )]
    UnknownFamily {
        /// The family's name.
        name: String,
    },
    /// An extra root certificate file cannot be read.
    #[error("cannot read root certificate {path}: {source}")]
    Certificate {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// An HTTP client cannot be built (unusable certificate, unusable address).
    #[error(transparent)]
    Http(#[from] HttpClientError),
    /// The key that signs Kite login states is too short.
    #[error("the Kite state key must have at least {min} bytes, got {got}")]
    ShortStateKey {
        /// The minimum.
        min: usize,
        /// The length given.
        got: usize,
    },
}
