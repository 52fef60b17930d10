//! Broker account credentials, checked for shape when built and never printed.
//!
//! Every secret is a [`SecretString`]: reading it takes an explicit `expose_secret()`, and the
//! hand-written `Debug` impls print `<redacted>` in its place.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

/// What `Debug` prints in place of a secret.
pub const REDACTED: &str = "<redacted>";

/// The shortest TOTP secret accepted, in bytes (80 bits; RFC 4226 recommends 160).
pub const MIN_TOTP_SECRET_BYTES: usize = 10;

/// A credential whose shape is wrong. Never contains the credential's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// A required field was empty or only white space.
    #[error("{field} must not be empty")]
    Empty {
        /// The field's name.
        field: &'static str,
    },
    /// A field contains white space or control characters.
    #[error("{field} must not contain white space or control characters")]
    BadCharacters {
        /// The field's name.
        field: &'static str,
    },
    /// The MPIN has characters other than digits.
    #[error(
        "MPIN must contain digits only (it is the 4-digit PIN of the Angel One app, not the web password)"
    )]
    MpinNotDigits,
    /// The MPIN has the wrong number of digits.
    #[error("MPIN must have 4 to 8 digits, got {length}")]
    MpinLength {
        /// How many digits it had.
        length: usize,
    },
    /// The TOTP secret is not base32 text.
    #[error("TOTP secret must be base32 (letters A-Z and digits 2-7), as shown when enabling TOTP")]
    TotpSecretNotBase32,
    /// The TOTP secret is too short to be a real one.
    #[error("TOTP secret decodes to {bytes} bytes; at least {MIN_TOTP_SECRET_BYTES} are needed")]
    TotpSecretTooShort {
        /// Its decoded length.
        bytes: usize,
    },
}

fn require_token(field: &'static str, value: &str) -> Result<(), CredentialError> {
    if value.trim().is_empty() {
        return Err(CredentialError::Empty { field });
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(CredentialError::BadCharacters { field });
    }
    Ok(())
}

fn check_mpin(mpin: &str) -> Result<(), CredentialError> {
    if mpin.is_empty() {
        return Err(CredentialError::Empty { field: "MPIN" });
    }
    if !mpin.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(CredentialError::MpinNotDigits);
    }
    if !(4..=8).contains(&mpin.len()) {
        return Err(CredentialError::MpinLength { length: mpin.len() });
    }
    Ok(())
}

/// Normalises a base32 TOTP secret (upper case, no spaces or padding) and checks it decodes.
fn normalise_totp_secret(secret: &str) -> Result<SecretString, CredentialError> {
    let normalised: String = secret
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect::<String>()
        .trim_end_matches('=')
        .to_owned();
    if normalised.is_empty() {
        return Err(CredentialError::Empty {
            field: "TOTP secret",
        });
    }
    let decoded = data_encoding::BASE32_NOPAD
        .decode(normalised.as_bytes())
        .map_err(|_| CredentialError::TotpSecretNotBase32)?;
    if decoded.len() < MIN_TOTP_SECRET_BYTES {
        return Err(CredentialError::TotpSecretTooShort {
            bytes: decoded.len(),
        });
    }
    Ok(SecretString::from(normalised))
}

/// What logs in to an Angel One SmartAPI account.
#[derive(Clone)]
pub struct AngelOneCredentials {
    api_key: SecretString,
    client_code: String,
    mpin: SecretString,
    totp_secret: SecretString,
    api_secret: Option<SecretString>,
}

impl AngelOneCredentials {
    /// Checks and bundles the credentials: nothing empty, the MPIN 4 to 8 digits, the TOTP
    /// secret valid base32 of at least 80 bits (stored normalised: upper case, no spaces).
    ///
    /// # Errors
    /// The first [`CredentialError`] found.
    pub fn new(
        api_key: SecretString,
        client_code: impl Into<String>,
        mpin: SecretString,
        totp_secret: SecretString,
    ) -> Result<Self, CredentialError> {
        let client_code = client_code.into().trim().to_owned();
        require_token("API key", api_key.expose_secret())?;
        require_token("client code", &client_code)?;
        check_mpin(mpin.expose_secret())?;
        let totp_secret = normalise_totp_secret(totp_secret.expose_secret())?;
        Ok(Self {
            api_key,
            client_code,
            mpin,
            totp_secret,
            api_secret: None,
        })
    }

    /// Adds the API secret (SmartAPI issues one; login does not need it).
    ///
    /// # Errors
    /// [`CredentialError`] when it is empty or has white space.
    pub fn with_api_secret(mut self, api_secret: SecretString) -> Result<Self, CredentialError> {
        require_token("API secret", api_secret.expose_secret())?;
        self.api_secret = Some(api_secret);
        Ok(self)
    }

    /// The SmartAPI key (`X-PrivateKey`).
    pub fn api_key(&self) -> &SecretString {
        &self.api_key
    }
    /// The client code (the Angel One login id). Not a secret, but personal: log sparingly.
    pub fn client_code(&self) -> &str {
        &self.client_code
    }
    /// The account's MPIN, sent as `password` at login.
    pub fn mpin(&self) -> &SecretString {
        &self.mpin
    }
    /// The normalised base32 TOTP secret.
    pub fn totp_secret(&self) -> &SecretString {
        &self.totp_secret
    }
    /// The API secret, when stored.
    pub fn api_secret(&self) -> Option<&SecretString> {
        self.api_secret.as_ref()
    }
}

impl fmt::Debug for AngelOneCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AngelOneCredentials")
            .field("api_key", &REDACTED)
            .field("client_code", &self.client_code)
            .field("mpin", &REDACTED)
            .field("totp_secret", &REDACTED)
            .field("api_secret", &self.api_secret.as_ref().map(|_| REDACTED))
            .finish()
    }
}

/// What identifies a Kite Connect app: its API key and secret. The user's daily login
/// supplies the rest.
#[derive(Clone)]
pub struct ZerodhaCredentials {
    api_key: SecretString,
    api_secret: SecretString,
    user_id: Option<String>,
}

impl ZerodhaCredentials {
    /// Checks and bundles the key and secret: neither empty nor with white space.
    ///
    /// # Errors
    /// The first [`CredentialError`] found.
    pub fn new(api_key: SecretString, api_secret: SecretString) -> Result<Self, CredentialError> {
        require_token("API key", api_key.expose_secret())?;
        require_token("API secret", api_secret.expose_secret())?;
        Ok(Self {
            api_key,
            api_secret,
            user_id: None,
        })
    }

    /// Adds the Kite user id of the account holder (learnt at the first login): later logins
    /// through this app must be by the same user.
    ///
    /// # Errors
    /// [`CredentialError`] when it is empty or has white space.
    pub fn with_user_id(mut self, user_id: impl Into<String>) -> Result<Self, CredentialError> {
        let user_id = user_id.into().trim().to_owned();
        require_token("Kite user id", &user_id)?;
        self.user_id = Some(user_id);
        Ok(self)
    }

    /// The Kite user id of the account holder, once known. Not a secret, but personal.
    pub fn user_id(&self) -> Option<&str> {
        self.user_id.as_deref()
    }

    /// The Kite Connect API key.
    pub fn api_key(&self) -> &SecretString {
        &self.api_key
    }
    /// The Kite Connect API secret (signs the token exchange and postbacks).
    pub fn api_secret(&self) -> &SecretString {
        &self.api_secret
    }
}

impl fmt::Debug for ZerodhaCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZerodhaCredentials")
            .field("api_key", &REDACTED)
            .field("api_secret", &REDACTED)
            .field("user_id", &self.user_id)
            .finish()
    }
}

/// The credentials of one account at whichever broker it is with.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum BrokerCredentials {
    /// Angel One.
    AngelOne(AngelOneCredentials),
    /// Zerodha.
    Zerodha(ZerodhaCredentials),
}

impl BrokerCredentials {
    /// Which broker these are for.
    pub fn kind(&self) -> crate::BrokerKind {
        match self {
            Self::AngelOne(_) => crate::BrokerKind::AngelOne,
            Self::Zerodha(_) => crate::BrokerKind::Zerodha,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const API_KEY: &str = "smartKEYzq81";
    const MPIN: &str = "4831";
    const TOTP: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    fn angel(
        api_key: &str,
        client: &str,
        mpin: &str,
        totp: &str,
    ) -> Result<AngelOneCredentials, CredentialError> {
        AngelOneCredentials::new(api_key.into(), client, mpin.into(), totp.into())
    }

    #[test]
    fn angel_one_credentials_accept_a_well_formed_set_and_normalise_the_totp_secret() {
        let credentials = angel(
            API_KEY,
            " A123456 ",
            MPIN,
            "gezd gnbv gy3t qojq gezd gnbv gy3t qojq",
        )
        .unwrap();
        assert_eq!(credentials.client_code(), "A123456");
        assert_eq!(credentials.totp_secret().expose_secret(), TOTP);
    }

    #[test]
    fn angel_one_credentials_refuse_empty_fields() {
        assert_eq!(
            angel(" ", "A1", MPIN, TOTP).unwrap_err(),
            CredentialError::Empty { field: "API key" }
        );
        assert_eq!(
            angel(API_KEY, "", MPIN, TOTP).unwrap_err(),
            CredentialError::Empty {
                field: "client code"
            }
        );
        assert_eq!(
            angel(API_KEY, "A1", "", TOTP).unwrap_err(),
            CredentialError::Empty { field: "MPIN" }
        );
        assert_eq!(
            angel(API_KEY, "A1", MPIN, " ").unwrap_err(),
            CredentialError::Empty {
                field: "TOTP secret"
            }
        );
    }

    #[test]
    fn mpin_must_be_four_to_eight_digits() {
        assert_eq!(
            angel(API_KEY, "A1", "12a4", TOTP).unwrap_err(),
            CredentialError::MpinNotDigits
        );
        assert_eq!(
            angel(API_KEY, "A1", "123", TOTP).unwrap_err(),
            CredentialError::MpinLength { length: 3 }
        );
        assert_eq!(
            angel(API_KEY, "A1", "123456789", TOTP).unwrap_err(),
            CredentialError::MpinLength { length: 9 }
        );
        assert!(angel(API_KEY, "A1", "123456", TOTP).is_ok());
    }

    #[test]
    fn totp_secret_must_be_base32_and_long_enough() {
        assert_eq!(
            angel(API_KEY, "A1", MPIN, "NOT-BASE32!").unwrap_err(),
            CredentialError::TotpSecretNotBase32
        );
        assert_eq!(
            angel(API_KEY, "A1", MPIN, "GEZDGNBV18").unwrap_err(),
            CredentialError::TotpSecretNotBase32
        );
        assert_eq!(
            angel(API_KEY, "A1", MPIN, "GEZDGNBV").unwrap_err(),
            CredentialError::TotpSecretTooShort { bytes: 5 }
        );
        assert!(angel(API_KEY, "A1", MPIN, "JBSWY3DPEHPK3PXP").is_ok());
    }

    #[test]
    fn api_key_with_white_space_is_refused() {
        assert_eq!(
            angel("abc def", "A1", MPIN, TOTP).unwrap_err(),
            CredentialError::BadCharacters { field: "API key" }
        );
    }

    #[test]
    fn credential_errors_never_contain_the_value() {
        let error = angel(API_KEY, "A1", "98x7", TOTP).unwrap_err();
        assert!(!error.to_string().contains("98x7"));
    }

    #[test]
    fn angel_one_debug_redacts_every_secret() {
        let credentials = angel(API_KEY, "A123456", MPIN, TOTP)
            .unwrap()
            .with_api_secret("angelSECRETvalue".into())
            .unwrap();
        let printed = format!("{credentials:?} {credentials:#?}");
        for secret in [API_KEY, MPIN, TOTP, "angelSECRETvalue"] {
            assert!(!printed.contains(secret), "{secret} leaked in {printed}");
        }
        assert!(printed.contains("A123456") && printed.contains(REDACTED));
    }

    #[test]
    fn zerodha_credentials_check_shape_and_debug_redacts_them() {
        let credentials =
            ZerodhaCredentials::new("kitekey123".into(), "kitesecret456".into()).unwrap();
        let printed = format!(
            "{credentials:?} {:?}",
            BrokerCredentials::Zerodha(credentials.clone())
        );
        assert!(
            !printed.contains("kitekey123") && !printed.contains("kitesecret456"),
            "{printed}"
        );
        assert_eq!(
            ZerodhaCredentials::new("kitekey123".into(), "".into()).unwrap_err(),
            CredentialError::Empty {
                field: "API secret"
            }
        );
    }

    #[test]
    fn a_zerodha_account_may_carry_its_kite_user_id() {
        let credentials = ZerodhaCredentials::new("kitekey123".into(), "kitesecret456".into())
            .unwrap()
            .with_user_id(" ZS1234 ")
            .unwrap();
        assert_eq!(credentials.user_id(), Some("ZS1234"));
        assert!(
            ZerodhaCredentials::new("kitekey123".into(), "kitesecret456".into())
                .unwrap()
                .with_user_id("Z S")
                .is_err()
        );
    }
}
