//! The session Kite issues at the token exchange.

use std::fmt;

use broker_core::REDACTED;
use secrecy::SecretString;
use serde::Deserialize;

use super::WireProfile;

/// The session returned by `POST /session/token` and `POST /session/refresh_token`: the
/// user's profile plus the tokens.
#[derive(Clone, Deserialize)]
#[non_exhaustive]
pub struct WireSession {
    /// Who logged in.
    #[serde(flatten)]
    pub profile: WireProfile,
    /// The access token for `Authorization: token api_key:access_token`.
    pub access_token: SecretString,
    /// The public token (for the websocket of some apps).
    #[serde(default)]
    pub public_token: Option<SecretString>,
    /// The refresh token: empty unless the app is an approved platform.
    #[serde(default)]
    pub refresh_token: Option<SecretString>,
    /// When the user logged in (`YYYY-MM-DD HH:MM:SS`, IST).
    #[serde(default)]
    pub login_time: Option<String>,
}

impl fmt::Debug for WireSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WireSession")
            .field("user_id", &self.profile.user_id)
            .field("access_token", &REDACTED)
            .field(
                "public_token",
                &self.public_token.as_ref().map(|_| REDACTED),
            )
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| REDACTED),
            )
            .field("login_time", &self.login_time)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_debug_redacts_tokens() {
        let session: WireSession = serde_json::from_str(
            r#"{"user_id":"AB1","access_token":"acc3ss","public_token":"pub1ic","refresh_token":"r3fresh"}"#,
        )
        .unwrap();
        let printed = format!("{session:?}");
        for secret in ["acc3ss", "pub1ic", "r3fresh"] {
            assert!(!printed.contains(secret), "{printed}");
        }
        assert!(printed.contains("AB1"));
    }
}
