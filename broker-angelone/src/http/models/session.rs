//! Login, token renewal and logout.

use std::fmt;

use broker_core::REDACTED;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::expose;

/// `loginByPassword` body. `password` is the account's MPIN.
#[derive(Serialize)]
pub struct LoginBody<'a> {
    /// The client code.
    pub clientcode: &'a str,
    /// The MPIN.
    #[serde(serialize_with = "expose")]
    pub password: &'a SecretString,
    /// The current TOTP code.
    #[serde(serialize_with = "expose")]
    pub totp: &'a SecretString,
}

impl fmt::Debug for LoginBody<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginBody")
            .field("clientcode", &self.clientcode)
            .field("password", &REDACTED)
            .field("totp", &REDACTED)
            .finish()
    }
}

/// `generateTokens` body.
#[derive(Serialize)]
pub struct RefreshBody<'a> {
    /// The refresh token from login.
    #[serde(rename = "refreshToken", serialize_with = "expose")]
    pub refresh_token: &'a SecretString,
}

impl fmt::Debug for RefreshBody<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshBody")
            .field("refresh_token", &REDACTED)
            .finish()
    }
}

/// `logout` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogoutBody {
    /// The client code.
    pub clientcode: String,
}

/// `data` of login and `generateTokens`: the session's tokens.
#[derive(Deserialize)]
#[non_exhaustive]
pub struct WireSession {
    /// The session's bearer token.
    #[serde(rename = "jwtToken")]
    pub jwt_token: SecretString,
    /// The token that renews the session.
    #[serde(rename = "refreshToken")]
    pub refresh_token: SecretString,
    /// The market-data feed token.
    #[serde(rename = "feedToken", default = "empty_secret")]
    pub feed_token: SecretString,
}

fn empty_secret() -> SecretString {
    SecretString::from(String::new())
}

impl fmt::Debug for WireSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WireSession")
            .field("jwt_token", &REDACTED)
            .field("refresh_token", &REDACTED)
            .field("feed_token", &REDACTED)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_holding_bodies_and_tokens_debug_redacted() {
        let mpin = SecretString::from("4321");
        let totp = SecretString::from("123456");
        let body = LoginBody {
            clientcode: "A123",
            password: &mpin,
            totp: &totp,
        };
        let printed = format!("{body:?}");
        assert!(
            !printed.contains("4321") && !printed.contains("123456"),
            "{printed}"
        );
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"clientcode": "A123", "password": "4321", "totp": "123456"})
        );
        let tokens: WireSession = serde_json::from_str(
            r#"{"jwtToken":"eyJsecret","refreshToken":"refSECRET","feedToken":"feedSECRET"}"#,
        )
        .unwrap();
        let printed = format!("{tokens:?}");
        assert!(
            !printed.contains("SECRET") && !printed.contains("eyJ"),
            "{printed}"
        );
    }
}
