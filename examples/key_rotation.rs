//! Key rotation: accounts stored under key A, key B added as primary, every ciphertext
//! re-sealed under B, A removed, and the accounts still open with B alone.
//!
//! Rotation is resumable and safe while the store is in use: reads keep working under either
//! key, each row is replaced by compare-and-swap, and an interrupted pass is finished by the
//! next call. With `brokerctl` the same steps are `keys generate`, `keys rotate`, `keys status`.
//!
//! ```sh
//! cargo run -p broker-examples --example key_rotation
//! ```

use broker_core::{AngelOneCredentials, BrokerCredentials, ZerodhaCredentials};
use broker_examples::{Outcome, ensure};
use secrecy::SecretString;
use vault::{CredentialStore, FileBackend, KeyId, KeyMaterial, Keyring, StoreError, UserId, Vault};

#[tokio::main]
async fn main() -> Outcome {
    let data = tempfile::tempdir()?;
    let path = data.path().join("vault");

    // Two users' accounts, stored under key A. (Keys come from `brokerctl keys generate`
    // files or BROKER_VAULT_KEYS in production; never store them with the data.)
    let (key_a, material_a) = (KeyId::new("a")?, KeyMaterial::generate());
    let store = Vault::open(
        FileBackend::open(&path)?,
        Keyring::new(key_a.clone(), &material_a),
    )
    .await?;
    let (asha, bala) = (UserId::new_random(), UserId::new_random());
    let angel_one = BrokerCredentials::AngelOne(AngelOneCredentials::new(
        SecretString::from("angelKEY7q3f"),
        "S7788",
        SecretString::from("4831"),
        SecretString::from("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
    )?);
    let zerodha = BrokerCredentials::Zerodha(ZerodhaCredentials::new(
        SecretString::from("kiteKEYx81mq"),
        SecretString::from("kiteSECRETp39vk2"),
    )?);
    let asha_account = store.create_account(asha, &angel_one).await?.id;
    let bala_account = store.create_account(bala, &zerodha).await?.id;
    println!("2 accounts stored under key a");

    // Key B becomes the primary key: new writes are sealed under B, A still opens old rows.
    store.add_primary_key(KeyId::new("b")?, &KeyMaterial::generate())?;

    // A cannot go yet: ciphertexts still need it.
    match store.remove_key(&key_a).await {
        Err(StoreError::KeyInUse { references, .. }) => {
            println!("removing key a now is refused: {references} ciphertexts still need it");
        }
        other => return Err(format!("expected KeyInUse, got {other:?}").into()),
    }

    // Re-seal everything under B, 500 rows per batch.
    let report = store.rotate(500).await?;
    println!(
        "rotated: {} rows, {} ciphertexts re-sealed, {} unreadable",
        report.rows, report.fields, report.unreadable
    );
    ensure(report.unreadable == 0, "every row opened and was re-sealed")?;

    // Now A can go.
    store.remove_key(&key_a).await?;
    let keyring = store.keyring();
    let ids: Vec<&str> = keyring.key_ids().map(KeyId::as_str).collect();
    println!("key a removed; keys now: {ids:?}");

    // A new process with key B alone opens every account.
    let reopened = Vault::open(FileBackend::open(&path)?, (*keyring).clone()).await?;
    for (user, account) in [(asha, asha_account), (bala, bala_account)] {
        let credentials = reopened.credentials(user, account).await?;
        println!(
            "account {account} opens with key b: {:?}",
            credentials.kind()
        );
    }

    // And key A alone no longer opens the store: back up every key in use, since a lost key
    // means the accounts sealed under it must be entered again by their users.
    match Vault::open(FileBackend::open(&path)?, Keyring::new(key_a, &material_a)).await {
        Err(StoreError::KeysMissing { missing }) => {
            println!("key a alone is refused: the store needs {missing:?}");
        }
        other => return Err(format!("expected KeysMissing, got {:?}", other.err()).into()),
    }
    Ok(())
}
