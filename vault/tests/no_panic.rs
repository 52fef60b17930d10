//! Property tests: whatever text sits in a column, opening it is an error or a secret, never a
//! panic. The case count is bounded (2,000 per property) so the run stays short.

// Test setup panics on failure by design: a broken fixture must fail the test loudly.
#![allow(clippy::unwrap_used)]

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use broker_core::BrokerKind;
use proptest::prelude::*;
use secrecy::SecretString;
use vault::{
    AccountId, Field, KeyId, KeyMaterial, Keyring, LegacyDecryptor, LegacyFormat, Place, UserId,
};

fn keyring() -> Keyring {
    Keyring::new(KeyId::new("kid0").unwrap(), &KeyMaterial::generate())
}

fn place() -> Place {
    Place {
        account: AccountId::new_random(),
        user: UserId::new_random(),
        broker: BrokerKind::AngelOne,
        field: Field::Mpin,
    }
}

/// Text shaped like the inputs (prefixes, separators, both base64 alphabets, hex) as well as
/// arbitrary strings.
fn column_text() -> impl Strategy<Value = String> {
    let bytes = proptest::collection::vec(any::<u8>(), 0..96);
    prop_oneof![
        any::<String>(),
        bytes
            .clone()
            .prop_map(|raw| format!("v2.kid0.{}", URL_SAFE_NO_PAD.encode(raw))),
        bytes
            .clone()
            .prop_map(|raw| format!("v1.kid0.{}", URL_SAFE_NO_PAD.encode(raw))),
        (any::<String>(), bytes.clone())
            .prop_map(|(id, raw)| format!("v1.{id}.{}", URL_SAFE_NO_PAD.encode(raw))),
        bytes.clone().prop_map(|raw| STANDARD.encode(raw)),
        (bytes.clone(), bytes.clone()).prop_map(|(iv, ct)| format!(
            "{}:{}",
            hex::encode(iv),
            hex::encode(ct)
        )),
        (bytes.clone(), bytes).prop_map(|(iv, ct)| format!(
            "{}:{}",
            STANDARD.encode(iv),
            STANDARD.encode(ct)
        )),
        "[v12.:=A-Za-z0-9+/_-]{0,120}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn opening_any_envelope_text_never_panics(text in column_text()) {
        prop_assert!(keyring().open(&place(), &text).is_err());
    }

    #[test]
    fn opening_any_legacy_text_never_panics(text in column_text()) {
        let key = SecretString::from(STANDARD.encode([7u8; 32]));
        for format in [
            LegacyFormat::ConcatenatedBase64,
            LegacyFormat::IvColonCiphertext,
            LegacyFormat::Detect,
        ] {
            let decryptor = LegacyDecryptor::from_base64_key(&key, format).unwrap();
            // A random text authenticates with negligible probability; only panics matter.
            let _ = decryptor.open(&text);
        }
    }

    #[test]
    fn parsing_any_key_list_never_panics(spec in any::<String>()) {
        let _ = Keyring::parse(&SecretString::from(spec));
    }
}
