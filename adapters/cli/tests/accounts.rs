//! `brokerctl accounts` end to end on the simulators, on every store: the lifecycle, secrets
//! on standard input (never echoed), another user's account, a wrong key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use vault::UserId;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_lifecycle_on_every_store() {
    for kind in stores() {
        lifecycle(kind).await;
    }
}

async fn lifecycle(kind: StoreKind) {
    let env = Env::new(kind);
    let (owner, stranger) = (UserId::new_random(), UserId::new_random());
    let sims = sims(&[("S1001", "127.0.0.61")], &[]).await;
    env.configure(
        &sims,
        &[("127.0.0.61", owner), ("127.0.0.62", stranger)],
        &serde_json::json!({"intents": []}),
    );
    let (user, other) = (owner.to_string(), stranger.to_string());

    // Secrets on standard input; none of them comes back out.
    let secrets = angel_secrets("S1001");
    let added = env.run(
        &[
            "accounts",
            "add",
            "--user",
            &user,
            "--broker",
            "angelone",
            "--secrets-stdin",
            "--json",
        ],
        Some(&secrets),
    );
    assert!(added.status.success(), "{added:?}");
    for secret in [angel_api_key("S1001").as_str(), ANGEL_MPIN, ANGEL_TOTP] {
        assert!(!all_output(&added).contains(secret), "a secret was printed");
    }
    let account: serde_json::Value = serde_json::from_slice(&added.stdout).unwrap();
    let id = account["id"].as_str().unwrap().to_owned();
    assert_eq!(account["status"], "pending");

    let listed = env.json(&["accounts", "list", "--user", &user], None);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(
        env.json(&["accounts", "list", "--user", &other], None),
        serde_json::json!([])
    );
    let table = env.ok(&["accounts", "list", "--user", &user], None);
    assert!(
        table.starts_with("ACCOUNT") && table.contains(&id),
        "{table}"
    );

    // Another user's account answers exactly like a missing one.
    let missing = uuid::Uuid::new_v4().to_string();
    for command in [
        vec!["accounts", "show"],
        vec!["accounts", "verify"],
        vec!["accounts", "remove"],
        vec!["accounts", "egress", "assign"],
    ] {
        let theirs = env.run(&[&command[..], &["--user", &other, &id]].concat(), None);
        let absent = env.run(&[&command[..], &["--user", &user, &missing]].concat(), None);
        assert_eq!(theirs.status.code(), Some(4), "{command:?}: {theirs:?}");
        assert_eq!(absent.status.code(), Some(4), "{command:?}: {absent:?}");
        assert_eq!(
            stderr(&theirs).replace(&id, "ID"),
            stderr(&absent).replace(&missing, "ID")
        );
        assert_eq!(
            stderr(&theirs),
            format!("brokerctl: no such account: {id}\n")
        );
    }
    let theirs = env.run(
        &["accounts", "auto-execute", "--user", &other, &id, "on"],
        None,
    );
    assert_eq!(theirs.status.code(), Some(4));

    let shown = env.json(
        &["accounts", "auto-execute", "--user", &user, &id, "on"],
        None,
    );
    assert_eq!(shown["auto_execute"], true);
    let egress = env.json(
        &["accounts", "egress", "assign", "--user", &user, &id],
        None,
    );
    assert_eq!(egress["bind"], "127.0.0.61");
    let verified = env.json(&["accounts", "verify", "--user", &user, &id], None);
    assert_eq!(verified["outcome"], "connected");
    let shown = env.json(&["accounts", "show", "--user", &user, &id], None);
    assert_eq!(shown["status"], "active");
    assert_eq!(shown["egress_ip"], "127.0.0.61");

    env.ok(&["accounts", "remove", "--user", &user, &id], None);
    let gone = env.run(&["accounts", "show", "--user", &user, &id], None);
    assert_eq!(gone.status.code(), Some(4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_that_fails_exits_5_with_the_reason() {
    let env = Env::new(StoreKind::File);
    let user = UserId::new_random();
    // The client registered another address than its egress one.
    let sims = sims(&[("S1002", "127.0.0.99")], &[]).await;
    env.configure(
        &sims,
        &[("127.0.0.63", user)],
        &serde_json::json!({"intents": []}),
    );
    let id = add_account(&env, user, "angelone", &angel_secrets("S1002"));
    let user = user.to_string();
    env.ok(
        &["accounts", "egress", "assign", "--user", &user, &id],
        None,
    );
    let verified = env.run(
        &["accounts", "verify", "--user", &user, &id, "--json"],
        None,
    );
    assert_eq!(verified.status.code(), Some(5), "{verified:?}");
    let answer: serde_json::Value = serde_json::from_slice(&verified.stdout).unwrap();
    assert_eq!(answer["outcome"], "ip_not_whitelisted");
}

#[test]
fn malformed_or_incomplete_secrets_are_refused_without_echoing_them() {
    let env = Env::new(StoreKind::File);
    let user = UserId::new_random().to_string();
    let add = |input: &str| {
        env.run(
            &[
                "accounts",
                "add",
                "--user",
                &user,
                "--broker",
                "zerodha",
                "--secrets-stdin",
            ],
            Some(input),
        )
    };
    let missing = add("api_key=hunter2key\n");
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("\"api_secret\" is missing"),
        "{missing:?}"
    );
    assert!(!all_output(&missing).contains("hunter2key"));
    let unknown = add("api_key=k\napi_secret=s\npassword=hunter2pw\n");
    assert_eq!(unknown.status.code(), Some(2));
    assert!(!all_output(&unknown).contains("hunter2pw"));
    let garbled = add("hunter2 without equals sign\n");
    assert_eq!(garbled.status.code(), Some(2));
    assert!(!all_output(&garbled).contains("hunter2"));
    // A secret never goes in an argument: there is no such option.
    let argument = env.run(
        &[
            "accounts",
            "add",
            "--user",
            &user,
            "--broker",
            "zerodha",
            "--api-secret",
            "x",
        ],
        None,
    );
    assert_eq!(argument.status.code(), Some(2));
    // Without a terminal and without --secrets-stdin, the prompt cannot be shown.
    let no_tty = env.run(
        &["accounts", "add", "--user", &user, "--broker", "zerodha"],
        Some(""),
    );
    assert_eq!(no_tty.status.code(), Some(2), "{no_tty:?}");
    // Secrets from a file work like standard input.
    let file = env.dir.path().join("secrets");
    std::fs::write(&file, kite_secrets("kitefile")).unwrap();
    let added = env.run(
        &[
            "accounts",
            "add",
            "--user",
            &user,
            "--broker",
            "zerodha",
            "--secrets-file",
            file.to_str().unwrap(),
        ],
        None,
    );
    assert!(added.status.success(), "{added:?}");
    assert!(!all_output(&added).contains("kitefilesecret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_a_key_error_on_every_store() {
    for kind in stores() {
        let env = Env::new(kind);
        let user = UserId::new_random();
        let sims = sims(&[("S1003", "127.0.0.64")], &[]).await;
        env.configure(
            &sims,
            &[("127.0.0.64", user)],
            &serde_json::json!({"intents": []}),
        );
        let id = add_account(&env, user, "angelone", &angel_secrets("S1003"));
        let user = user.to_string();
        env.ok(
            &["accounts", "egress", "assign", "--user", &user, &id],
            None,
        );

        // Same key id, other key material: the envelopes do not open.
        let right = std::fs::read(&env.keys).unwrap();
        std::fs::remove_file(&env.keys).unwrap();
        env.ok(&["keys", "generate", "--id", "k1"], None);
        let verified = env.run(&["accounts", "verify", "--user", &user, &id], None);
        assert_eq!(verified.status.code(), Some(3), "{verified:?}");
        assert!(
            stderr(&verified).contains("could not be decrypted"),
            "{verified:?}"
        );

        // A ring without the key the rows need is refused when the store opens.
        std::fs::remove_file(&env.keys).unwrap();
        env.ok(&["keys", "generate", "--id", "k9"], None);
        let listed = env.run(&["accounts", "list", "--user", &user], None);
        assert_eq!(listed.status.code(), Some(3), "{listed:?}");
        assert!(stderr(&listed).contains("k1"), "{listed:?}");

        std::fs::remove_file(&env.keys).unwrap();
        write_private(&env.keys, &right);
        env.ok(&["accounts", "show", "--user", &user, &id], None);
    }
}

fn write_private(path: &std::path::Path, bytes: &[u8]) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .unwrap();
    file.write_all(bytes).unwrap();
}
