//! The app on port 0 with the file store: tenant scoping, field errors, OpenAPI.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::time::Duration;

use brokerd::auth::issue_token;
use secrecy::SecretString;
use serde_json::{Value, json};
use vault::{KeyMaterial, UserId};

const SECRET: &str = "test-jwt-secret-of-sufficient-length-0000";

async fn spawn() -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    std::fs::write(
        &keys,
        format!(
            "kid0:{}",
            secrecy::ExposeSecret::expose_secret(&KeyMaterial::generate().to_base64())
        ),
    )
    .unwrap();
    std::fs::set_permissions(&keys, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let mut config = brokerd::Config {
        data_dir: dir.path().join("data"),
        keys_file: Some(keys),
        ..Default::default()
    };
    config.auth.jwt_secret = Some(SecretString::from(SECRET));
    config.kite_state_key = Some(SecretString::from("ab".repeat(32)));
    let state = brokerd::state_from_config(&config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(brokerd::serve(
        listener,
        state,
        16 * 1024,
        std::future::pending(),
    ));
    (base, dir)
}

fn token(user: UserId) -> String {
    issue_token(
        &SecretString::from(SECRET),
        user,
        Duration::from_secs(600),
        None,
    )
    .unwrap()
}

#[tokio::test]
async fn another_users_account_answers_404_everywhere_and_secrets_never_come_back() {
    let (base, _dir) = spawn().await;
    let client = reqwest::Client::new();
    let (alice, bob) = (token(UserId::new_random()), token(UserId::new_random()));
    let created = client
        .post(format!("{base}/v1/accounts?verify=false"))
        .bearer_auth(&alice)
        .json(
            &json!({"broker": "angel_one", "api_key": "smartKEYzq81", "client_code": "A123",
                      "mpin": "4831", "totp_secret": "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let text = created.text().await.unwrap();
    assert!(!text.contains("smartKEYzq81") && !text.contains("4831") && !text.contains("GEZDG"));
    let id = serde_json::from_str::<Value>(&text).unwrap()["account"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = format!("{base}/v1/accounts/{id}");
    assert_eq!(
        client
            .get(&url)
            .bearer_auth(&bob)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let patch = json!({"auto_execute": true});
    assert_eq!(
        client
            .patch(&url)
            .bearer_auth(&bob)
            .json(&patch)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        client
            .delete(&url)
            .bearer_auth(&bob)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let bobs: Value = client
        .get(format!("{base}/v1/accounts"))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(bobs, json!([]));
    let bad = client
        .patch(&url)
        .bearer_auth(&alice)
        .json(&json!({"auto_exec": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let bad: Value = bad.json().await.unwrap();
    assert_eq!(bad["error"]["field"], "auto_exec");
    let patched: Value = client
        .patch(&url)
        .bearer_auth(&alice)
        .json(&patch)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(patched["auto_execute"], true);
    assert_eq!(
        client
            .delete(&url)
            .bearer_auth(&alice)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        client
            .get(&url)
            .bearer_auth(&alice)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        client
            .get(format!("{base}/v1/accounts"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

#[tokio::test]
async fn every_documented_route_is_served() {
    let (base, _dir) = spawn().await;
    let document: Value = reqwest::get(format!("{base}/v1/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = document["paths"].as_object().unwrap();
    for expected in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/v1/openapi.json",
        "/v1/accounts",
        "/v1/accounts/{id}",
        "/v1/accounts/{id}/verify",
        "/v1/accounts/{id}/login-url",
        "/v1/egress-ip",
        "/v1/zerodha/callback",
        "/v1/zerodha/postback",
        "/v1/runs",
        "/v1/runs/{id}",
        "/v1/meta",
        "/v1/sandbox/token",
        "/v1/sandbox/run",
        "/v1/sandbox/whitelist",
    ] {
        assert!(
            paths.contains_key(expected),
            "{expected} missing from the document"
        );
    }
    // Not following redirects: the Kite callback sends the browser to the page.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (path, operations) in paths {
        for method in operations.as_object().unwrap().keys() {
            let url = format!(
                "{base}{}",
                path.replace("{id}", &uuid::Uuid::new_v4().to_string())
            );
            let response = client
                .request(method.to_uppercase().parse().unwrap(), url)
                .send()
                .await
                .unwrap();
            assert_ne!(response.status(), 405, "{method} {path}");
            let body = response.text().await.unwrap();
            assert!(
                !body.contains("no_route"),
                "{method} {path} is documented but not routed"
            );
        }
    }
}
