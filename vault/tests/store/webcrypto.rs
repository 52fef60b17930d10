//! Interoperability with the legacy platform: Node's `crypto.subtle` (the Web Crypto API that
//! Deno and Supabase Edge Functions run) encrypts, the vault decrypts and migrates.

use std::io::Write;
use std::process::{Command, Stdio};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use broker_core::BrokerKind;
use vault::{
    AccountRecord, BrokerAccount, CredentialStore, Field, LegacyDecryptor, LegacyFormat,
    RecordBackend, SealedFields, UserId, Vault,
};

use crate::fixtures::{exposed, file_fixture, zerodha};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/webcrypto/encrypt.mjs");

/// One plaintext sealed by Node in each layout the legacy platform used.
#[derive(serde::Deserialize)]
pub struct Layouts {
    pub concatenated_base64: String,
    pub colon_hex: String,
    pub colon_base64: String,
}

/// Runs the Node script, or `None` (with the reason printed) when `node` is missing outside CI.
pub fn node_encrypt(key: &[u8], plaintexts: &[&str]) -> Option<Vec<Layouts>> {
    let spawned = Command::new("node")
        .arg(SCRIPT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
            panic!("node is required when CI=true for the Web Crypto interop test: {error}")
        }
        Err(error) => {
            eprintln!("skipping Web Crypto interop test: cannot run node ({error})");
            return None;
        }
    };
    let input = serde_json::json!({ "key": STANDARD.encode(key), "plaintexts": plaintexts });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "node failed: {output:?}");
    Some(serde_json::from_slice(&output.stdout).unwrap())
}

#[test]
fn node_web_crypto_ciphertexts_decrypt_in_every_layout_and_key_size() {
    let plaintexts = ["kiteSECRETabc", "4831", "ünïcødé ✓ secret"];
    for key in [vec![0x11u8; 32], vec![0x22u8; 16]] {
        let Some(layouts) = node_encrypt(&key, &plaintexts) else {
            return;
        };
        let decryptor = |format| {
            LegacyDecryptor::from_base64_key(&STANDARD.encode(&key).into(), format).unwrap()
        };
        let concatenated = decryptor(LegacyFormat::ConcatenatedBase64);
        let colon = decryptor(LegacyFormat::IvColonCiphertext);
        for (layout, plaintext) in layouts.iter().zip(plaintexts) {
            for (decryptor, text) in [
                (&concatenated, &layout.concatenated_base64),
                (&colon, &layout.colon_hex),
                (&colon, &layout.colon_base64),
            ] {
                let opened = decryptor.open(text).unwrap();
                assert_eq!(
                    secrecy::ExposeSecret::expose_secret(&opened),
                    plaintext,
                    "{text}"
                );
            }
        }
        // Another key does not open them.
        let stranger = LegacyDecryptor::from_base64_key(
            &STANDARD.encode([0x33u8; 32]).into(),
            LegacyFormat::ConcatenatedBase64,
        )
        .unwrap();
        assert!(stranger.open(&layouts[0].concatenated_base64).is_err());
    }
}

#[tokio::test]
async fn node_encrypted_rows_are_migrated_to_v2_envelopes() {
    let key = [0x44u8; 32];
    let Some(layouts) = node_encrypt(&key, &["kiteKEYnode", "kiteSECRETnode"]) else {
        return;
    };
    let fixture = file_fixture().await.unwrap();
    let owner = UserId::new_random();
    let account = BrokerAccount::new(owner, BrokerKind::Zerodha);
    let id = account.id;
    let mut secrets = SealedFields::new();
    secrets.insert(Field::ApiKey, layouts[0].colon_hex.clone());
    secrets.insert(Field::ApiSecret, layouts[1].colon_hex.clone());
    fixture
        .vault
        .backend()
        .insert_accounts(&[AccountRecord { account, secrets }])
        .await
        .unwrap();

    let legacy = LegacyDecryptor::from_base64_key(
        &STANDARD.encode(key).into(),
        LegacyFormat::IvColonCiphertext,
    )
    .unwrap();
    let vault = Vault::new(
        fixture.vault.backend().clone(),
        (*fixture.vault.keyring()).clone(),
    )
    .with_legacy(legacy);
    // Nothing migrates before the table is adopted (its places recorded).
    let report = vault.migrate_legacy(100).await.unwrap();
    assert_eq!((report.rows, report.misplaced), (0, 1));
    assert_eq!(vault.record_legacy_placements().await.unwrap().recorded, 2);
    let report = vault.migrate_legacy(100).await.unwrap();
    assert_eq!((report.rows, report.fields), (1, 2));

    // The original vault, which has no legacy key, now reads them.
    let opened = fixture.vault.credentials(owner, id).await.unwrap();
    assert_eq!(exposed(&opened), exposed(&zerodha("node")));
    let record = fixture
        .vault
        .backend()
        .account(owner, id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        record
            .secrets
            .iter()
            .all(|(_, text)| text.starts_with("v2."))
    );
}
