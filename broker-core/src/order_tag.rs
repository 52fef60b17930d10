//! Order tags: how an order is found again when the answer to its placement was lost.
//!
//! Neither broker has an idempotency key. Every order the toolkit places therefore carries a
//! tag derived from what the order is for (the run and the intent), the same on every
//! attempt; after a timeout or a crash the order book is searched for the tag before anything
//! is placed again. Both brokers accept tags of at most 20 ASCII letters and digits (Angel One
//! answers AB4008 beyond that).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::validation::ValidationError;

/// A tag of at most [`OrderTag::MAX_LEN`] ASCII letters and digits, checked once when made.
///
/// ```
/// use broker_core::OrderTag;
///
/// let tag = OrderTag::derive("run-2026-12-01-1510", "intent-42");
/// assert_eq!(tag, OrderTag::derive("run-2026-12-01-1510", "intent-42"));
/// assert_ne!(tag, OrderTag::derive("run-2026-12-01-1510", "intent-43"));
/// assert_eq!(tag.as_str().len(), OrderTag::MAX_LEN);
/// assert!("run42leg1".parse::<OrderTag>().is_ok());
/// assert!("has space".parse::<OrderTag>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrderTag(String);

impl OrderTag {
    /// The longest tag both brokers accept.
    pub const MAX_LEN: usize = 20;

    /// Checks a tag: 1 to 20 ASCII letters and digits.
    ///
    /// # Errors
    /// [`ValidationError::TagTooLong`], [`ValidationError::TagNotAlphanumeric`] (also for an
    /// empty tag).
    pub fn new(tag: impl Into<String>) -> Result<Self, ValidationError> {
        let tag = tag.into();
        if tag.len() > Self::MAX_LEN {
            return Err(ValidationError::TagTooLong {
                length: tag.len(),
                max: Self::MAX_LEN,
            });
        }
        if tag.is_empty() || !tag.bytes().all(|byte| byte.is_ascii_alphanumeric()) {
            return Err(ValidationError::TagNotAlphanumeric { tag });
        }
        Ok(Self(tag))
    }

    /// The tag of the order that `intent` places in `run`: 20 upper-case base32 characters of
    /// a SHA-256 over both (length-prefixed, so no two different pairs run together). The same
    /// pair always gives the same tag; two different pairs collide with a probability of about
    /// 2^-100.
    pub fn derive(run: impl AsRef<[u8]>, intent: impl AsRef<[u8]>) -> Self {
        let mut hasher = Sha256::new();
        for part in [run.as_ref(), intent.as_ref()] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part);
        }
        let digest = hasher.finalize();
        // 13 bytes = 104 bits encode to 21 base32 characters; the first 20 carry 100 bits.
        let mut encoded = data_encoding::BASE32_NOPAD.encode(&digest[..13]);
        encoded.truncate(Self::MAX_LEN);
        Self(encoded)
    }

    /// The tag as sent to the broker.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether a tag the broker reported is this one. Brokers echo tags as sent, but the
    /// comparison ignores ASCII case so that a broker that changes case cannot hide an order.
    pub fn matches(&self, reported: &str) -> bool {
        self.0.eq_ignore_ascii_case(reported.trim())
    }
}

impl fmt::Display for OrderTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for OrderTag {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<String> for OrderTag {
    type Error = ValidationError;

    fn try_from(tag: String) -> Result<Self, Self::Error> {
        Self::new(tag)
    }
}

impl From<OrderTag> for String {
    fn from(tag: OrderTag) -> Self {
        tag.0
    }
}

impl AsRef<str> for OrderTag {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_at_most_twenty_ascii_alphanumerics() {
        assert!(OrderTag::new("a".repeat(20)).is_ok());
        assert_eq!(
            OrderTag::new("a".repeat(21)),
            Err(ValidationError::TagTooLong {
                length: 21,
                max: 20
            })
        );
        for bad in ["", "with space", "dash-ed", "ünïcode", "semi;colon"] {
            assert!(
                matches!(
                    OrderTag::new(bad),
                    Err(ValidationError::TagNotAlphanumeric { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn derived_tags_are_deterministic_valid_and_distinct() {
        let tag = OrderTag::derive("run1", "intent1");
        assert_eq!(tag, OrderTag::derive("run1", "intent1"));
        assert_eq!(OrderTag::new(tag.as_str()), Ok(tag.clone()));
        assert_eq!(tag.as_str().len(), OrderTag::MAX_LEN);
        let mut seen = std::collections::HashSet::new();
        for run in 0..50 {
            for intent in 0..50 {
                assert!(seen.insert(OrderTag::derive(format!("run{run}"), format!("i{intent}"))));
            }
        }
    }

    #[test]
    fn the_pair_is_length_prefixed_so_shifting_bytes_between_parts_changes_the_tag() {
        assert_ne!(OrderTag::derive("ab", "c"), OrderTag::derive("a", "bc"));
        assert_ne!(OrderTag::derive("", "abc"), OrderTag::derive("abc", ""));
    }

    #[test]
    fn a_known_pair_keeps_its_tag_across_releases() {
        // Changing the derivation would make a restarted worker miss orders placed before
        // the upgrade: this value must never change.
        assert_eq!(
            OrderTag::derive("run", "intent").as_str(),
            OrderTag::derive(b"run".as_slice(), b"intent".as_slice()).as_str()
        );
        let pinned = OrderTag::derive("2026-12-01/15:10", "7f3c");
        assert_eq!(pinned.as_str(), PINNED);
    }

    /// Computed independently: base32(SHA-256(be64(len) ‖ run ‖ be64(len) ‖ intent)[..13])[..20].
    const PINNED: &str = "ZS4CLCA7JFURQW6DUCUP";

    #[test]
    fn matching_ignores_case_and_surrounding_space() {
        let tag = OrderTag::new("Run42Leg1").unwrap();
        assert!(tag.matches("RUN42LEG1"));
        assert!(tag.matches(" run42leg1 "));
        assert!(!tag.matches("run42leg2"));
    }

    #[test]
    fn serde_refuses_invalid_tags() {
        let tag: OrderTag = serde_json::from_str("\"abc123\"").unwrap();
        assert_eq!(serde_json::to_string(&tag).unwrap(), "\"abc123\"");
        assert!(serde_json::from_str::<OrderTag>("\"not ok\"").is_err());
    }
}
