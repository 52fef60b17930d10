//! Envelopes: AES-256-GCM with a random 96-bit nonce, bound to their place by associated
//! data, in one string that fits a TEXT column:
//!
//! ```text
//! v2.<key id>.<base64url without padding of (nonce ‖ ciphertext ‖ tag)>
//! ```
//!
//! The v2 associated data is `"broker-vault/v2"` followed by each of (account id as 16 bytes,
//! owning user id as 16 bytes, broker storage name, field name, key id), each preceded by its
//! length in one byte. A ciphertext moved to another account, another owner, another field, or
//! relabelled with another key id no longer opens. Every failure to open is the same
//! [`DecryptError`]: no oracle.
//!
//! Version 1 (`v1.<key id>.<...>`, label `"broker-vault/v1"`, the same parts without the user
//! id) is still opened, never written: [`crate::Vault::rotate`] re-seals every v1 envelope as
//! v2, also those already under the primary key.

use std::fmt;

use aes_gcm::aead::{Aead, AeadCore, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use broker_core::BrokerKind;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use crate::account::{AccountId, UserId};
use crate::keyring::{KeyId, Keyring};

/// The prefix of version 1 envelopes (not bound to the owner; opened, never written).
pub const V1_PREFIX: &str = "v1.";
/// The prefix of version 2 envelopes, which every seal writes.
pub const V2_PREFIX: &str = "v2.";

/// The envelope versions, by the label that starts their associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

impl Version {
    fn of(envelope: &str) -> Option<(Self, &str)> {
        if let Some(rest) = envelope.strip_prefix(V2_PREFIX) {
            Some((Self::V2, rest))
        } else {
            envelope
                .strip_prefix(V1_PREFIX)
                .map(|rest| (Self::V1, rest))
        }
    }

    /// Domain separation for the associated data, so these bytes mean nothing elsewhere.
    fn label(self) -> &'static [u8] {
        match self {
            Self::V1 => b"broker-vault/v1",
            Self::V2 => b"broker-vault/v2",
        }
    }
}

/// Whether `text` is a vault envelope (any version) rather than a legacy ciphertext.
pub fn is_envelope(text: &str) -> bool {
    Version::of(text).is_some()
}

/// Whether `text` is an envelope of the current version sealed under `key`: nothing for
/// rotation to do.
pub fn is_current_under(text: &str, key: &KeyId) -> bool {
    text.strip_prefix(V2_PREFIX)
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(key_id, _)| key_id == key.as_str())
}

/// Bytes of AES-GCM nonce.
pub(crate) const NONCE_BYTES: usize = 12;
/// Bytes of AES-GCM tag.
pub(crate) const TAG_BYTES: usize = 16;

/// Which secret of an account a ciphertext holds. Its storage name is part of the associated
/// data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Field {
    /// The broker API key.
    ApiKey,
    /// The broker API secret.
    ApiSecret,
    /// The broker client id (Angel One client code).
    ClientId,
    /// The Angel One MPIN.
    Mpin,
    /// The base32 TOTP secret.
    TotpSecret,
    /// A session's access token.
    AccessToken,
    /// A session's refresh token.
    RefreshToken,
    /// A session's market-data feed token.
    FeedToken,
}

impl Field {
    /// The fields of `broker_accounts`.
    pub const ACCOUNT: [Field; 5] = [
        Field::ApiKey,
        Field::ApiSecret,
        Field::ClientId,
        Field::Mpin,
        Field::TotpSecret,
    ];
    /// The fields of `broker_sessions`.
    pub const SESSION: [Field; 3] = [Field::AccessToken, Field::RefreshToken, Field::FeedToken];

    /// The stable name bound into the associated data.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ApiKey => "api_key",
            Self::ApiSecret => "api_secret",
            Self::ClientId => "client_id",
            Self::Mpin => "mpin",
            Self::TotpSecret => "totp_secret",
            Self::AccessToken => "access_token",
            Self::RefreshToken => "refresh_token",
            Self::FeedToken => "feed_token",
        }
    }

    /// The Postgres column holding it (`api_key_encrypted`, ...).
    pub fn column(self) -> &'static str {
        match self {
            Self::ApiKey => "api_key_encrypted",
            Self::ApiSecret => "api_secret_encrypted",
            Self::ClientId => "client_id_encrypted",
            Self::Mpin => "mpin_encrypted",
            Self::TotpSecret => "totp_secret_encrypted",
            Self::AccessToken => "access_token_encrypted",
            Self::RefreshToken => "refresh_token_encrypted",
            Self::FeedToken => "feed_token_encrypted",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a ciphertext lives: the account, its owner, its broker and the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// The account it belongs to.
    pub account: AccountId,
    /// The user who owns the account (bound by v2 envelopes).
    pub user: UserId,
    /// The account's broker.
    pub broker: BrokerKind,
    /// The field.
    pub field: Field,
}

/// Sealing failed. AES-GCM only refuses plaintexts beyond its length limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("encryption failed")]
pub struct EncryptError;

/// An envelope did not open. Deliberately says nothing about why (malformed, unknown key id,
/// tampered, moved, or wrong key): no decryption oracle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("decryption failed")]
pub struct DecryptError;

/// The id of the key that sealed an envelope (any version); `None` for anything else (e.g.
/// legacy).
pub fn sealing_key_id(envelope: &str) -> Option<&str> {
    let (_, rest) = Version::of(envelope)?;
    let (key_id, _) = rest.split_once('.')?;
    Some(key_id)
}

/// Whether `envelope` is an envelope (any version) sealed under `key`.
pub fn is_sealed_under(envelope: &str, key: &KeyId) -> bool {
    sealing_key_id(envelope) == Some(key.as_str())
}

/// The associated data: label, then each part length-prefixed so no two places encode alike.
fn associated_data(version: Version, place: &Place, key: &KeyId) -> Vec<u8> {
    let account = place.account.as_uuid();
    let user = place.user.as_uuid();
    let mut parts: Vec<&[u8]> = vec![account.as_bytes()];
    if version == Version::V2 {
        parts.push(user.as_bytes());
    }
    parts.extend([
        place.broker.as_str().as_bytes(),
        place.field.as_str().as_bytes(),
        key.as_str().as_bytes(),
    ]);
    let label = version.label();
    let mut aad = Vec::with_capacity(label.len() + 112);
    aad.extend_from_slice(label);
    for part in parts {
        // Every part is at most 36 bytes (ids are capped), so one length byte suffices.
        aad.push(u8::try_from(part.len()).unwrap_or(u8::MAX));
        aad.extend_from_slice(part);
    }
    aad
}

impl Keyring {
    /// Seals `secret` for `place` under the primary key, with a fresh random nonce.
    ///
    /// # Errors
    /// [`EncryptError`] when the plaintext exceeds AES-GCM's length limit.
    pub fn seal(&self, place: &Place, secret: &SecretString) -> Result<String, EncryptError> {
        let key = self.primary();
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = associated_data(Version::V2, place, &key.id);
        let sealed = key
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: secret.expose_secret().as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| EncryptError)?;
        let mut payload = Vec::with_capacity(NONCE_BYTES + sealed.len());
        payload.extend_from_slice(&nonce);
        payload.extend_from_slice(&sealed);
        Ok(format!(
            "{V2_PREFIX}{}.{}",
            key.id,
            URL_SAFE_NO_PAD.encode(payload)
        ))
    }

    /// Opens an envelope (v2, or v1 written before owners were bound) sealed for `place` by
    /// any key of the ring.
    ///
    /// # Errors
    /// [`DecryptError`] for any failure, whatever the cause.
    pub fn open(&self, place: &Place, envelope: &str) -> Result<SecretString, DecryptError> {
        let (version, rest) = Version::of(envelope).ok_or(DecryptError)?;
        let (key_id, encoded) = rest.split_once('.').ok_or(DecryptError)?;
        let key = self.key(key_id).ok_or(DecryptError)?;
        let payload = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| DecryptError)?;
        if payload.len() < NONCE_BYTES + TAG_BYTES {
            return Err(DecryptError);
        }
        let (nonce, sealed) = payload.split_at(NONCE_BYTES);
        let aad = associated_data(version, place, &key.id);
        let plaintext = key
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| DecryptError)?;
        secret_from_utf8(plaintext)
    }
}

/// Moves decrypted bytes into a [`SecretString`] without copying; zeroizes them if they are
/// not UTF-8.
pub(crate) fn secret_from_utf8(plaintext: Vec<u8>) -> Result<SecretString, DecryptError> {
    String::from_utf8(plaintext)
        .map(SecretString::from)
        .map_err(|error| {
            error.into_bytes().zeroize();
            DecryptError
        })
}

#[cfg(test)]
mod tests {
    use aes_gcm::KeyInit;

    use super::*;
    use crate::keyring::KeyMaterial;

    fn ring(id: &str) -> Keyring {
        Keyring::new(KeyId::new(id).unwrap(), &KeyMaterial::generate())
    }

    fn place(field: Field) -> Place {
        Place {
            account: AccountId::new_random(),
            user: UserId::new_random(),
            broker: BrokerKind::AngelOne,
            field,
        }
    }

    #[test]
    fn sealed_secret_opens_at_its_place() {
        let ring = ring("kid0");
        let place = place(Field::Mpin);
        let envelope = ring.seal(&place, &"4831".into()).unwrap();
        assert!(envelope.starts_with("v2.kid0."), "{envelope}");
        assert_eq!(
            ring.open(&place, &envelope).unwrap().expose_secret(),
            "4831"
        );
        assert!(is_sealed_under(&envelope, &KeyId::new("kid0").unwrap()));
        assert!(!is_sealed_under(&envelope, &KeyId::new("kid").unwrap()));
        assert_eq!(sealing_key_id(&envelope), Some("kid0"));
        assert_eq!(sealing_key_id("aXY6Y3Q="), None);
    }

    #[test]
    fn every_seal_uses_a_fresh_nonce() {
        let ring = ring("kid0");
        let place = place(Field::ApiKey);
        let first = ring.seal(&place, &"same".into()).unwrap();
        let second = ring.seal(&place, &"same".into()).unwrap();
        assert_ne!(first, second);
    }

    #[test]
    fn flipping_any_byte_of_an_envelope_is_rejected() {
        let ring = ring("kid0");
        let place = place(Field::TotpSecret);
        let envelope = ring
            .seal(&place, &"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ".into())
            .unwrap();
        for position in 0..envelope.len() {
            for mask in [0x01u8, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40] {
                let mut bytes = envelope.clone().into_bytes();
                bytes[position] ^= mask;
                let Ok(tampered) = String::from_utf8(bytes) else {
                    continue;
                };
                assert_eq!(
                    ring.open(&place, &tampered).unwrap_err(),
                    DecryptError,
                    "flip {mask:#x} at {position} of {envelope} was accepted"
                );
            }
        }
    }

    #[test]
    fn truncated_or_extended_envelopes_are_rejected() {
        let ring = ring("kid0");
        let place = place(Field::ApiKey);
        let envelope = ring.seal(&place, &"key".into()).unwrap();
        for cut in 0..envelope.len() {
            assert!(ring.open(&place, &envelope[..cut]).is_err(), "cut at {cut}");
        }
        assert!(ring.open(&place, &format!("{envelope}A")).is_err());
        assert!(ring.open(&place, &format!("{envelope}.x")).is_err());
    }

    #[test]
    fn ciphertext_moved_to_another_account_owner_field_or_broker_is_rejected() {
        let ring = ring("kid0");
        let original = place(Field::ApiKey);
        let envelope = ring.seal(&original, &"apikey".into()).unwrap();
        let moved = [
            Place {
                account: AccountId::new_random(),
                ..original
            },
            Place {
                user: UserId::new_random(),
                ..original
            },
            Place {
                field: Field::ApiSecret,
                ..original
            },
            Place {
                broker: BrokerKind::Zerodha,
                ..original
            },
        ];
        for place in moved {
            assert_eq!(ring.open(&place, &envelope).unwrap_err(), DecryptError);
        }
    }

    #[test]
    fn relabelled_key_id_and_wrong_key_are_rejected() {
        let material = KeyMaterial::generate();
        let sealer = Keyring::new(KeyId::new("kid0").unwrap(), &material);
        let place = place(Field::Mpin);
        let envelope = sealer.seal(&place, &"1234".into()).unwrap();

        // The same key under another id: the key id is in the associated data.
        let relabelled_ring = Keyring::new(KeyId::new("kid9").unwrap(), &material);
        let relabelled = envelope.replacen("v2.kid0.", "v2.kid9.", 1);
        assert!(relabelled_ring.open(&place, &relabelled).is_err());

        // Another key under the same id.
        assert!(ring("kid0").open(&place, &envelope).is_err());
        // An id the ring does not have.
        assert!(ring("kid1").open(&place, &envelope).is_err());
    }

    #[test]
    fn non_utf8_plaintext_is_the_same_opaque_error() {
        assert_eq!(
            secret_from_utf8(vec![0xff, 0xfe]).unwrap_err(),
            DecryptError
        );
    }

    /// Builds an envelope of `version` by hand from the layout documented above, with a fixed
    /// nonce.
    fn hand_built(version: &str, key: &[u8; 32], parts: &[&[u8]]) -> String {
        let mut aad = format!("broker-vault/{version}").into_bytes();
        for part in parts {
            aad.push(part.len() as u8);
            aad.extend_from_slice(part);
        }
        let nonce = [9u8; 12];
        let sealed = Aes256Gcm::new_from_slice(key)
            .unwrap()
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: b"4831",
                    aad: &aad,
                },
            )
            .unwrap();
        format!(
            "{version}.kid0.{}",
            URL_SAFE_NO_PAD.encode([&nonce[..], &sealed].concat())
        )
    }

    /// Envelopes built by hand from the documented layouts (v2, and v1 from before owners were
    /// bound) open: the format is a specification, not an accident.
    #[test]
    fn envelopes_built_from_the_documented_layouts_open() {
        let key = [7u8; 32];
        let material = KeyMaterial::from_base64(
            "kid0",
            &base64::engine::general_purpose::STANDARD.encode(key).into(),
        )
        .unwrap();
        let ring = Keyring::new(KeyId::new("kid0").unwrap(), &material);
        let account: uuid::Uuid = "0b9c9f3e-5d2a-4c1b-9e8f-7a6b5c4d3e2f".parse().unwrap();
        let user: uuid::Uuid = "5f0c2b1e-8a7d-4e3c-9b2a-1d0e9f8c7b6a".parse().unwrap();
        let place = Place {
            account: AccountId::from_uuid(account),
            user: UserId::from_uuid(user),
            broker: BrokerKind::AngelOne,
            field: Field::Mpin,
        };
        let v2 = hand_built(
            "v2",
            &key,
            &[
                account.as_bytes(),
                user.as_bytes(),
                b"angel_one",
                b"mpin",
                b"kid0",
            ],
        );
        let v1 = hand_built(
            "v1",
            &key,
            &[account.as_bytes(), b"angel_one", b"mpin", b"kid0"],
        );
        for envelope in [&v2, &v1] {
            assert_eq!(ring.open(&place, envelope).unwrap().expose_secret(), "4831");
        }
        // v1 never bound the owner; v2 does.
        let other_owner = Place {
            user: UserId::new_random(),
            ..place
        };
        assert!(ring.open(&other_owner, &v1).is_ok());
        assert_eq!(ring.open(&other_owner, &v2).unwrap_err(), DecryptError);
        // A v1 envelope relabelled v2 (or back) does not open: the label is bound.
        assert!(ring.open(&place, &v1.replacen("v1.", "v2.", 1)).is_err());
        assert!(ring.open(&place, &v2.replacen("v2.", "v1.", 1)).is_err());

        // And what seal produces is v2 with the same shape: nonce, ciphertext, 16-byte tag.
        let produced = ring.seal(&place, &"4831".into()).unwrap();
        let payload = URL_SAFE_NO_PAD
            .decode(produced.strip_prefix("v2.kid0.").unwrap())
            .unwrap();
        assert_eq!(payload.len(), NONCE_BYTES + 4 + TAG_BYTES);
        assert!(is_current_under(&produced, &KeyId::new("kid0").unwrap()));
        assert!(!is_current_under(&v1, &KeyId::new("kid0").unwrap()));
        assert!(is_envelope(&v1) && is_envelope(&v2) && !is_envelope("aXY6Y3Q="));
    }

    /// McGrew & Viega, "The Galois/Counter Mode of Operation", test case 16 (AES-256, 60-byte
    /// plaintext, 20-byte associated data): proves the primitive is used as specified.
    #[test]
    fn aes_256_gcm_matches_the_mcgrew_viega_test_case_16() {
        let key = hex::decode("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
            .unwrap();
        let nonce = hex::decode("cafebabefacedbaddecaf888").unwrap();
        let plaintext = hex::decode(concat!(
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72",
            "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
        ))
        .unwrap();
        let aad = hex::decode("feedfacedeadbeeffeedfacedeadbeefabaddad2").unwrap();
        let expected = concat!(
            "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa",
            "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
            "76fc6ece0f4e1768cddf8853bb2d551b"
        );
        let cipher = Aes256Gcm::new_from_slice(&key).unwrap();
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &plaintext,
                    aad: &aad,
                },
            )
            .unwrap();
        assert_eq!(hex::encode(&sealed), expected);
    }
}
