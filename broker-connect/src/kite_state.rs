//! The `state` of a Kite login: which user and account it is for, until when, and a nonce,
//! signed with HMAC-SHA256 so the redirect cannot be pointed at another account; checked in
//! constant time, and single-use (the nonce is claimed in the store when the login
//! completes, so a replay fails in every process).
//!
//! Text form: `<user>.<account>.<expiry unix seconds>.<nonce>.<base64url HMAC of the rest>`.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretSlice};
use sha2::Sha256;
use vault::{AccountId, UserId};

use crate::error::{BadState, SettingsError};

/// The shortest signing key accepted, in bytes.
pub const MIN_STATE_KEY_BYTES: usize = 32;

/// What a valid state says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SignedState {
    pub(crate) user: UserId,
    pub(crate) account: AccountId,
    pub(crate) expires_at: DateTime<Utc>,
    pub(crate) nonce: String,
}

/// Signs and checks states with one key.
#[derive(Clone)]
pub(crate) struct StateSigner {
    keyed: Hmac<Sha256>,
}

impl fmt::Debug for StateSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StateSigner(<redacted>)")
    }
}

impl StateSigner {
    pub(crate) fn new(key: &SecretSlice<u8>) -> Result<Self, SettingsError> {
        let bytes = key.expose_secret();
        if bytes.len() < MIN_STATE_KEY_BYTES {
            return Err(SettingsError::ShortStateKey {
                min: MIN_STATE_KEY_BYTES,
                got: bytes.len(),
            });
        }
        // HMAC takes keys of any length; the error arm cannot happen.
        let keyed =
            Hmac::<Sha256>::new_from_slice(bytes).map_err(|_| SettingsError::ShortStateKey {
                min: MIN_STATE_KEY_BYTES,
                got: bytes.len(),
            })?;
        Ok(Self { keyed })
    }

    fn mac(&self, payload: &str) -> Hmac<Sha256> {
        let mut mac = self.keyed.clone();
        mac.update(payload.as_bytes());
        mac
    }

    /// A fresh state for `user`'s `account`, valid until `expires_at`.
    pub(crate) fn sign(
        &self,
        user: UserId,
        account: AccountId,
        expires_at: DateTime<Utc>,
    ) -> String {
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let payload = format!("{user}.{account}.{}.{nonce}", expires_at.timestamp());
        let tag = URL_SAFE_NO_PAD.encode(self.mac(&payload).finalize().into_bytes());
        format!("{payload}.{tag}")
    }

    /// Checks the signature (constant time) and the expiry at `now`. Single use is the
    /// caller's (it claims the nonce).
    pub(crate) fn verify(&self, state: &str, now: DateTime<Utc>) -> Result<SignedState, BadState> {
        let (payload, tag) = state.rsplit_once('.').ok_or(BadState::Forged)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| BadState::Forged)?;
        self.mac(payload)
            .verify_slice(&tag)
            .map_err(|_| BadState::Forged)?;
        let mut parts = payload.split('.');
        let (Some(user), Some(account), Some(expiry), Some(nonce), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(BadState::Forged);
        };
        let expires_at = expiry
            .parse::<i64>()
            .ok()
            .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
            .ok_or(BadState::Forged)?;
        let signed = SignedState {
            user: user.parse().map_err(|_| BadState::Forged)?,
            account: account.parse().map_err(|_| BadState::Forged)?,
            expires_at,
            nonce: nonce.to_owned(),
        };
        if now >= signed.expires_at {
            return Err(BadState::Expired);
        }
        Ok(signed)
    }
}

/// The store claim that marks a state's nonce used.
pub(crate) fn nonce_claim(nonce: &str) -> String {
    format!("kite-state:{nonce}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(byte: u8) -> StateSigner {
        StateSigner::new(&SecretSlice::from(vec![byte; 32])).unwrap()
    }

    #[test]
    fn a_signed_state_verifies_until_it_expires() {
        let (user, account) = (UserId::new_random(), AccountId::new_random());
        let now = Utc::now();
        let expires = now + chrono::Duration::minutes(10);
        let state = signer(7).sign(user, account, expires);
        let signed = signer(7).verify(&state, now).unwrap();
        assert_eq!((signed.user, signed.account), (user, account));
        assert_eq!(signed.expires_at.timestamp(), expires.timestamp());
        assert_eq!(
            signer(7).verify(&state, expires + chrono::Duration::seconds(1)),
            Err(BadState::Expired)
        );
    }

    #[test]
    fn forged_states_are_refused() {
        let (user, account) = (UserId::new_random(), AccountId::new_random());
        let now = Utc::now();
        let state = signer(7).sign(user, account, now + chrono::Duration::minutes(10));
        // Another key.
        assert_eq!(signer(8).verify(&state, now), Err(BadState::Forged));
        // Another account under the same signature.
        let other = state.replacen(
            &account.to_string(),
            &AccountId::new_random().to_string(),
            1,
        );
        assert_eq!(signer(7).verify(&other, now), Err(BadState::Forged));
        // A later expiry under the same signature.
        let (payload, tag) = state.rsplit_once('.').unwrap();
        let mut fields: Vec<&str> = payload.split('.').collect();
        let later = (now + chrono::Duration::days(9)).timestamp().to_string();
        fields[2] = &later;
        let stretched = format!("{}.{tag}", fields.join("."));
        assert_eq!(signer(7).verify(&stretched, now), Err(BadState::Forged));
        for garbage in ["", "abc", "a.b.c.d.e", "....", &format!("{payload}.!!")] {
            assert_eq!(
                signer(7).verify(garbage, now),
                Err(BadState::Forged),
                "{garbage}"
            );
        }
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(matches!(
            StateSigner::new(&SecretSlice::from(vec![1u8; 31])),
            Err(SettingsError::ShortStateKey { got: 31, .. })
        ));
    }
}
