//! `brokerctl zerodha`, `orders`, `preflight` and `run` end to end on both simulators and
//! every store: the Kite login, orders placed, listed and cancelled, a policy refusal, a broker
//! rejection, dry runs on the paper broker, and a slot run exactly once and read back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::json;
use vault::UserId;

/// A trading day of the shipped calendar.
const TRADING_DAY: &str = "2026-12-01";

fn limit_buy(symbol: &str, price: &str) -> serde_json::Value {
    json!({
        "instrument": {"exchange": "NSE", "trading_symbol": symbol},
        "side": "buy", "order_type": "limit", "product": "delivery", "quantity": 1, "price": price
    })
}

fn market_buy(symbol: &str) -> serde_json::Value {
    json!({
        "instrument": {"exchange": "NSE", "trading_symbol": symbol},
        "side": "buy", "order_type": "market", "product": "delivery", "quantity": 1
    })
}

/// The redirect Kite's login page sends the browser to, as the holder would paste it.
async fn browser_redirect(login_url: &str) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = client.get(login_url).send().await.unwrap();
    answer
        .headers()
        .get(reqwest::header::LOCATION)
        .expect("the login page redirects")
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_and_runs_on_every_store() {
    for kind in stores() {
        orders_and_runs(kind).await;
    }
}

async fn orders_and_runs(kind: StoreKind) {
    let env = Env::new(kind);
    let (angel_user, kite_user) = (UserId::new_random(), UserId::new_random());
    let sims = sims(
        &[("S2001", "127.0.0.71")],
        &[("kiteone", "ZK0001", "127.0.0.72")],
    )
    .await;
    let env_intents = |angel: &str, kite: &str| {
        json!({"intents": [
            {"id": "angel-buy", "user_id": angel_user, "account_id": angel, "slot": "15:10",
             "order": limit_buy("SBIN-EQ", "790")},
            {"id": "angel-market", "user_id": angel_user, "account_id": angel, "slot": "15:10",
             "order": market_buy("SBIN-EQ")},
            {"id": "kite-buy", "user_id": kite_user, "account_id": kite, "slot": "15:10",
             "order": limit_buy("SBIN", "800")},
        ]})
    };
    let egress = [("127.0.0.71", angel_user), ("127.0.0.72", kite_user)];
    env.configure(&sims, &egress, &json!({"intents": []}));
    let angel = add_account(&env, angel_user, "angelone", &angel_secrets("S2001"));
    let kite = add_account(&env, kite_user, "zerodha", &kite_secrets("kiteone"));
    env.configure(&sims, &egress, &env_intents(&angel, &kite));
    let (au, ku) = (angel_user.to_string(), kite_user.to_string());
    for (user, account) in [(&au, &angel), (&ku, &kite)] {
        env.ok(
            &["accounts", "egress", "assign", "--user", user, account],
            None,
        );
        env.ok(
            &["accounts", "auto-execute", "--user", user, account, "on"],
            None,
        );
    }

    // The Kite login: the URL, the holder's browser, the redirect pasted on standard input.
    let login = env.json(&["zerodha", "login-url", "--user", &ku, &kite], None);
    let login_url = login["login_url"].as_str().unwrap().to_owned();
    assert!(
        login_url.starts_with(&sims.kite.login_page()),
        "{login_url}"
    );
    let redirect = browser_redirect(&login_url).await;
    let completed = env.run(
        &[
            "zerodha",
            "complete",
            "--account",
            &kite,
            "--secrets-stdin",
            "--json",
        ],
        Some(&format!("redirect_url={redirect}\n")),
    );
    assert!(completed.status.success(), "{completed:?}");
    let verification: serde_json::Value = serde_json::from_slice(&completed.stdout).unwrap();
    assert_eq!(verification["outcome"], "connected");
    let token = url::Url::parse(&redirect)
        .unwrap()
        .query_pairs()
        .find(|(name, _)| name == "request_token")
        .unwrap()
        .1
        .into_owned();
    assert!(
        !all_output(&completed).contains(&token),
        "the request token was printed"
    );
    let replayed = env.run(
        &["zerodha", "complete", "--secrets-stdin"],
        Some(&format!("redirect_url={redirect}\n")),
    );
    assert_eq!(replayed.status.code(), Some(5), "{replayed:?}");
    assert!(stderr(&replayed).contains("used already"), "{replayed:?}");
    let not_kite = env.run(&["zerodha", "login-url", "--user", &au, &angel], None);
    assert_eq!(not_kite.status.code(), Some(2), "{not_kite:?}");

    // Orders: placed, listed, cancelled.
    let order = limit_buy("SBIN-EQ", "790").to_string();
    let placed = env.json(
        &["orders", "place", "--user", &au, &angel, "--order", &order],
        None,
    );
    let order_id = placed["order_id"].as_str().unwrap().to_owned();
    assert_eq!(sims.angel.accepted_orders().len(), 1);
    let book = env.json(&["orders", "list", "--user", &au, &angel], None);
    assert!(
        book.as_array()
            .unwrap()
            .iter()
            .any(|o| o["order_id"] == order_id.as_str())
    );
    let table = env.ok(&["orders", "list", "--user", &au, &angel], None);
    assert!(
        table.contains(&order_id) && table.contains("NSE:SBIN-EQ"),
        "{table}"
    );
    let could = env.json(
        &[
            "orders",
            "cancel",
            "--user",
            &au,
            &angel,
            &order_id,
            "--dry-run",
        ],
        None,
    );
    assert_eq!(could["cancellable"], true);
    env.ok(
        &["orders", "cancel", "--user", &au, &angel, &order_id],
        None,
    );

    // A policy refusal never reaches the broker; a broker rejection is reported as such.
    let market = market_buy("SBIN-EQ").to_string();
    let refused = env.run(
        &["orders", "place", "--user", &au, &angel, "--order", &market],
        None,
    );
    assert_eq!(refused.status.code(), Some(5), "{refused:?}");
    assert_eq!(sims.angel.accepted_orders().len(), 1);
    let unknown = limit_buy("NOSUCHSCRIP-EQ", "10").to_string();
    let refused = env.run(
        &[
            "orders", "place", "--user", &au, &angel, "--order", &unknown,
        ],
        None,
    );
    assert_eq!(refused.status.code(), Some(5), "{refused:?}");
    let tcs = limit_buy("TCS", "3000").to_string();
    let rejected = env.run(
        &["orders", "place", "--user", &ku, &kite, "--order", &tcs],
        None,
    );
    assert_eq!(rejected.status.code(), Some(5), "{rejected:?}");
    assert!(stderr(&rejected).contains("rejected"), "{rejected:?}");

    // Dry runs place on paper only, under the broker's policy.
    let dry = env.json(
        &[
            "orders",
            "place",
            "--user",
            &au,
            &angel,
            "--order",
            &order,
            "--dry-run",
        ],
        None,
    );
    assert_eq!(dry["dry_run"], true);
    assert_eq!(sims.angel.accepted_orders().len(), 1);
    let no_price = env.run(
        &[
            "orders",
            "place",
            "--user",
            &au,
            &angel,
            "--order",
            &market,
            "--dry-run",
        ],
        None,
    );
    assert_eq!(no_price.status.code(), Some(2), "{no_price:?}");
    let dry_refused = env.run(
        &[
            "orders",
            "place",
            "--user",
            &au,
            &angel,
            "--order",
            &market,
            "--dry-run",
            "--last-price",
            "800",
        ],
        None,
    );
    assert_eq!(dry_refused.status.code(), Some(5), "{dry_refused:?}");
    let bad_json = env.run(
        &["orders", "place", "--user", &au, &angel, "--order", "{"],
        None,
    );
    assert_eq!(bad_json.status.code(), Some(2));
    let theirs = env.run(&["orders", "list", "--user", &ku, &angel], None);
    assert_eq!(theirs.status.code(), Some(4));
    assert_eq!(
        stderr(&theirs),
        format!("brokerctl: no such account: {angel}\n")
    );

    // Pre-flight, then the run, exactly once, read back from the journal.
    let preflight = env.json(
        &["preflight", "--date", TRADING_DAY, "--slot", "15:10"],
        None,
    );
    let ready = preflight["ready"].as_array().unwrap();
    assert!(
        ready.contains(&json!(angel)) && ready.contains(&json!(kite)),
        "{preflight}"
    );
    let text = env.ok(
        &["preflight", "--date", TRADING_DAY, "--slot", "15:10"],
        None,
    );
    assert!(text.contains("ready"), "{text}");

    let report = env.json(
        &["run", "now", "--date", TRADING_DAY, "--slot", "15:10"],
        None,
    );
    let state = |intent: &str| {
        report["executions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["intent_id"] == intent)
            .unwrap()["state"]
            .clone()
    };
    assert_eq!(state("angel-buy"), "placed");
    assert_eq!(state("angel-market"), "refused");
    assert_eq!(state("kite-buy"), "placed");
    let run_id = report["run"]["id"].as_str().unwrap().to_owned();
    let at_brokers = sims.angel.accepted_orders().len() + sims.kite.accepted_orders().len();
    env.ok(
        &["run", "now", "--date", TRADING_DAY, "--slot", "15:10"],
        None,
    );
    assert_eq!(
        sims.angel.accepted_orders().len() + sims.kite.accepted_orders().len(),
        at_brokers,
        "a rerun placed again"
    );

    let runs = env.json(&["run", "status"], None);
    assert_eq!(runs.as_array().unwrap().len(), 1, "{runs}");
    assert_eq!(runs[0]["run"]["id"], run_id.as_str());
    assert_eq!(runs[0]["outcomes"]["placed"], 2);
    assert_eq!(runs[0]["outcomes"]["refused"], 1);
    let shown = env.ok(&["run", "show", &run_id], None);
    for needle in [
        "ACCOUNT",
        "angel-buy",
        "angel-market",
        "kite-buy",
        "order_type_refused",
        &angel,
        &kite,
    ] {
        assert!(shown.contains(needle), "{needle} missing from\n{shown}");
    }
    let missing = env.run(&["run", "show", &uuid::Uuid::new_v4().to_string()], None);
    assert_eq!(missing.status.code(), Some(4));
    let closed = env.json(
        &["run", "now", "--date", "2026-12-25", "--slot", "15:10"],
        None,
    );
    assert_eq!(closed["trading_day"], false);
}
