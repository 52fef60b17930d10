//! Named, expiring claims shared by every process on one store: the primitive behind a login
//! lease (one process logs an account in while the others wait for its session), single-use
//! tokens (a consumed nonce stays claimed until it expires) and exclusive assignments (an
//! egress address held by one scope).
//!
//! A claim is granted when its name is free, when the previous claim has expired, or when
//! the same holder claims it again (which renews it). The check and the write are one atomic
//! step in every backend (the file lock, one SQL statement).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One claim as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// What is claimed (such as `login:<account id>`).
    pub name: String,
    /// Who holds it (an opaque token chosen by the claimant).
    pub holder: String,
    /// When it lapses and may be taken by anyone.
    pub until: DateTime<Utc>,
}

/// What came of a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The claim is now the caller's, until the time it asked for.
    Granted,
    /// Someone else holds it.
    HeldBy(Claim),
}

impl ClaimOutcome {
    /// Whether the claim was granted.
    pub fn is_granted(&self) -> bool {
        matches!(self, Self::Granted)
    }
}

/// Whether `holder` may take over `current` at `now`: it is theirs, or it has lapsed.
pub(crate) fn may_take(current: &Claim, holder: &str, now: DateTime<Utc>) -> bool {
    current.holder == holder || current.until <= now
}
