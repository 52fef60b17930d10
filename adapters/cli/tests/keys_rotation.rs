//! `brokerctl keys rotate` on every store: a rotation killed half-way is resumed by a rerun,
//! then the old key is removed, and `keys status` tells where every ciphertext is.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use vault::UserId;

/// Rows in the store: enough that a rotation one row per batch takes a while (the file store
/// rewrites its one file per row, so fewer are enough there).
fn rows(kind: StoreKind) -> usize {
    match kind {
        StoreKind::File => 300,
        StoreKind::Postgres => 2_000,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_rotation_is_resumed_on_every_store() {
    for kind in stores() {
        interrupted_rotation(kind).await;
    }
}

async fn interrupted_rotation(kind: StoreKind) {
    let env = Env::new(kind);
    let store = env.store().await;
    let user = UserId::new_random();
    let made = Instant::now();
    let mut created = tokio::task::JoinSet::new();
    for index in 0..rows(kind) {
        let store = store.clone();
        created.spawn(async move {
            store
                .create_account(user, &kite_credentials(&format!("app{index}")))
                .await
                .unwrap()
                .id
        });
    }
    let ids = created.join_all().await;
    drop(store);
    eprintln!(
        "{kind:?}: {} accounts made in {:?}",
        rows(kind),
        made.elapsed()
    );
    let total = u64::try_from(2 * rows(kind)).unwrap();
    assert_eq!(env.ciphertexts_per_key().await.get("k1"), Some(&total));

    // Kill the rotation once some rows, not all, are under the new key.
    let mut child = env
        .std_cmd()
        .args(["keys", "rotate", "--id", "k2", "--batch", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let poller = Poller::new(&env).await;
    loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the rotation finished before it could be interrupted"
        );
        let counts = poller.counts().await;
        if counts.get("k2").copied().unwrap_or(0) > 0 {
            child.kill().unwrap();
            child.wait().unwrap();
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the rotation never started"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    eprintln!("{kind:?}: killed after {:?}", started.elapsed());
    let halfway = env.ciphertexts_per_key().await;
    let (old, new) = (halfway["k1"], halfway["k2"]);
    assert!(old > 0 && new > 0 && old + new == total, "{halfway:?}");

    // The keyring already names the new primary; both keys open what they sealed.
    let status = env.json(&["keys", "status", "--count"], None);
    assert_eq!(status["primary"], "k2");
    assert_eq!(status["keys"], serde_json::json!(["k2", "k1"]));
    assert_eq!(status["ciphertexts"]["k1"], old);
    env.ok(
        &[
            "accounts",
            "show",
            "--user",
            &user.to_string(),
            &ids[0].to_string(),
        ],
        None,
    );

    // Another rotation must wait for this one to finish; the old key cannot go yet.
    let other = env.run(&["keys", "rotate", "--id", "k3"], None);
    assert_eq!(other.status.code(), Some(3), "{other:?}");
    assert!(stderr(&other).contains("unfinished"), "{other:?}");

    let resumed = env.json(&["keys", "rotate", "--remove-old"], None);
    assert_eq!(resumed["primary"], "k2");
    assert_eq!(resumed["ciphertexts"], old, "{resumed}");
    assert_eq!(resumed["unreadable"], 0);
    let status = env.json(&["keys", "status", "--count"], None);
    assert_eq!(
        status,
        serde_json::json!({ "primary": "k2", "keys": ["k2"], "ciphertexts": { "k2": total } })
    );
    let text = env.ok(&["keys", "status", "--count"], None);
    assert_eq!(
        text,
        format!("primary: k2\nkey: k2 ({total} ciphertexts)\n")
    );

    // Every credential still opens under the new ring alone.
    let store = env.store().await;
    for id in ids.iter().step_by(97) {
        store.credentials(user, *id).await.unwrap();
    }
    // With nothing stale, a rotation without a new id has nothing to do.
    let idle = env.json(&["keys", "rotate"], None);
    assert_eq!(idle["ciphertexts"], 0);
}

/// Reads the counts per key while the rotation runs (one connection for Postgres).
struct Poller<'a> {
    env: &'a Env,
    postgres: Option<vault::PostgresBackend>,
}

impl<'a> Poller<'a> {
    async fn new(env: &'a Env) -> Self {
        let postgres = match env.kind {
            StoreKind::File => None,
            StoreKind::Postgres => Some(env.postgres().await),
        };
        Self { env, postgres }
    }

    async fn counts(&self) -> std::collections::BTreeMap<String, u64> {
        use vault::RecordBackend;
        match &self.postgres {
            Some(backend) => backend.ciphertexts_per_key().await.unwrap(),
            None => self.env.ciphertexts_per_key().await,
        }
    }
}

#[test]
fn rotation_needs_a_keys_file_it_can_write() {
    let env = Env::new(StoreKind::File);
    let spec = std::fs::read_to_string(&env.keys).unwrap();
    let output = env
        .cmd()
        .env_remove("BROKER_KEYS_FILE")
        .env("BROKER_VAULT_KEYS", spec.trim())
        .args(["keys", "rotate", "--id", "k2"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    assert!(stderr(&output).contains("--keys-file"), "{output:?}");
    let existing = env.run(&["keys", "rotate", "--id", "k1"], None);
    assert!(
        existing.status.success(),
        "rotating to the current primary is a no-op: {existing:?}"
    );
}
