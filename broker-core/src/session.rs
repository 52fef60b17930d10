//! Session tokens and the India Standard Time arithmetic of their daily expiry.

use std::fmt;

use chrono::{DateTime, Days, FixedOffset, NaiveTime, TimeZone, Utc};
use secrecy::{ExposeSecret, SecretString};

use crate::credentials::{CredentialError, REDACTED};

/// India Standard Time, UTC+05:30 (no daylight saving).
pub fn ist() -> FixedOffset {
    const IST_SECONDS_EAST: i32 = 5 * 3600 + 30 * 60;
    FixedOffset::east_opt(IST_SECONDS_EAST)
        .unwrap_or_else(|| unreachable!("05:30 is a valid offset"))
}

/// The first instant strictly after `after` at which the IST wall clock reads `at`.
///
/// Both brokers expire sessions at a fixed IST hour (Angel One 05:00, Zerodha 06:00):
/// `next_ist_time(login_time, 06:00)` is when a Kite token dies.
pub fn next_ist_time(after: DateTime<Utc>, at: NaiveTime) -> DateTime<Utc> {
    let local = after.with_timezone(&ist());
    let mut candidate_day = local.date_naive();
    loop {
        let candidate = ist()
            .from_local_datetime(&candidate_day.and_time(at))
            .single()
            .map(|time| time.with_timezone(&Utc));
        if let Some(candidate) = candidate.filter(|candidate| *candidate > after) {
            return candidate;
        }
        candidate_day = candidate_day + Days::new(1);
    }
}

/// The tokens of one logged-in session.
#[derive(Clone)]
pub struct SessionTokens {
    access_token: SecretString,
    refresh_token: Option<SecretString>,
    feed_token: Option<SecretString>,
    expires_at: DateTime<Utc>,
}

impl SessionTokens {
    /// A session with this access token, valid until `expires_at`.
    ///
    /// # Errors
    /// [`CredentialError::Empty`] when the token is empty.
    pub fn new(
        access_token: SecretString,
        expires_at: DateTime<Utc>,
    ) -> Result<Self, CredentialError> {
        if access_token.expose_secret().trim().is_empty() {
            return Err(CredentialError::Empty {
                field: "access token",
            });
        }
        Ok(Self {
            access_token,
            refresh_token: None,
            feed_token: None,
            expires_at,
        })
    }

    /// Adds a refresh token; an empty one (Kite sends `""` to most apps) is dropped.
    #[must_use]
    pub fn with_refresh_token(mut self, refresh_token: SecretString) -> Self {
        self.refresh_token = Some(refresh_token).filter(|token| !token.expose_secret().is_empty());
        self
    }

    /// Adds a market-data feed token; an empty one is dropped.
    #[must_use]
    pub fn with_feed_token(mut self, feed_token: SecretString) -> Self {
        self.feed_token = Some(feed_token).filter(|token| !token.expose_secret().is_empty());
        self
    }

    /// The access token (Angel One `jwtToken`, Kite `access_token`).
    pub fn access_token(&self) -> &SecretString {
        &self.access_token
    }
    /// The refresh token, when the broker issued one.
    pub fn refresh_token(&self) -> Option<&SecretString> {
        self.refresh_token.as_ref()
    }
    /// The feed token, when the broker issued one.
    pub fn feed_token(&self) -> Option<&SecretString> {
        self.feed_token.as_ref()
    }
    /// When the session stops working.
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }
    /// Whether the session still works at `now`.
    pub fn is_valid_at(&self, now: DateTime<Utc>) -> bool {
        now < self.expires_at
    }
}

impl fmt::Debug for SessionTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionTokens")
            .field("access_token", &REDACTED)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| REDACTED),
            )
            .field("feed_token", &self.feed_token.as_ref().map(|_| REDACTED))
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn hm(hour: u32, minute: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(hour, minute, 0).unwrap()
    }

    #[test]
    fn a_morning_login_expires_at_six_ist_the_next_day() {
        // 09:15 IST on 2 Dec 2026 is 03:45 UTC.
        let expiry = next_ist_time(utc("2026-12-02T03:45:00Z"), hm(6, 0));
        assert_eq!(expiry, utc("2026-12-03T00:30:00Z"));
    }

    #[test]
    fn a_login_before_the_cut_off_expires_the_same_ist_day() {
        // 04:00 IST is before 05:00 IST the same day.
        let expiry = next_ist_time(utc("2026-12-01T22:30:00Z"), hm(5, 0));
        assert_eq!(expiry, utc("2026-12-01T23:30:00Z"));
    }

    #[test]
    fn exactly_at_the_cut_off_means_the_next_day() {
        let expiry = next_ist_time(utc("2026-12-01T23:30:00Z"), hm(5, 0));
        assert_eq!(expiry, utc("2026-12-02T23:30:00Z"));
    }

    #[test]
    fn session_validity_ends_at_expiry() {
        let tokens = SessionTokens::new("jwt".into(), utc("2026-12-03T00:30:00Z")).unwrap();
        assert!(tokens.is_valid_at(utc("2026-12-03T00:29:59Z")));
        assert!(!tokens.is_valid_at(utc("2026-12-03T00:30:00Z")));
    }

    #[test]
    fn empty_tokens_are_refused_or_dropped() {
        assert!(SessionTokens::new("".into(), Utc::now()).is_err());
        let tokens = SessionTokens::new("jwt".into(), Utc::now())
            .unwrap()
            .with_refresh_token("".into());
        assert!(tokens.refresh_token().is_none());
    }

    #[test]
    fn session_debug_redacts_every_token() {
        let tokens = SessionTokens::new("eyJhbGciOiJIUzUxMiJ9.access".into(), Utc::now())
            .unwrap()
            .with_refresh_token("refreshTOKEN42".into())
            .with_feed_token("feedTOKEN77".into());
        let printed = format!("{tokens:?}");
        for secret in [
            "eyJhbGciOiJIUzUxMiJ9.access",
            "refreshTOKEN42",
            "feedTOKEN77",
        ] {
            assert!(!printed.contains(secret), "{printed}");
        }
        assert!(printed.contains(REDACTED));
    }
}
