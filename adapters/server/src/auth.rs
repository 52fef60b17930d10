//! Bearer-token authentication: HS256 JWTs as Supabase issues them.
//!
//! The algorithm is pinned to HS256, so `none`, RS256 and every other `alg` are refused
//! whatever the token says. `exp` and `sub` are required; `sub` must be a UUID (the platform's
//! user id) and becomes the [`UserId`] every store call is scoped by. `aud` is checked when an
//! audience is configured (Supabase: `authenticated`).

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use vault::UserId;

use crate::error::ApiError;
use crate::state::AppState;

/// Checks bearer tokens.
pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("key", &broker_core::REDACTED)
            .field("audience", &self.validation.aud)
            .finish()
    }
}

/// The claims brokerd reads; the rest of a Supabase token is ignored.
#[derive(Deserialize)]
struct Claims {
    sub: String,
}

impl JwtVerifier {
    /// A verifier for tokens signed with `secret`, optionally requiring `audience`.
    pub fn new(secret: &SecretString, audience: Option<&str>) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        match audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        Self {
            key: DecodingKey::from_secret(secret.expose_secret().as_bytes()),
            validation,
        }
    }

    /// The user a token speaks for.
    ///
    /// # Errors
    /// [`ApiError::unauthorized`] saying which check failed (never echoing the token).
    pub fn user(&self, token: &str) -> Result<UserId, ApiError> {
        use jsonwebtoken::errors::ErrorKind;
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map_err(
            |error| {
                ApiError::unauthorized(match error.kind() {
                    ErrorKind::ExpiredSignature => "the token has expired; sign in again",
                    ErrorKind::InvalidAudience => "the token is for another audience",
                    ErrorKind::InvalidAlgorithm => "the token must be signed with HS256",
                    ErrorKind::MissingRequiredClaim(_) => {
                        "the token lacks a required claim (exp, sub)"
                    }
                    ErrorKind::InvalidSignature => "the token's signature does not match",
                    _ => "the token is not a valid JWT",
                })
            },
        )?;
        data.claims
            .sub
            .parse()
            .map_err(|_| ApiError::unauthorized("the token's sub is not a user id (UUID)"))
    }
}

/// Signs an HS256 token for `user` valid for `ttl`, shaped like Supabase's (`sub`, `exp`,
/// `iat`, `role`, and `aud` when given). For the sandbox's demo users and for tests; a real
/// platform issues its own.
///
/// # Errors
/// The signing error (only possible for a malformed key, which HS256 does not have).
pub fn issue_token(
    secret: &SecretString,
    user: UserId,
    ttl: std::time::Duration,
    audience: Option<&str>,
) -> Result<String, jsonwebtoken::errors::Error> {
    let now = chrono::Utc::now().timestamp();
    let expires = now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX));
    let mut claims = serde_json::json!({
        "sub": user.to_string(),
        "iat": now,
        "exp": expires,
        "role": "authenticated",
    });
    if let Some(audience) = audience {
        claims["aud"] = serde_json::Value::from(audience);
    }
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.expose_secret().as_bytes()),
    )
}

/// The authenticated caller, extracted from `Authorization: Bearer <JWT>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthUser(pub UserId);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or_else(|| ApiError::unauthorized("send Authorization: Bearer <JWT>"))?;
        state.jwt.user(token.trim()).map(AuthUser)
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    use super::*;

    const SECRET: &str = "super-secret-jwt-token-with-at-least-32-characters";

    fn sign(header: Header, claims: serde_json::Value, secret: &str) -> String {
        jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    fn in_an_hour() -> i64 {
        chrono::Utc::now().timestamp() + 3600
    }

    fn verifier(audience: Option<&str>) -> JwtVerifier {
        JwtVerifier::new(&SecretString::from(SECRET), audience)
    }

    #[test]
    fn a_supabase_shaped_token_names_its_user() {
        let user = UserId::new_random();
        let token = sign(
            Header::default(),
            json!({"sub": user.to_string(), "exp": in_an_hour(), "aud": "authenticated",
                   "role": "authenticated", "email": "a@example.com"}),
            SECRET,
        );
        assert_eq!(verifier(Some("authenticated")).user(&token).unwrap(), user);
        assert_eq!(verifier(None).user(&token).unwrap(), user);
    }

    #[test]
    fn every_bad_token_is_refused() {
        let sub = UserId::new_random().to_string();
        let expired = sign(
            Header::default(),
            json!({"sub": sub, "exp": chrono::Utc::now().timestamp() - 3600}),
            SECRET,
        );
        let wrong_secret = sign(
            Header::default(),
            json!({"sub": sub, "exp": in_an_hour()}),
            "another-secret-of-sufficient-length-000000",
        );
        let hs512 = sign(
            Header::new(Algorithm::HS512),
            json!({"sub": sub, "exp": in_an_hour()}),
            SECRET,
        );
        let no_sub = sign(Header::default(), json!({"exp": in_an_hour()}), SECRET);
        let no_exp = sign(Header::default(), json!({"sub": sub}), SECRET);
        let not_uuid = sign(
            Header::default(),
            json!({"sub": "alice", "exp": in_an_hour()}),
            SECRET,
        );
        let wrong_audience = sign(
            Header::default(),
            json!({"sub": sub, "exp": in_an_hour(), "aud": "anon"}),
            SECRET,
        );
        // alg none: header {"alg":"none","typ":"JWT"}, no signature.
        let none = format!(
            "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.",
            base64_url(&json!({"sub": sub, "exp": in_an_hour()}).to_string())
        );
        let verifier = verifier(Some("authenticated"));
        for (case, token) in [
            ("expired", expired),
            ("wrong secret", wrong_secret),
            ("HS512", hs512),
            ("missing sub", no_sub),
            ("missing exp", no_exp),
            ("sub not a UUID", not_uuid),
            ("wrong audience", wrong_audience),
            ("alg none", none),
            ("garbage", "not.a.jwt".to_owned()),
        ] {
            let error = verifier.user(&token).expect_err(case);
            assert_eq!(
                error.status(),
                axum::http::StatusCode::UNAUTHORIZED,
                "{case}"
            );
        }
    }

    fn base64_url(text: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
    }
}
