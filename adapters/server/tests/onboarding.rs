//! The app on port 0 against both simulators, over the file store and a fresh Postgres schema:
//! tenant isolation on every endpoint, JWT refusals over HTTP, both brokers onboarded end to
//! end, the Kite callback's state checks, postbacks and runs; and no secret in any response
//! body (checked on every call) or log line (a capture of the whole binary's logs).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod common;

use std::time::Duration;

use broker_core::{BrokerKind, Exchange, Instrument, InstrumentIndex, InstrumentKind};
use common::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use vault::UserId;

async fn every_endpoint_refuses_another_tenants_account(backing: Backing) {
    let Some(app) = App::start(backing).await else {
        return;
    };
    let (alice, bob) = (token(UserId::new_random()), token(UserId::new_random()));
    let (status, created) = app
        .call(
            "POST",
            "/v1/accounts?verify=false",
            Some(&alice),
            Some(kite_body()),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["account"]["status"], "pending");
    let id = created["account"]["id"].as_str().unwrap().to_owned();
    let account = format!("/v1/accounts/{id}");
    for (method, path, body) in [
        ("GET", account.clone(), None),
        (
            "PATCH",
            account.clone(),
            Some(json!({"auto_execute": true})),
        ),
        ("DELETE", account.clone(), None),
        ("POST", format!("{account}/verify"), None),
        ("POST", format!("{account}/login-url"), None),
        ("GET", format!("/v1/runs/{}", uuid::Uuid::new_v4()), None),
    ] {
        let (status, answer) = app.call(method, &path, Some(&bob), body).await;
        assert_eq!(status, 404, "{method} {path}: {answer}");
    }
    let (_, listed) = app.call("GET", "/v1/accounts", Some(&bob), None).await;
    assert_eq!(listed, json!([]));
    let (_, runs) = app.call("GET", "/v1/runs", Some(&bob), None).await;
    assert_eq!(runs, json!([]));
    let (status, mine) = app.call("GET", &account, Some(&alice), None).await;
    assert_eq!(status, 200);
    assert_eq!(mine["auto_execute"], false, "bob's PATCH changed nothing");
    let (status, _) = app
        .call(
            "POST",
            "/v1/sandbox/whitelist",
            Some(&alice),
            Some(json!({"account_id": id})),
        )
        .await;
    assert_eq!(status, 404, "not a sandbox");
    assert_no_secret_logged(&[]);
    app.finish().await;
}

async fn angel_one_and_zerodha_tenants_onboard_end_to_end(backing: Backing) {
    let Some(app) = App::start(backing).await else {
        return;
    };
    // Angel One: refused from an unregistered IP, connected once it is registered.
    let alice = token(UserId::new_random());
    let (status, egress) = app.call("GET", "/v1/egress-ip", Some(&alice), None).await;
    assert_eq!(status, 200);
    let ip = egress["ip"].as_str().unwrap().to_owned();
    assert!(
        egress["instructions"]["angel_one"]
            .as_str()
            .unwrap()
            .contains(&ip)
    );
    let (status, refused) = app
        .call("POST", "/v1/accounts", Some(&alice), Some(angel_body()))
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "ip_not_whitelisted");
    assert_eq!(refused["verification"]["outcome"], "ip_not_whitelisted");
    assert_eq!(refused["verification"]["ip"], ip.as_str());
    assert_eq!(refused["account"]["status"], "ip_not_whitelisted");
    assert_eq!(refused["account"]["egress_ip"], ip.as_str());
    assert_eq!(refused["account"]["client_code"], "S**88");
    let id = refused["account"]["id"].as_str().unwrap().to_owned();
    assert!(
        app.sims
            .angel
            .register_ip(ANGEL_CLIENT, ip.parse().unwrap())
    );
    let (status, verified) = app
        .call(
            "POST",
            &format!("/v1/accounts/{id}/verify"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(status, 200, "{verified}");
    assert_eq!(verified["verification"]["outcome"], "connected");
    assert_eq!(verified["account"]["status"], "active");

    // Zerodha: the login URL, the holder's login, brokerd's callback, connected.
    let bob = token(UserId::new_random());
    let (status, created) = app
        .call("POST", "/v1/accounts", Some(&bob), Some(kite_body()))
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["verification"]["outcome"], "needs_login");
    assert_eq!(created["account"]["status"], "needs_login");
    let kite_id = created["account"]["id"].as_str().unwrap().to_owned();
    let kite_ip = created["account"]["egress_ip"].as_str().unwrap();
    assert_ne!(kite_ip, ip, "another user, another address");
    assert!(
        app.sims
            .kite
            .allow_ip(KITE_API_KEY, kite_ip.parse().unwrap())
    );
    let query = kite_redirect(&app, created["login_url"].as_str().unwrap()).await;
    let location = callback(&app, &query).await;
    assert_eq!(location, format!("/?kite=connected&account={kite_id}"));
    let (_, account) = app
        .call("GET", &format!("/v1/accounts/{kite_id}"), Some(&bob), None)
        .await;
    assert_eq!(account["status"], "active");
    let request_token = url::form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == "request_token")
        .unwrap()
        .1
        .into_owned();
    assert_no_secret_logged(&[&request_token]);
    app.finish().await;
}

both_backings!(
    every_endpoint_refuses_another_tenants_account,
    angel_one_and_zerodha_tenants_onboard_end_to_end,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kite_callback_refuses_missing_forged_expired_and_replayed_states() {
    let app = App::start_with(
        Backing::File,
        Box::new(|config| config.connector.kite_state_ttl_seconds = 2),
    )
    .await
    .unwrap();
    let bob = token(UserId::new_random());
    let (_, created) = app
        .call("POST", "/v1/accounts", Some(&bob), Some(kite_body()))
        .await;
    let id = created["account"]["id"].as_str().unwrap().to_owned();
    let kite_ip = created["account"]["egress_ip"].as_str().unwrap();
    app.sims
        .kite
        .allow_ip(KITE_API_KEY, kite_ip.parse().unwrap());
    let query = kite_redirect(&app, created["login_url"].as_str().unwrap()).await;

    let missing: String = url::form_urlencoded::parse(query.as_bytes())
        .filter(|(key, _)| key != "state")
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join("&");
    assert_eq!(
        callback(&app, &missing).await,
        "/?kite=failed&reason=bad_state"
    );
    let forged: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            url::form_urlencoded::parse(query.as_bytes()).map(|(key, value)| {
                let value = if key == "state" {
                    // Another account's id in a copied signature.
                    let mut parts: Vec<String> = value.split('.').map(str::to_owned).collect();
                    parts[1] = uuid::Uuid::new_v4().to_string();
                    parts.join(".")
                } else {
                    value.into_owned()
                };
                (key.into_owned(), value)
            }),
        )
        .finish();
    assert_eq!(
        callback(&app, &forged).await,
        "/?kite=failed&reason=bad_state"
    );
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(
        callback(&app, &query).await,
        "/?kite=failed&reason=expired_state"
    );

    let (status, fresh) = app
        .call(
            "POST",
            &format!("/v1/accounts/{id}/login-url"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let query = kite_redirect(&app, fresh["login_url"].as_str().unwrap()).await;
    assert_eq!(
        callback(&app, &query).await,
        format!("/?kite=connected&account={id}")
    );
    assert_eq!(
        callback(&app, &query).await,
        "/?kite=failed&reason=replayed_state"
    );
    assert_no_secret_logged(&[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwts_that_do_not_check_out_are_refused_over_http() {
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    let app = App::start_with(
        Backing::File,
        Box::new(|config| config.auth.audience = Some("authenticated".into())),
    )
    .await
    .unwrap();
    let now = chrono::Utc::now().timestamp();
    let user = UserId::new_random().to_string();
    let sign = |algorithm: Algorithm, secret: &str, claims: Value| {
        encode(
            &Header::new(algorithm),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    };
    let good = json!({"sub": user, "exp": now + 600, "aud": "authenticated"});
    let valid = sign(Algorithm::HS256, JWT_SECRET, good.clone());
    assert_eq!(
        app.call("GET", "/v1/accounts", Some(&valid), None).await.0,
        200
    );
    let none = {
        use base64::Engine;
        let encode = |value: Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
        };
        format!(
            "{}.{}.",
            encode(json!({"alg": "none", "typ": "JWT"})),
            encode(good.clone())
        )
    };
    for (case, token) in [
        (
            "expired",
            sign(
                Algorithm::HS256,
                JWT_SECRET,
                json!({"sub": user, "exp": now - 600, "aud": "authenticated"}),
            ),
        ),
        ("HS512", sign(Algorithm::HS512, JWT_SECRET, good.clone())),
        ("none", none),
        (
            "wrong secret",
            sign(
                Algorithm::HS256,
                "another-secret-of-sufficient-length-000",
                good.clone(),
            ),
        ),
        (
            "wrong audience",
            sign(
                Algorithm::HS256,
                JWT_SECRET,
                json!({"sub": user, "exp": now + 600, "aud": "anon"}),
            ),
        ),
        (
            "missing sub",
            sign(
                Algorithm::HS256,
                JWT_SECRET,
                json!({"exp": now + 600, "aud": "authenticated"}),
            ),
        ),
    ] {
        let (status, body) = app.call("GET", "/v1/accounts", Some(&token), None).await;
        assert_eq!(status, 401, "{case}: {body}");
        assert_eq!(body["error"]["code"], "unauthorized", "{case}");
    }
}

/// Kite's SBIN, which the Kite simulator trades.
fn kite_sbin() -> InstrumentIndex {
    [Instrument {
        exchange: Exchange::Nse,
        trading_symbol: "SBIN".into(),
        broker_token: "779521".into(),
        exchange_token: "3045".into(),
        name: "SBIN".into(),
        kind: InstrumentKind::Equity,
        lot_size: 1,
        tick_size: rust_decimal::Decimal::new(5, 2),
        expiry: None,
        strike: None,
    }]
    .into_iter()
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_show_only_the_callers_orders_and_postbacks_are_checked_and_recorded() {
    let intents = tempfile::tempdir().unwrap();
    let intents_file = intents.path().join("intents.json");
    let path = intents_file.clone();
    let today = (chrono::Utc::now() + chrono::Duration::minutes(330)).date_naive();
    let app = App::start_with(
        Backing::File,
        Box::new(move |config| {
            config.scheduler.intents_file = Some(path);
            config.scheduler.extra_sessions.push(today);
        }),
    )
    .await
    .unwrap();
    app.state
        .connector
        .instruments(BrokerKind::Zerodha)
        .replace(kite_sbin());
    let bob_id = UserId::new_random();
    let (bob, alice) = (token(bob_id), token(UserId::new_random()));
    let (_, created) = app
        .call("POST", "/v1/accounts", Some(&bob), Some(kite_body()))
        .await;
    let id = created["account"]["id"].as_str().unwrap().to_owned();
    let kite_ip = created["account"]["egress_ip"].as_str().unwrap();
    app.sims
        .kite
        .allow_ip(KITE_API_KEY, kite_ip.parse().unwrap());
    let query = kite_redirect(&app, created["login_url"].as_str().unwrap()).await;
    callback(&app, &query).await;
    let (status, _) = app
        .call(
            "PATCH",
            &format!("/v1/accounts/{id}"),
            Some(&bob),
            Some(json!({"auto_execute": true})),
        )
        .await;
    assert_eq!(status, 200);
    std::fs::write(
        &intents_file,
        json!({"intents": [{
            "id": "sbin-daily", "user_id": bob_id, "account_id": id, "slot": "15:10",
            "order": {"instrument": {"exchange": "NSE", "trading_symbol": "SBIN"}, "side": "buy",
                      "order_type": "limit", "product": "delivery", "quantity": 1, "price": "800"},
            "enabled": true
        }]})
        .to_string(),
    )
    .unwrap();
    let report = app
        .state
        .scheduler
        .run_on(today, broker_worker::Slot::DEFAULT)
        .await
        .unwrap()
        .unwrap();
    let placed = report.execution("sbin-daily").unwrap();
    assert_eq!(
        placed.state,
        broker_worker::ExecutionState::Placed,
        "{placed:?}"
    );
    let order_id = placed.order_id.clone().unwrap().as_str().to_owned();

    let (_, runs) = app.call("GET", "/v1/runs", Some(&bob), None).await;
    assert_eq!(runs.as_array().unwrap().len(), 1, "{runs}");
    assert_eq!(runs[0]["counts"]["placed"], 1);
    assert!(runs[0].get("executions").is_none(), "lists leave them out");
    let run_path = format!("/v1/runs/{}", runs[0]["id"].as_str().unwrap());
    let (status, run) = app.call("GET", &run_path, Some(&bob), None).await;
    assert_eq!(status, 200);
    let execution = &run["executions"][0];
    assert_eq!(execution["symbol"], "SBIN");
    assert_eq!(execution["side"], "buy");
    assert_eq!(execution["quantity"], 1);
    assert_eq!(execution["broker"], "zerodha");
    assert_eq!(execution["broker_order_id"], order_id.as_str());
    assert_eq!(app.call("GET", &run_path, Some(&alice), None).await.0, 404);
    assert_eq!(
        app.call("GET", "/v1/runs", Some(&alice), None).await.1,
        json!([])
    );

    // A postback for the order: refused with a wrong checksum, recorded with the right one.
    let mut postback: Value = serde_json::from_str(include_str!(
        "../../../broker-zerodha/test_data/postback.json"
    ))
    .unwrap();
    postback["order_id"] = Value::from(order_id.as_str());
    postback["status"] = Value::from("REJECTED");
    postback["status_message"] = Value::from("RMS: margin exceeded");
    let timestamp = postback["order_timestamp"].as_str().unwrap().to_owned();
    postback["checksum"] = Value::from(hex::encode(Sha256::digest(
        format!("{order_id}{timestamp}wrongSECRET").as_bytes(),
    )));
    let (status, body) = app
        .call("POST", "/v1/zerodha/postback", None, Some(postback.clone()))
        .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "bad_checksum");
    let (_, unchanged) = app.call("GET", &run_path, Some(&bob), None).await;
    assert_eq!(unchanged["executions"][0]["state"], "placed");
    postback["checksum"] = Value::from(hex::encode(Sha256::digest(
        format!("{order_id}{timestamp}{KITE_API_SECRET}").as_bytes(),
    )));
    let (status, body) = app
        .call("POST", "/v1/zerodha/postback", None, Some(postback))
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, changed) = app.call("GET", &run_path, Some(&bob), None).await;
    assert_eq!(changed["executions"][0]["state"], "rejected");
    assert_eq!(
        changed["executions"][0]["reason"],
        "rejected_after_acceptance"
    );
    let (status, _) = app
        .call(
            "POST",
            "/v1/zerodha/postback",
            None,
            Some(json!({"order_id": "999", "checksum": "00"})),
        )
        .await;
    assert_eq!(status, 404);
    assert_no_secret_logged(&[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_that_reach_a_broker_are_rate_limited_per_user() {
    let app = App::start_with(
        Backing::File,
        Box::new(|config| config.limits.verify_per_minute = 2),
    )
    .await
    .unwrap();
    let (alice, bob) = (token(UserId::new_random()), token(UserId::new_random()));
    for _ in 0..2 {
        let (status, _) = app
            .call(
                "POST",
                "/v1/accounts?verify=false",
                Some(&alice),
                Some(kite_body()),
            )
            .await;
        assert_eq!(status, 201);
    }
    let refused = app
        .http
        .post(format!("{}/v1/accounts?verify=false", app.base))
        .bearer_auth(&alice)
        .json(&kite_body())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let (status, _) = app
        .call(
            "POST",
            "/v1/accounts?verify=false",
            Some(&bob),
            Some(kite_body()),
        )
        .await;
    assert_eq!(status, 201, "bob has his own allowance");
}
