//! `brokerctl import-legacy` on every store: rows sealed by the platform's Web Crypto edge
//! function (AES-GCM, 12-byte IV, `base64(IV ‖ ciphertext ‖ tag)`) are counted by a dry run,
//! refused with a wrong key, then re-sealed into the vault.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use broker_core::BrokerKind;
use common::*;
use secrecy::ExposeSecret;
use vault::{AccountRecord, BrokerAccount, Field, RecordBackend, SealedFields, UserId};

const LEGACY_ROWS: usize = 5;

/// What `crypto.subtle.encrypt({name: "AES-GCM", iv}, key, data)` gives, as the platform
/// stored it.
fn web_crypto(key: &[u8; 32], plaintext: &str) -> String {
    let cipher = Aes256Gcm::new_from_slice(key).unwrap();
    let iv: [u8; 12] = rand::random();
    let sealed = cipher
        .encrypt(Nonce::from_slice(&iv), plaintext.as_bytes())
        .unwrap();
    STANDARD.encode([iv.as_slice(), sealed.as_slice()].concat())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_rows_are_counted_then_moved_on_every_store() {
    for kind in stores() {
        import(kind).await;
    }
}

async fn import(kind: StoreKind) {
    let env = Env::new(kind);
    let user = UserId::new_random();
    let legacy_key: [u8; 32] = rand::random();
    let records: Vec<AccountRecord> = (0..LEGACY_ROWS)
        .map(|index| {
            let mut secrets = SealedFields::new();
            secrets.insert(
                Field::ApiKey,
                web_crypto(&legacy_key, &format!("legacyapp{index}")),
            );
            secrets.insert(
                Field::ApiSecret,
                web_crypto(&legacy_key, &format!("legacysecret{index}")),
            );
            AccountRecord {
                account: BrokerAccount::new(user, BrokerKind::Zerodha),
                secrets,
            }
        })
        .collect();
    match kind {
        StoreKind::File => vault::FileBackend::open(&env.data)
            .unwrap()
            .insert_accounts(&records)
            .await
            .unwrap(),
        StoreKind::Postgres => env
            .postgres()
            .await
            .insert_accounts(&records)
            .await
            .unwrap(),
    }
    let key_line = |key: &[u8]| format!("legacy_key={}\n", hex::encode(key));

    // A wrong key opens nothing, and nothing moves.
    let wrong: [u8; 32] = rand::random();
    let refused = env.run(
        &["import-legacy", "--secrets-stdin"],
        Some(&key_line(&wrong)),
    );
    assert_eq!(refused.status.code(), Some(3), "{refused:?}");
    assert!(
        stderr(&refused).contains("5 legacy row(s) do not open"),
        "{refused:?}"
    );
    assert!(env.ciphertexts_per_key().await.is_empty());

    // The dry run counts and writes nothing.
    let dry = env.json(
        &["import-legacy", "--dry-run", "--secrets-stdin"],
        Some(&key_line(&legacy_key)),
    );
    assert_eq!(
        dry,
        serde_json::json!({"step": "dry run", "rows": 5, "ciphertexts": 10, "unreadable": 0})
    );
    assert!(env.ciphertexts_per_key().await.is_empty());

    // The real run: the dry run's counts first, then the rows moved.
    let output = env.run(
        &["import-legacy", "--secrets-stdin", "--batch", "2"],
        Some(&key_line(&legacy_key)),
    );
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout.clone()).unwrap();
    assert_eq!(
        text,
        "dry run: 5 row(s), 10 ciphertext(s); 0 row(s) do not open\nmoved: 5 row(s), 10 ciphertext(s); 0 row(s) do not open\n"
    );
    assert!(!all_output(&output).contains(&hex::encode(legacy_key)));
    assert_eq!(env.ciphertexts_per_key().await.get("k1"), Some(&10));

    // The vault opens them now, without the legacy key.
    let store = env.store().await;
    for (index, record) in records.iter().enumerate() {
        let credentials = store.credentials(user, record.account.id).await.unwrap();
        let broker_core::BrokerCredentials::Zerodha(kite) = credentials else {
            panic!("not Zerodha credentials");
        };
        assert_eq!(kite.api_key().expose_secret(), format!("legacyapp{index}"));
    }
    let again = env.json(
        &["import-legacy", "--dry-run", "--secrets-stdin"],
        Some(&key_line(&legacy_key)),
    );
    assert_eq!(again["rows"], 0);
    let bad_key = env.run(
        &["import-legacy", "--secrets-stdin"],
        Some("legacy_key=not-a-key!\n"),
    );
    assert_eq!(bad_key.status.code(), Some(3), "{bad_key:?}");
}
