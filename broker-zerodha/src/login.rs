//! How a Kite session is obtained: the login page, the redirect back, the token exchange.
//!
//! Kite logins are made by the account holder in a browser
//! (<https://kite.trade/docs/connect/v3/user/>): the app sends them to
//! [`Zerodha::login_url`], Kite redirects back to the app's registered redirect URL with a
//! single-use `request_token` (read it with [`LoginRedirect::parse`]), and
//! [`Zerodha::complete_login`] exchanges it for a session, after checking that the Kite user
//! who logged in is the account's own. Nothing here automates the login itself.

use std::fmt;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use url::Url;

use broker_core::{BrokerError, BrokerKind, REDACTED, Result, SessionTokens, ist};

use crate::Zerodha;
use crate::http::models::WireSession;

/// The production login page.
pub const KITE_LOGIN_URL: &str = "https://kite.zerodha.com/connect/login";

/// Lowercase hex SHA-256 of the concatenated parts: the checksum Kite uses for the token
/// exchange (`api_key + request_token + api_secret`), the renewal (`api_key + refresh_token +
/// api_secret`) and postbacks (`order_id + order_timestamp + api_secret`).
pub(crate) fn checksum(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
    }
    data_encoding::HEXLOWER.encode(&hasher.finalize())
}

/// Whether `received` is the checksum of `parts`, compared in constant time (upper-case hex
/// is accepted too).
pub(crate) fn checksum_matches(received: &str, parts: &[&str]) -> bool {
    let expected = checksum(parts);
    let received = received.to_ascii_lowercase();
    expected.as_bytes().ct_eq(received.as_bytes()).into()
}

/// The login page URL for the app with this key. `redirect_params` (typically a CSRF
/// `state`) travel URL-encoded inside the single `redirect_params` parameter, so `&` and `=`
/// in them survive, and Kite echoes them back on the redirect.
fn login_url(login_page: &Url, api_key: &SecretString, redirect_params: &[(&str, &str)]) -> Url {
    let mut url = login_page.clone();
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("v", "3")
            .append_pair("api_key", api_key.expose_secret());
        if !redirect_params.is_empty() {
            let encoded = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(redirect_params)
                .finish();
            query.append_pair("redirect_params", &encoded);
        }
    }
    url
}

/// Why a login redirect could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoginRedirectError {
    /// Kite reported something other than a successful login.
    #[error(
        "the login did not succeed (status {status:?}); ask the account holder to log in again"
    )]
    NotSuccessful {
        /// The `status` parameter received, if any.
        status: Option<String>,
    },
    /// The redirect carried no `request_token`.
    #[error("the login redirect carried no request_token")]
    MissingRequestToken,
}

/// What Kite sends back to the app's redirect URL after the account holder logs in.
#[derive(Clone)]
pub struct LoginRedirect {
    request_token: SecretString,
    params: Vec<(String, String)>,
}

impl LoginRedirect {
    /// Reads the query string of the redirect (`action=login&status=success&request_token=…`
    /// plus the app's own `redirect_params`).
    ///
    /// # Errors
    /// [`LoginRedirectError`] when the login failed or no token came back.
    pub fn parse(query: &str) -> std::result::Result<Self, LoginRedirectError> {
        let mut status = None;
        let mut request_token = None;
        let mut params = Vec::new();
        for (key, value) in url::form_urlencoded::parse(query.trim_start_matches('?').as_bytes()) {
            match key.as_ref() {
                "status" => status = Some(value.into_owned()),
                "request_token" => request_token = Some(SecretString::from(value.into_owned())),
                "action" | "type" => {}
                _ => params.push((key.into_owned(), value.into_owned())),
            }
        }
        if status.as_deref() != Some("success") {
            return Err(LoginRedirectError::NotSuccessful { status });
        }
        let request_token = request_token
            .filter(|token| !token.expose_secret().is_empty())
            .ok_or(LoginRedirectError::MissingRequestToken)?;
        Ok(Self {
            request_token,
            params,
        })
    }

    /// The single-use request token to exchange for a session.
    pub fn request_token(&self) -> &SecretString {
        &self.request_token
    }

    /// The value of one of the app's own redirect parameters (such as `state`).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

impl fmt::Debug for LoginRedirect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginRedirect")
            .field("request_token", &REDACTED)
            .field("params", &self.params)
            .finish()
    }
}

/// When a Kite session ends: 06:00 IST after its login (Kite's `login_time`, IST), or after
/// `now` when the login time is missing or unreadable.
fn session_expiry(login_time: Option<&str>, now: DateTime<Utc>) -> DateTime<Utc> {
    let started = login_time
        .and_then(|text| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").ok())
        .and_then(|naive| ist::offset().from_local_datetime(&naive).single())
        .map_or(now, |time| time.with_timezone(&Utc));
    BrokerKind::Zerodha
        .session_expires_at(started)
        .unwrap_or(started)
}

/// The [`SessionTokens`] of a Kite session: its access token, its refresh token when the app
/// is an approved platform, and its expiry.
///
/// # Errors
/// [`BrokerError::Decode`] when Kite returned an empty access token.
pub(crate) fn session_tokens(session: &WireSession, now: DateTime<Utc>) -> Result<SessionTokens> {
    let expires_at = session_expiry(session.login_time.as_deref(), now);
    let tokens = SessionTokens::new(session.access_token.clone(), expires_at).map_err(|_| {
        BrokerError::Decode {
            message: "Kite returned a session without an access token".into(),
        }
    })?;
    Ok(match &session.refresh_token {
        Some(refresh_token) => tokens.with_refresh_token(refresh_token.clone()),
        None => tokens,
    })
}

impl Zerodha {
    /// The Kite login page to send the account holder to; `redirect_params` (such as a CSRF
    /// `state`) come back on the redirect to the app.
    pub fn login_url(&self, redirect_params: &[(&str, &str)]) -> Url {
        login_url(&self.login_page, self.client.api_key(), redirect_params)
    }

    /// Completes the account holder's login: exchanges the request token from the redirect
    /// ([`LoginRedirect::request_token`]) for a session, checks that the Kite user who logged
    /// in is the account's client ([`broker_core::ZerodhaCredentials::user_id`], when known),
    /// uses the session from now on and reports it to the session listener. Returns the
    /// tokens to store (encrypted) until they expire at 06:00 IST.
    ///
    /// A session of another Kite user is logged out again at once and never used.
    ///
    /// # Errors
    /// [`BrokerError::InvalidCredentials`] when Kite refuses the app's key or checksum, or
    /// when another Kite user logged in; [`BrokerError::SessionExpired`] when the request
    /// token is invalid or was used already; any other failure of the exchange.
    pub async fn complete_login(&self, request_token: &SecretString) -> Result<SessionTokens> {
        let session = self
            .client
            .generate_session(request_token, &self.api_secret)
            .await?;
        let logged_in = session.profile.user_id.trim();
        if let Some(expected) = &self.user_id
            && !logged_in.eq_ignore_ascii_case(expected)
        {
            // Best effort: the other user's session must not stay open on our behalf.
            if let Err(error) = self
                .client
                .invalidate_access_token(&session.access_token)
                .await
            {
                tracing::warn!(%error, "could not log out the session of the wrong Kite user");
            }
            return Err(BrokerError::InvalidCredentials {
                message: format!(
                    "Kite user {logged_in:?} logged in, but this account belongs to {expected:?}: the account holder must log in to Kite as {expected}"
                ),
            });
        }
        let tokens = session_tokens(&session, self.session.clock().now())?;
        let authorization = self.client.authorization(tokens.access_token())?;
        self.session.start(tokens.clone(), authorization);
        Ok(tokens)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_is_lowercase_hex_sha256_of_the_concatenation() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            checksum(&["a", "b", "c"]),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(checksum_matches(
            "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
            &["ab", "c"]
        ));
        assert!(!checksum_matches("ba78", &["abc"]));
    }

    #[test]
    fn login_url_carries_version_key_and_encoded_redirect_params() {
        let url = login_url(
            &Url::parse(KITE_LOGIN_URL).unwrap(),
            &"kitekey".into(),
            &[("state", "a&b=c"), ("user", "42")],
        );
        assert_eq!(
            url.as_str(),
            "https://kite.zerodha.com/connect/login?v=3&api_key=kitekey&redirect_params=state%3Da%2526b%253Dc%26user%3D42"
        );
        let redirect_params: String = url
            .query_pairs()
            .find(|(key, _)| key == "redirect_params")
            .unwrap()
            .1
            .into_owned();
        assert_eq!(redirect_params, "state=a%26b%3Dc&user=42");
    }

    #[test]
    fn login_redirect_yields_token_and_state() {
        let redirect = LoginRedirect::parse(
            "?action=login&type=login&status=success&request_token=rt1&state=s%261",
        )
        .unwrap();
        assert_eq!(redirect.request_token().expose_secret(), "rt1");
        assert_eq!(redirect.param("state"), Some("s&1"));
        assert!(!format!("{redirect:?}").contains("rt1"));
    }

    #[test]
    fn failed_or_tokenless_redirects_are_refused() {
        assert_eq!(
            LoginRedirect::parse("status=cancelled&request_token=x").unwrap_err(),
            LoginRedirectError::NotSuccessful {
                status: Some("cancelled".into())
            }
        );
        assert_eq!(
            LoginRedirect::parse("status=success").unwrap_err(),
            LoginRedirectError::MissingRequestToken
        );
    }

    #[test]
    fn sessions_expire_at_six_ist_after_login() {
        let now: DateTime<Utc> = "2026-12-02T04:00:00Z".parse().unwrap();
        // 09:15 IST on 2 Dec is 03:45 UTC; expiry 06:00 IST on 3 Dec is 00:30 UTC.
        assert_eq!(
            session_expiry(Some("2026-12-02 09:15:00"), now),
            "2026-12-03T00:30:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            session_expiry(Some("garbage"), now),
            "2026-12-03T00:30:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }
}
