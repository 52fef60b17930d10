//! Time-based one-time passwords for the SmartAPI login (RFC 6238: SHA-1, 6 digits, 30 s).
//!
//! The decoded key lives inside totp-rs, built with its `zeroize` feature, so it is wiped when
//! the generator is dropped; the normalised secret text is wiped as soon as it is decoded.

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use totp_rs::{Algorithm, TOTP};
use zeroize::Zeroizing;

/// Digits in an Angel One TOTP code.
pub const DIGITS: usize = 6;
/// Seconds each code is valid for.
pub const STEP_SECONDS: u64 = 30;

/// The TOTP secret could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TotpError {
    /// The secret is not base32 text.
    #[error("the TOTP secret is not valid base32")]
    NotBase32,
    /// The clock reads before 1970.
    #[error("the clock reads before 1970; TOTP codes need the real time")]
    ClockBeforeEpoch,
}

/// A TOTP generator for one base32 secret. Holds the decoded key; never printed.
pub struct TotpGenerator {
    totp: TOTP,
}

impl std::fmt::Debug for TotpGenerator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpGenerator(<redacted>)")
    }
}

impl TotpGenerator {
    /// A generator for a base32 secret (upper or lower case, without padding), accepting
    /// codes one step either side of the current one in [`TotpGenerator::check`].
    ///
    /// # Errors
    /// [`TotpError::NotBase32`] when the secret does not decode.
    pub fn from_base32(secret: &SecretString) -> Result<Self, TotpError> {
        let normalised = Zeroizing::new(
            secret
                .expose_secret()
                .trim()
                .trim_end_matches('=')
                .to_ascii_uppercase(),
        );
        let key = data_encoding::BASE32_NOPAD
            .decode(normalised.as_bytes())
            .map_err(|_| TotpError::NotBase32)?;
        Ok(Self::from_key(key, DIGITS))
    }

    fn from_key(key: Vec<u8>, digits: usize) -> Self {
        // `new_unchecked`: the credentials already checked the secret's length (>= 80 bits,
        // while totp-rs's checked constructor insists on 128).
        Self {
            totp: TOTP::new_unchecked(Algorithm::SHA1, digits, 1, STEP_SECONDS, key),
        }
    }

    /// The code valid at `unix_seconds`.
    pub fn code_at(&self, unix_seconds: u64) -> SecretString {
        SecretString::from(self.totp.generate(unix_seconds))
    }

    /// The code valid at `instant` (from the session's clock).
    ///
    /// # Errors
    /// [`TotpError::ClockBeforeEpoch`] when the clock is broken.
    pub fn code_at_time(&self, instant: DateTime<Utc>) -> Result<SecretString, TotpError> {
        Ok(self.code_at(unix_seconds(instant)?))
    }

    /// Whether `code` is valid at `unix_seconds`, one step either side allowed.
    #[cfg_attr(not(feature = "sim"), allow(dead_code))] // the simulator checks codes
    pub fn check(&self, code: &str, unix_seconds: u64) -> bool {
        self.totp.check(code, unix_seconds)
    }
}

/// The Unix time of `instant` in whole seconds.
///
/// # Errors
/// [`TotpError::ClockBeforeEpoch`] for an instant before 1970.
pub fn unix_seconds(instant: DateTime<Utc>) -> Result<u64, TotpError> {
    u64::try_from(instant.timestamp()).map_err(|_| TotpError::ClockBeforeEpoch)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B: the SHA-1 key is the ASCII text "12345678901234567890".
    const RFC_SHA1_KEY: &[u8] = b"12345678901234567890";

    /// RFC 6238 appendix B, SHA-1 rows: (Unix time, 8-digit TOTP).
    const RFC_SHA1_VECTORS: [(u64, &str); 6] = [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ];

    fn rfc_secret_base32() -> SecretString {
        SecretString::from(data_encoding::BASE32_NOPAD.encode(RFC_SHA1_KEY))
    }

    #[test]
    fn rfc6238_appendix_b_sha1_vectors_at_eight_digits() {
        let generator = TotpGenerator::from_key(RFC_SHA1_KEY.to_vec(), 8);
        for (time, expected) in RFC_SHA1_VECTORS {
            assert_eq!(
                generator.code_at(time).expose_secret(),
                expected,
                "T={time}"
            );
        }
    }

    #[test]
    fn six_digit_codes_from_the_base32_secret_are_the_vectors_last_six_digits() {
        let generator = TotpGenerator::from_base32(&rfc_secret_base32()).unwrap();
        for (time, expected) in RFC_SHA1_VECTORS {
            assert_eq!(
                generator.code_at(time).expose_secret(),
                &expected[2..],
                "T={time}"
            );
        }
    }

    #[test]
    fn lower_case_and_padded_secrets_give_the_same_codes() {
        let upper = rfc_secret_base32();
        let lower = SecretString::from(format!("{}==", upper.expose_secret().to_lowercase()));
        let a = TotpGenerator::from_base32(&upper).unwrap();
        let b = TotpGenerator::from_base32(&lower).unwrap();
        assert_eq!(a.code_at(59).expose_secret(), b.code_at(59).expose_secret());
    }

    #[test]
    fn check_accepts_one_step_either_side_and_no_more() {
        let generator = TotpGenerator::from_base32(&rfc_secret_base32()).unwrap();
        let now = 1_234_567_890;
        let code = generator.code_at(now);
        let code = code.expose_secret();
        assert!(generator.check(code, now));
        assert!(generator.check(code, now + STEP_SECONDS));
        assert!(generator.check(code, now - STEP_SECONDS));
        assert!(!generator.check(code, now + 3 * STEP_SECONDS));
    }

    #[test]
    fn codes_follow_the_given_instant_and_refuse_one_before_1970() {
        let generator = TotpGenerator::from_base32(&rfc_secret_base32()).unwrap();
        let instant = DateTime::<Utc>::from_timestamp(59, 0).unwrap();
        assert_eq!(
            generator.code_at_time(instant).unwrap().expose_secret(),
            "287082"
        );
        let before = DateTime::<Utc>::from_timestamp(-1, 0).unwrap();
        assert_eq!(
            generator.code_at_time(before).unwrap_err(),
            TotpError::ClockBeforeEpoch
        );
    }

    #[test]
    fn a_secret_that_is_not_base32_is_refused_and_debug_hides_the_key() {
        assert_eq!(
            TotpGenerator::from_base32(&SecretString::from("not base32!")).unwrap_err(),
            TotpError::NotBase32
        );
        let generator = TotpGenerator::from_base32(&rfc_secret_base32()).unwrap();
        assert_eq!(format!("{generator:?}"), "TotpGenerator(<redacted>)");
    }
}
