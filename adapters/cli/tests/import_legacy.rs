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
use vault::{AccountRecord, BrokerAccount, Field, RecordBackend, SealedFields, UserId, Vault};

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
    // The platform's rows, their places recorded as adoption records them; then a value
    // copied into another row afterwards (laundering), which must not move.
    let copied = {
        let mut secrets = SealedFields::new();
        secrets.insert(
            Field::ApiKey,
            records[0].secrets.get(Field::ApiKey).unwrap().to_owned(),
        );
        secrets.insert(Field::ApiSecret, web_crypto(&legacy_key, "copied"));
        AccountRecord {
            account: BrokerAccount::new(UserId::new_random(), BrokerKind::Zerodha),
            secrets,
        }
    };
    let keyring = vault::Keyring::from_file(&env.keys).unwrap();
    match kind {
        StoreKind::File => {
            let vault = Vault::new(vault::FileBackend::open(&env.data).unwrap(), keyring);
            adopt(&vault, &records, &copied).await;
        }
        StoreKind::Postgres => {
            let vault = Vault::new(env.postgres().await, keyring);
            adopt(&vault, &records, &copied).await;
        }
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

    // The dry run counts (the copied value refused: exit 6) and writes nothing.
    let dry = env.run(
        &["import-legacy", "--dry-run", "--secrets-stdin", "--json"],
        Some(&key_line(&legacy_key)),
    );
    assert_eq!(dry.status.code(), Some(6), "{dry:?}");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&dry.stdout).unwrap(),
        serde_json::json!({"step": "dry run", "rows": 5, "ciphertexts": 10, "unreadable": 0, "misplaced": 1})
    );
    assert!(env.ciphertexts_per_key().await.is_empty());

    // The real run: the dry run's counts first, then the rows moved.
    let output = env.run(
        &["import-legacy", "--secrets-stdin", "--batch", "2"],
        Some(&key_line(&legacy_key)),
    );
    assert_eq!(output.status.code(), Some(6), "{output:?}");
    assert!(stderr(&output).contains("1 row(s) hold a legacy value that is not where"));
    let text = String::from_utf8(output.stdout.clone()).unwrap();
    assert_eq!(
        text,
        "dry run: 5 row(s), 10 ciphertext(s); 0 row(s) do not open, 1 misplaced\nmoved: 5 row(s), 10 ciphertext(s); 0 row(s) do not open, 1 misplaced\n"
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
    let again = env.run(
        &["import-legacy", "--dry-run", "--secrets-stdin", "--json"],
        Some(&key_line(&legacy_key)),
    );
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(
        (again["rows"].as_u64(), again["misplaced"].as_u64()),
        (Some(0), Some(1))
    );
    let bad_key = env.run(
        &["import-legacy", "--secrets-stdin"],
        Some("legacy_key=not-a-key!\n"),
    );
    assert_eq!(bad_key.status.code(), Some(3), "{bad_key:?}");
}

/// What adopting the platform's table does: its rows in place, their legacy values' places
/// recorded; then `copied` written in by someone else.
async fn adopt<B: RecordBackend>(
    vault: &Vault<B>,
    records: &[AccountRecord],
    copied: &AccountRecord,
) {
    vault.backend().insert_accounts(records).await.unwrap();
    let placements = vault.record_legacy_placements().await.unwrap();
    assert_eq!(placements.recorded, 10);
    vault
        .backend()
        .insert_accounts(std::slice::from_ref(copied))
        .await
        .unwrap();
}
