//! The suite against the file backend, and two processes writing one store at once.

use std::process::{Command, Stdio};

use vault::{CredentialStore, FileBackend, Keyring, UserId, Vault};

use crate::fixtures::{exposed, file_fixture, zerodha};

crate::store_behaviours!(file_fixture);

const CHILD_DIR: &str = "VAULT_TEST_WRITER_DIR";
const CHILD_KEYS: &str = "VAULT_TEST_WRITER_KEYS";
const CHILD_TAG: &str = "VAULT_TEST_WRITER_TAG";
const ACCOUNTS_PER_WRITER: usize = 40;

/// Run as a child process by the test below: adds accounts to a shared store directory.
#[tokio::test]
#[ignore = "child process of two_processes_writing_at_once_do_not_corrupt_the_store"]
async fn writer_child_adds_accounts() {
    let (Ok(dir), Ok(keys), Ok(tag)) = (
        std::env::var(CHILD_DIR),
        std::env::var(CHILD_KEYS),
        std::env::var(CHILD_TAG),
    ) else {
        return;
    };
    let vault = Vault::new(
        FileBackend::open(dir).unwrap(),
        Keyring::parse(&keys.into()).unwrap(),
    );
    let owner = UserId::new_random();
    for index in 0..ACCOUNTS_PER_WRITER {
        vault
            .create_account(owner, &zerodha(&format!("{tag}-{index}")))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn two_processes_writing_at_once_do_not_corrupt_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let keys = format!(
        "kid0:{}",
        secrecy::ExposeSecret::expose_secret(&vault::KeyMaterial::generate().to_base64())
    );
    let writers: Vec<_> = ["A", "B"]
        .into_iter()
        .map(|tag| {
            Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "file_backend::writer_child_adds_accounts",
                    "--ignored",
                    "--quiet",
                ])
                .env(CHILD_DIR, dir.path())
                .env(CHILD_KEYS, &keys)
                .env(CHILD_TAG, tag)
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut writer in writers {
        assert!(writer.wait().unwrap().success());
    }

    let vault = Vault::new(
        FileBackend::open(dir.path()).unwrap(),
        Keyring::parse(&keys.into()).unwrap(),
    );
    let data = std::fs::read_to_string(dir.path().join(vault::file::DATA_FILE)).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&data).unwrap();
    let stored = parsed["accounts"].as_object().unwrap();
    assert_eq!(stored.len(), 2 * ACCOUNTS_PER_WRITER, "a write was lost");

    let mut opened = Vec::new();
    for record in stored.values() {
        let owner: UserId = record["user_id"].as_str().unwrap().parse().unwrap();
        let id = record["id"].as_str().unwrap().parse().unwrap();
        opened.push(exposed(&vault.credentials(owner, id).await.unwrap())[0].clone());
    }
    opened.sort();
    let mut expected: Vec<_> = ["A", "B"]
        .iter()
        .flat_map(|tag| (0..ACCOUNTS_PER_WRITER).map(move |index| format!("kiteKEY{tag}-{index}")))
        .collect();
    expected.sort();
    assert_eq!(opened, expected);
}

#[tokio::test]
async fn a_second_handle_sees_the_writes_of_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let keys = crate::fixtures::keyring();
    let first = Vault::new(FileBackend::open(dir.path()).unwrap(), keys.clone());
    let second = Vault::new(FileBackend::open(dir.path()).unwrap(), keys);
    let owner = UserId::new_random();

    let id = first
        .create_account(owner, &zerodha("one"))
        .await
        .unwrap()
        .id;
    let opened = second.credentials(owner, id).await.unwrap();
    assert_eq!(exposed(&opened), exposed(&zerodha("one")));

    second.set_auto_execute(owner, id, true).await.unwrap();
    let other = second
        .create_account(owner, &zerodha("two"))
        .await
        .unwrap()
        .id;
    let seen: Vec<_> = first.accounts(owner).await.unwrap();
    assert_eq!(seen.len(), 2);
    assert!(
        seen.iter()
            .any(|account| account.id == id && account.auto_execute)
    );
    assert!(seen.iter().any(|account| account.id == other));
}
