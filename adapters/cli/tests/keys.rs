//! End-to-end tests of `brokerctl keys` through the built binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

fn brokerctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_brokerctl"))
        .args(args)
        .env_remove("BROKER_KEYS_FILE")
        .output()
        .unwrap()
}

#[test]
fn generate_then_status_reports_the_key_id_and_never_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keys");
    let path = file.to_str().unwrap();
    let generated = brokerctl(&["keys", "generate", "--id", "k1", "--keys-file", path]);
    assert!(generated.status.success(), "{generated:?}");
    assert_eq!(fs_mode(&file), 0o600);
    let key = std::fs::read_to_string(&file).unwrap();
    let secret = key.trim().split_once(':').unwrap().1.to_owned();
    assert!(!String::from_utf8_lossy(&generated.stdout).contains(&secret));

    let status = brokerctl(&["keys", "status", "--keys-file", path, "--json"]);
    assert!(status.status.success(), "{status:?}");
    let value: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(
        value,
        serde_json::json!({ "primary": "k1", "keys": ["k1"] })
    );
    assert!(!String::from_utf8_lossy(&status.stdout).contains(&secret));
}

#[test]
fn generate_refuses_to_overwrite_an_existing_keyring() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keys");
    let path = file.to_str().unwrap();
    assert!(
        brokerctl(&["keys", "generate", "--id", "k1", "--keys-file", path])
            .status
            .success()
    );
    let before = std::fs::read(&file).unwrap();
    let again = brokerctl(&["keys", "generate", "--id", "k2", "--keys-file", path]);
    assert_eq!(again.status.code(), Some(3));
    assert_eq!(std::fs::read(&file).unwrap(), before);
}

#[test]
fn status_refuses_a_keyring_others_can_read() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keys");
    let path = file.to_str().unwrap();
    assert!(
        brokerctl(&["keys", "generate", "--id", "k1", "--keys-file", path])
            .status
            .success()
    );
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let status = brokerctl(&["keys", "status", "--keys-file", path]);
    assert_eq!(status.status.code(), Some(3));
    assert!(status.stdout.is_empty());
}

#[test]
fn an_invalid_key_id_is_refused_without_creating_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keys");
    let generated = brokerctl(&[
        "keys",
        "generate",
        "--id",
        "bad id:",
        "--keys-file",
        file.to_str().unwrap(),
    ]);
    assert_eq!(generated.status.code(), Some(3));
    assert!(!file.exists());
}

fn fs_mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}
