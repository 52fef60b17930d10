//! `brokerctl sim`: both simulators with demo accounts, reachable at the URLs it prints,
//! usable by the other commands, stopped cleanly by SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};

use common::*;
use vault::UserId;

#[test]
fn sim_serves_the_demo_accounts_until_stopped() {
    let env = Env::new(StoreKind::File);
    let mut sim = env
        .std_cmd()
        .arg("sim")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(sim.stdout.take().unwrap()).lines();
    let mut urls = BTreeMap::new();
    while urls.len() < 4 {
        let line = lines.next().expect("sim printed its URLs").unwrap();
        if let Some((name, value)) = line.split_once('=').filter(|_| !line.starts_with('#')) {
            urls.insert(name.to_owned(), value.to_owned());
        }
    }
    for name in ["SMARTAPI_SIM_URL", "KITE_SIM_URL", "KITE_SIM_LOGIN_URL"] {
        assert!(urls[name].starts_with("http://127.0.0.1:"), "{urls:?}");
    }

    // The demo Angel One account, added and verified through the printed URL.
    let user = UserId::new_random();
    std::fs::write(
        &env.config,
        format!(
            "[connector]\nallow_plain_http = true\n[connector.angelone]\napi_url = {:?}\n[connector.zerodha]\napi_url = {:?}\nlogin_url = {:?}\n[[connector.egress.addresses]]\nbind = \"127.0.0.1\"\nreserved_for = {{ user = \"{user}\" }}\n",
            urls["SMARTAPI_SIM_URL"], urls["KITE_SIM_URL"], urls["KITE_SIM_LOGIN_URL"]
        ),
    )
    .unwrap();
    let id = add_account(
        &env,
        user,
        "angelone",
        "api_key=SIMKEY1\nclient_code=S1234\nmpin=1234\ntotp_secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\n",
    );
    let user = user.to_string();
    env.ok(
        &["accounts", "egress", "assign", "--user", &user, &id],
        None,
    );
    let verified = env.json(&["accounts", "verify", "--user", &user, &id], None);
    assert_eq!(verified["outcome"], "connected");
    let kite = add_account(
        &env,
        UserId::new_random(),
        "zerodha",
        "api_key=simkey\napi_secret=simsecret\n",
    );
    assert!(!kite.is_empty());

    let terminated = std::process::Command::new("kill")
        .args(["-TERM", &sim.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    let status = sim.wait().unwrap();
    assert!(status.success(), "{status:?}");
}
