//! Ciphertexts written by the existing platform's Supabase Edge Function: Web Crypto AES-GCM
//! (`crypto.subtle.encrypt({name: "AES-GCM", iv}, key, data)`) with a 12-byte IV and no
//! associated data. They open here until [`crate::Vault::migrate_legacy`] re-seals them as v2
//! envelopes.
//!
//! Without associated data a legacy ciphertext is not bound to its place: anyone who can write
//! the table could copy one into another user's row. So the vault records where each legacy
//! ciphertext sits when the legacy table is adopted ([`crate::Vault::record_legacy_placements`],
//! run by the Postgres migration that adopts the platform's table), as a digest of (account id,
//! owner, field, ciphertext), and opens or migrates a legacy ciphertext only in that place.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroize;

use crate::account::{AccountId, UserId};
use crate::envelope::{DecryptError, Field, NONCE_BYTES, TAG_BYTES, secret_from_utf8};
use crate::keyring::{KEY_BYTES, KeyringError};

/// Characters of a hex-encoded 12-byte IV.
const HEX_IV_CHARS: usize = 2 * NONCE_BYTES;

/// How the legacy platform laid out its ciphertexts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LegacyFormat {
    /// `base64(IV ‖ ciphertext ‖ tag)`, standard alphabet with padding.
    ConcatenatedBase64,
    /// `IV:ciphertext‖tag`, both parts hex or both base64 (told apart by the IV's length:
    /// 24 hex characters or 16 base64 characters).
    IvColonCiphertext,
    /// Either layout, chosen per value: a table the platform wrote over time may mix them. The
    /// two are told apart by the `:`, which the standard base64 alphabet does not contain.
    Detect,
}

impl LegacyFormat {
    /// The layout of `text` under this setting.
    fn layout_of(self, text: &str) -> Self {
        match self {
            Self::Detect if text.contains(':') => Self::IvColonCiphertext,
            Self::Detect => Self::ConcatenatedBase64,
            fixed => fixed,
        }
    }
}

/// The AES key the legacy platform used, 128 or 256 bits (Web Crypto allows both).
enum LegacyCipher {
    Aes128(Box<Aes128Gcm>),
    Aes256(Box<Aes256Gcm>),
}

/// Decodes a key written as hex or base64. Hex is tried first when the text has the length of a
/// hex AES key, because such text is also valid base64 (of the wrong length).
fn decode_key_text(text: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    if matches!(text.len(), 32 | 64) && text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return hex::decode(text).ok();
    }
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
}

/// The digest recording that `ciphertext` sat in `field` of `account`, owned by `user`, when the
/// legacy table was adopted: lower-case hex SHA-256 of
/// `broker-vault/legacy-placement\n<account>\n<user>\n<field>\n<ciphertext>` (UUIDs in
/// their hyphenated lower-case form, the field by its storage name).
pub(crate) fn placement_digest(
    account: AccountId,
    user: UserId,
    field: Field,
    ciphertext: &str,
) -> String {
    use sha2::{Digest, Sha256};
    let text = format!("broker-vault/legacy-placement\n{account}\n{user}\n{field}\n{ciphertext}");
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The digest of a legacy ciphertext's text alone, recorded next to its place so that the same
/// ciphertext is never recorded in a second place: lower-case hex SHA-256 of
/// `broker-vault/legacy-ciphertext\n<ciphertext>`.
pub(crate) fn ciphertext_digest(ciphertext: &str) -> String {
    use sha2::{Digest, Sha256};
    let text = format!("broker-vault/legacy-ciphertext\n{ciphertext}");
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// How the legacy key is named in errors.
const LEGACY_KEY_NAME: &str = "legacy";

/// How the legacy platform turned its configured passphrase into the AES-256 key.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LegacyKeyDerivation {
    /// The key is the SHA-256 digest of the passphrase's UTF-8 bytes
    /// (`crypto.subtle.digest("SHA-256", passphrase)`).
    Sha256OfPassphrase,
    /// PBKDF2-HMAC-SHA256 of the passphrase with the configured salt and iteration count,
    /// 256 bits out (`crypto.subtle.deriveKey({name: "PBKDF2", hash: "SHA-256", ...})`).
    Pbkdf2Sha256 {
        /// The salt, as bytes.
        salt: Vec<u8>,
        /// The iteration count.
        iterations: u32,
    },
}

impl fmt::Debug for LegacyKeyDerivation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sha256OfPassphrase => f.write_str("Sha256OfPassphrase"),
            Self::Pbkdf2Sha256 { iterations, .. } => f
                .debug_struct("Pbkdf2Sha256")
                .field("salt", &broker_core::REDACTED)
                .field("iterations", iterations)
                .finish(),
        }
    }
}

/// Opens legacy ciphertexts of one format with one key.
pub struct LegacyDecryptor {
    cipher: LegacyCipher,
    format: LegacyFormat,
}

impl LegacyDecryptor {
    /// A decryptor for `format` with the raw AES key (16 or 32 bytes, as passed to
    /// `crypto.subtle.importKey("raw", ...)`) given as hex (32 or 64 hex digits) or as base64 in
    /// either alphabet, padded or not, as edge functions variously store it.
    ///
    /// # Errors
    /// [`KeyringError::KeyNotBase64`] when the text is neither hex nor base64, or
    /// [`KeyringError::KeyLength`] (naming the key `legacy`).
    pub fn from_base64_key(key: &SecretString, format: LegacyFormat) -> Result<Self, KeyringError> {
        let raw = decode_key_text(key.expose_secret().trim()).ok_or_else(|| {
            KeyringError::KeyNotBase64 {
                id: LEGACY_KEY_NAME.into(),
            }
        })?;
        Self::from_raw_key(raw, format)
    }

    /// A decryptor for `format` whose AES-256 key the legacy platform derived from a
    /// passphrase, as edge functions commonly do.
    ///
    /// # Errors
    /// [`KeyringError::InvalidDerivation`] for an empty passphrase, an empty salt or zero
    /// iterations.
    pub fn from_passphrase(
        passphrase: &SecretString,
        derivation: &LegacyKeyDerivation,
        format: LegacyFormat,
    ) -> Result<Self, KeyringError> {
        use sha2::{Digest, Sha256};
        let refuse = |detail| Err(KeyringError::InvalidDerivation { detail });
        let passphrase = passphrase.expose_secret().as_bytes();
        if passphrase.is_empty() {
            return refuse("the passphrase is empty");
        }
        let mut raw = vec![0u8; KEY_BYTES];
        match derivation {
            LegacyKeyDerivation::Sha256OfPassphrase => {
                Sha256::new()
                    .chain_update(passphrase)
                    .finalize_into(raw.as_mut_slice().into());
            }
            LegacyKeyDerivation::Pbkdf2Sha256 { salt, iterations } => {
                if salt.is_empty() {
                    return refuse("the PBKDF2 salt is empty");
                }
                if *iterations == 0 {
                    return refuse("the PBKDF2 iteration count is zero");
                }
                pbkdf2::pbkdf2_hmac::<Sha256>(passphrase, salt, *iterations, &mut raw);
            }
        }
        Self::from_raw_key(raw, format)
    }

    /// Builds the cipher from a raw 16- or 32-byte key, wiping `raw` afterwards.
    fn from_raw_key(mut raw: Vec<u8>, format: LegacyFormat) -> Result<Self, KeyringError> {
        let cipher = match raw.len() {
            16 => Aes128Gcm::new_from_slice(&raw)
                .ok()
                .map(|cipher| LegacyCipher::Aes128(Box::new(cipher))),
            32 => Aes256Gcm::new_from_slice(&raw)
                .ok()
                .map(|cipher| LegacyCipher::Aes256(Box::new(cipher))),
            _ => None,
        };
        let length = raw.len();
        raw.zeroize();
        let cipher = cipher.ok_or(KeyringError::KeyLength {
            id: LEGACY_KEY_NAME.into(),
            length,
        })?;
        Ok(Self { cipher, format })
    }

    /// The layout this decryptor expects.
    pub fn format(&self) -> LegacyFormat {
        self.format
    }

    /// Opens one legacy ciphertext.
    ///
    /// # Errors
    /// [`DecryptError`] for any failure, whatever the cause.
    pub fn open(&self, text: &str) -> Result<SecretString, DecryptError> {
        let (iv, sealed) = match self.format.layout_of(text) {
            LegacyFormat::Detect | LegacyFormat::ConcatenatedBase64 => {
                let mut bytes = STANDARD.decode(text.trim()).map_err(|_| DecryptError)?;
                let sealed = bytes.split_off(NONCE_BYTES.min(bytes.len()));
                (bytes, sealed)
            }
            LegacyFormat::IvColonCiphertext => {
                let (iv, sealed) = text.trim().split_once(':').ok_or(DecryptError)?;
                let hex_encoded = iv.len() == HEX_IV_CHARS;
                let decode = |part: &str| {
                    if hex_encoded {
                        hex::decode(part).map_err(|_| DecryptError)
                    } else {
                        STANDARD.decode(part).map_err(|_| DecryptError)
                    }
                };
                (decode(iv)?, decode(sealed)?)
            }
        };
        if iv.len() != NONCE_BYTES || sealed.len() < TAG_BYTES {
            return Err(DecryptError);
        }
        let nonce = Nonce::from_slice(&iv);
        let plaintext = match &self.cipher {
            LegacyCipher::Aes128(cipher) => cipher.decrypt(nonce, sealed.as_slice()),
            LegacyCipher::Aes256(cipher) => cipher.decrypt(nonce, sealed.as_slice()),
        }
        .map_err(|_| DecryptError)?;
        secret_from_utf8(plaintext)
    }
}

impl fmt::Debug for LegacyDecryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LegacyDecryptor")
            .field("key", &broker_core::REDACTED)
            .field("format", &self.format)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use aes_gcm::aead::{AeadCore, OsRng};

    use super::*;

    const KEY: [u8; 32] = [0x42; 32];

    fn web_crypto_encrypt(plaintext: &str) -> (Vec<u8>, Vec<u8>) {
        let cipher = Aes256Gcm::new_from_slice(&KEY).unwrap();
        let iv = Aes256Gcm::generate_nonce(&mut OsRng);
        (
            iv.to_vec(),
            cipher.encrypt(&iv, plaintext.as_bytes()).unwrap(),
        )
    }

    fn decryptor(format: LegacyFormat) -> LegacyDecryptor {
        LegacyDecryptor::from_base64_key(&STANDARD.encode(KEY).into(), format).unwrap()
    }

    #[test]
    fn opens_each_legacy_layout() {
        let (iv, sealed) = web_crypto_encrypt("kite-secret");
        let concatenated = STANDARD.encode([iv.clone(), sealed.clone()].concat());
        let colon_hex = format!("{}:{}", hex::encode(&iv), hex::encode(&sealed));
        let colon_base64 = format!("{}:{}", STANDARD.encode(&iv), STANDARD.encode(&sealed));
        let cases = [
            (LegacyFormat::ConcatenatedBase64, concatenated),
            (LegacyFormat::IvColonCiphertext, colon_hex),
            (LegacyFormat::IvColonCiphertext, colon_base64),
        ];
        for (format, text) in cases {
            let opened = decryptor(format).open(&text).unwrap();
            assert_eq!(opened.expose_secret(), "kite-secret", "{text}");
        }
    }

    #[test]
    fn detection_opens_a_table_that_mixes_layouts_row_by_row() {
        let detecting = decryptor(LegacyFormat::Detect);
        for plaintext in ["first", "second", "third"] {
            let (iv, sealed) = web_crypto_encrypt(plaintext);
            for text in [
                STANDARD.encode([iv.clone(), sealed.clone()].concat()),
                format!("{}:{}", hex::encode(&iv), hex::encode(&sealed)),
                format!("{}:{}", STANDARD.encode(&iv), STANDARD.encode(&sealed)),
            ] {
                assert_eq!(detecting.open(&text).unwrap().expose_secret(), plaintext);
            }
        }
        assert_eq!(detecting.open("00:11").unwrap_err(), DecryptError);
    }

    #[test]
    fn tampered_or_misformatted_legacy_text_is_the_same_opaque_error() {
        let (iv, mut sealed) = web_crypto_encrypt("secret");
        let good = STANDARD.encode([iv.clone(), sealed.clone()].concat());
        sealed[0] ^= 1;
        let tampered = STANDARD.encode([iv.clone(), sealed].concat());
        let concatenated = decryptor(LegacyFormat::ConcatenatedBase64);
        for text in [
            tampered.as_str(),
            "",
            "AAAA",
            "not base64!",
            &good[..good.len() - 4],
        ] {
            assert_eq!(concatenated.open(text).unwrap_err(), DecryptError, "{text}");
        }
        let colon = decryptor(LegacyFormat::IvColonCiphertext);
        for text in [good.as_str(), "00:11", "zz:zz", ":"] {
            assert_eq!(colon.open(text).unwrap_err(), DecryptError, "{text}");
        }
    }

    #[test]
    fn key_of_wrong_length_is_refused_and_debug_redacts_the_key() {
        let error = LegacyDecryptor::from_base64_key(
            &STANDARD.encode([1u8; 20]).into(),
            LegacyFormat::ConcatenatedBase64,
        )
        .unwrap_err();
        assert!(matches!(error, KeyringError::KeyLength { length: 20, .. }));
        let printed = format!("{:?}", decryptor(LegacyFormat::ConcatenatedBase64));
        assert!(!printed.contains(&STANDARD.encode(KEY)) && !printed.contains("66, 66"));
        assert!(printed.contains("<redacted>"));
    }

    /// `base64(IV ‖ ciphertext ‖ tag)` under an AES-256 `key`, as the legacy platform stored it.
    fn seal_concatenated(key: &[u8], plaintext: &str) -> String {
        let cipher = Aes256Gcm::new_from_slice(key).unwrap();
        let iv = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = cipher.encrypt(&iv, plaintext.as_bytes()).unwrap();
        STANDARD.encode([iv.to_vec(), sealed].concat())
    }

    #[test]
    fn keys_are_accepted_as_hex_base64url_and_unpadded_base64() {
        let key = [0xfbu8; 32];
        let sealed = seal_concatenated(&key, "secret");
        use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
        for text in [
            STANDARD.encode(key),
            STANDARD_NO_PAD.encode(key),
            URL_SAFE.encode(key),
            URL_SAFE_NO_PAD.encode(key),
            hex::encode(key),
            hex::encode_upper(key),
        ] {
            let decryptor = LegacyDecryptor::from_base64_key(
                &text.clone().into(),
                LegacyFormat::ConcatenatedBase64,
            )
            .unwrap_or_else(|error| panic!("{text}: {error}"));
            assert_eq!(decryptor.open(&sealed).unwrap().expose_secret(), "secret");
        }
    }

    #[test]
    fn passphrase_derivations_match_the_standard_vectors() {
        // SHA-256("abc") (FIPS 180-2) and PBKDF2-HMAC-SHA256("passwd", "salt", 1) (RFC 7914).
        let cases = [
            (
                "abc",
                LegacyKeyDerivation::Sha256OfPassphrase,
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            (
                "passwd",
                LegacyKeyDerivation::Pbkdf2Sha256 {
                    salt: b"salt".to_vec(),
                    iterations: 1,
                },
                "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc",
            ),
        ];
        for (passphrase, derivation, expected_key) in cases {
            let sealed = seal_concatenated(&hex::decode(expected_key).unwrap(), "derived");
            let decryptor = LegacyDecryptor::from_passphrase(
                &passphrase.into(),
                &derivation,
                LegacyFormat::Detect,
            )
            .unwrap();
            assert_eq!(decryptor.open(&sealed).unwrap().expose_secret(), "derived");
        }
        let zero = LegacyKeyDerivation::Pbkdf2Sha256 {
            salt: b"salt".to_vec(),
            iterations: 0,
        };
        let error =
            LegacyDecryptor::from_passphrase(&"p".into(), &zero, LegacyFormat::Detect).unwrap_err();
        assert!(
            error.to_string().contains("iteration count is zero"),
            "{error}"
        );
    }
}
