//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use broker_core::{HttpClientConfig, SessionTokens};
use broker_zerodha::KiteHttpClient;
use chrono::{Duration, Utc};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const API_KEY: &str = "fixturekey";
pub const ACCESS_TOKEN: &str = "fixturetoken";
pub const API_SECRET: &str = "fixtureSECRET";
pub const AUTHORIZATION: &str = "token fixturekey:fixturetoken";

/// A file from `test_data/`.
pub fn fixture(name: &str) -> String {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "test_data", name]
        .iter()
        .collect();
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// A JSON answer with a fixture as its body.
pub fn json_fixture(status: u16, name: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(fixture(name), "application/json")
}

/// A mock server whose catch-all (mounted with the lowest priority) answers every request no
/// other mock matched with a 599 naming it, so the client under test fails loudly.
pub async fn strict_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(|request: &wiremock::Request| {
            ResponseTemplate::new(599).set_body_string(format!(
                "no mock matched {} {}",
                request.method, request.url
            ))
        })
        .with_priority(u8::MAX)
        .mount(&server)
        .await;
    server
}

/// A client for the mock server, logged in with [`ACCESS_TOKEN`], without rate limits.
pub fn logged_in_client(server: &MockServer) -> KiteHttpClient {
    logged_in_client_with(server, HttpClientConfig::default())
}

/// [`logged_in_client`] built with this HTTP configuration (egress binding, timeouts).
pub fn logged_in_client_with(server: &MockServer, config: HttpClientConfig) -> KiteHttpClient {
    let client = KiteHttpClient::builder(API_KEY)
        .base_url(server.uri())
        .http_config(config)
        .without_rate_limits()
        .build()
        .unwrap();
    let tokens = SessionTokens::new(ACCESS_TOKEN.into(), Utc::now() + Duration::hours(6)).unwrap();
    client.set_session(&tokens).unwrap();
    client
}
