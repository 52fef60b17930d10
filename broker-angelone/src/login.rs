//! How an Angel One session is obtained: `loginByPassword` with the client code, the MPIN and
//! the TOTP code of the moment (from the session's clock), and `generateTokens` to renew it.
//! Every session ends at 05:00 IST ([`BrokerKind::session_expires_at`]).

use broker_core::{
    AngelOneCredentials, BrokerError, BrokerKind, CredentialError, SessionTokens, SharedClock,
};
use chrono::Duration;
use secrecy::SecretString;

use crate::http::AngelOneHttpClient;
use crate::http::models::{LoginBody, RefreshBody, WireSession};
use crate::totp::TotpGenerator;

/// What logging in needs: the client code, the MPIN and the TOTP generator. Never printed.
pub(crate) struct Login {
    client_code: String,
    mpin: SecretString,
    totp: TotpGenerator,
    clock: SharedClock,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("client_code", &self.client_code)
            .finish_non_exhaustive()
    }
}

impl Login {
    /// The login of these credentials, taking TOTP codes and expiry times from `clock`.
    pub(crate) fn new(
        credentials: &AngelOneCredentials,
        clock: SharedClock,
    ) -> Result<Self, CredentialError> {
        let totp = TotpGenerator::from_base32(credentials.totp_secret())
            .map_err(|_| CredentialError::TotpSecretNotBase32)?;
        Ok(Self {
            client_code: credentials.client_code().to_owned(),
            mpin: credentials.mpin().clone(),
            totp,
            clock,
        })
    }

    /// The client code (not a secret, but personal).
    pub(crate) fn client_code(&self) -> &str {
        &self.client_code
    }

    /// Logs in with the MPIN and the TOTP code of this moment.
    pub(crate) async fn log_in(
        &self,
        client: &AngelOneHttpClient,
    ) -> Result<SessionTokens, BrokerError> {
        let code =
            self.totp
                .code_at_time(self.clock.now())
                .map_err(|error| BrokerError::InvalidTotp {
                    message: error.to_string(),
                })?;
        let wire = client
            .login(&LoginBody {
                clientcode: &self.client_code,
                password: &self.mpin,
                totp: &code,
            })
            .await?;
        self.tokens_from(wire)
    }

    /// Renews `current` with its refresh token (`generateTokens`).
    pub(crate) async fn renew(
        &self,
        client: &AngelOneHttpClient,
        current: &SessionTokens,
    ) -> Result<SessionTokens, BrokerError> {
        let refresh_token = current
            .refresh_token()
            .ok_or_else(|| BrokerError::SessionExpired {
                message: "the session has no refresh token; log in".to_owned(),
            })?;
        let wire = client
            .generate_tokens(current.access_token(), &RefreshBody { refresh_token })
            .await?;
        self.tokens_from(wire)
    }

    fn tokens_from(&self, wire: WireSession) -> Result<SessionTokens, BrokerError> {
        let now = self.clock.now();
        // Angel One sessions always end at 05:00 IST; the fallback is never taken.
        let expires_at = BrokerKind::AngelOne
            .session_expires_at(now)
            .unwrap_or_else(|| now + Duration::hours(24));
        Ok(SessionTokens::new(wire.jwt_token, expires_at)
            .map_err(|_| BrokerError::Decode {
                message: "the login answer carried no session token".to_owned(),
            })?
            .with_refresh_token(wire.refresh_token)
            .with_feed_token(wire.feed_token))
    }
}
