//! Shared fixtures: the app on port 0 over the file store or a fresh Postgres schema, both
//! simulators, tokens, and a log capture that every test checks for secrets.
#![allow(dead_code)] // each test binary uses its own subset
#![allow(clippy::unwrap_used, clippy::expect_used)] // fixtures: fail loudly

use std::io::Write;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use brokerd::AppState;
use brokerd::auth::issue_token;
use secrecy::SecretString;
use sqlx::Executor;
use vault::{KeyMaterial, UserId};

pub const JWT_SECRET: &str = "test-jwt-secret-of-sufficient-length-0000";
pub const ANGEL_API_KEY: &str = "angelKEYq7f3a9zz";
pub const ANGEL_CLIENT: &str = "S7788";
/// Eight digits, so it cannot turn up by chance in ids and timestamps.
pub const ANGEL_MPIN: &str = "48317265";
pub const ANGEL_TOTP: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
pub const KITE_API_KEY: &str = "kiteKEYx81mq";
pub const KITE_API_SECRET: &str = "kiteSECRETp39vk2";
pub const KITE_USER: &str = "ZX4242";

/// Every secret the suite uses: none may appear in a response body or a log line.
pub const SECRETS: [&str; 6] = [
    JWT_SECRET,
    ANGEL_API_KEY,
    ANGEL_MPIN,
    ANGEL_TOTP,
    KITE_API_KEY,
    KITE_API_SECRET,
];

/// Where the store lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backing {
    File,
    Postgres,
}

/// Captures every log line of the test binary (installed once).
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl Write for LogCapture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn logs() -> &'static LogCapture {
    static CAPTURE: OnceLock<LogCapture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = LogCapture::default();
        let writer = capture.clone();
        tracing_subscriber::fmt()
            .with_env_filter("debug")
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .init();
        capture
    })
}

/// Fails when a secret (or a request token) is in any log line captured so far.
pub fn assert_no_secret_logged(extra: &[&str]) {
    let text = String::from_utf8_lossy(&logs().0.lock().unwrap()).into_owned();
    assert!(!text.is_empty(), "the capture sees the logs");
    for secret in SECRETS.iter().chain(extra) {
        assert!(!text.contains(secret), "a log line holds {secret:?}");
    }
}

/// Fails when a response body holds a secret. The Kite API key is left out: Kite puts it in
/// every login URL (it identifies the app publicly; the API secret is what must stay hidden).
pub fn assert_no_secret(body: &str) {
    for secret in SECRETS.iter().filter(|secret| **secret != KITE_API_KEY) {
        assert!(
            !body.contains(secret),
            "a response holds {secret:?}: {body}"
        );
    }
}

/// `DATABASE_URL`, or `None` with the reason printed; with `CI=true` a missing URL fails.
pub fn database_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
            panic!("DATABASE_URL must be set when CI=true: the Postgres cases may not be skipped")
        }
        Err(_) => {
            eprintln!("skipping a Postgres case: DATABASE_URL is not set");
            None
        }
    }
}

/// The two simulators, the Kite one sending its holder back to `base`'s callback.
pub struct Sims {
    pub angel: broker_angelone::sim::Simulator,
    pub kite: broker_zerodha::sim::Simulator,
}

impl Sims {
    pub async fn start(base: &str) -> Self {
        let angel_account = broker_angelone::sim::SimAccount::new(
            ANGEL_API_KEY,
            ANGEL_CLIENT,
            ANGEL_MPIN,
            ANGEL_TOTP,
        );
        let angel = broker_angelone::sim::Simulator::start(
            broker_angelone::sim::SimConfig::new([angel_account]).without_quotas(),
        )
        .await
        .unwrap();
        let mut kite_account =
            broker_zerodha::sim::SimAccount::new(KITE_API_KEY, KITE_API_SECRET, KITE_USER)
                .with_allowed_ips([]);
        kite_account.redirect_url = format!("{base}/v1/zerodha/callback");
        let kite = broker_zerodha::sim::Simulator::start(
            broker_zerodha::sim::SimConfig {
                accounts: vec![kite_account],
                ..broker_zerodha::sim::SimConfig::default()
            }
            .without_quotas(),
        )
        .await
        .unwrap();
        Self { angel, kite }
    }
}

/// A running app.
pub struct App {
    pub base: String,
    pub state: AppState,
    pub sims: Sims,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
    schema: Option<(String, String)>,
}

/// What a test may change before the app starts.
pub type Tweak = Box<dyn FnOnce(&mut brokerd::Config)>;

impl App {
    /// The app on port 0 over `backing` (`None`: Postgres asked for without DATABASE_URL).
    pub async fn start(backing: Backing) -> Option<Self> {
        Self::start_with(backing, Box::new(|_| {})).await
    }

    pub async fn start_with(backing: Backing, tweak: Tweak) -> Option<Self> {
        logs();
        let schema = match backing {
            Backing::File => None,
            Backing::Postgres => Some((
                database_url()?,
                format!("brokerd_test_{}", uuid::Uuid::new_v4().simple()),
            )),
        };
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
        std::fs::set_permissions(&keys, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let sims = Sims::start(&base).await;
        let mut config = brokerd::Config {
            data_dir: dir.path().join("data"),
            keys_file: Some(keys),
            public_url: base.clone(),
            ..Default::default()
        };
        config.auth.jwt_secret = Some(SecretString::from(JWT_SECRET));
        config.kite_state_key = Some(SecretString::from("ab".repeat(32)));
        if let Some((url, schema)) = &schema {
            config.database_url = Some(SecretString::from(url.clone()));
            config.database_schema = Some(schema.clone());
        }
        let connector = &mut config.connector;
        connector.allow_plain_http = true;
        connector.angelone.api_url = Some(sims.angel.url());
        connector.zerodha.api_url = Some(sims.kite.url());
        connector.zerodha.login_url = Some(sims.kite.login_page());
        connector.egress.addresses = (40..48)
            .map(|last| broker_connect::EgressAddressSettings::new(IpAddr::from([127, 0, 0, last])))
            .collect();
        tweak(&mut config);
        let state = brokerd::state_from_config(&config).await.unwrap();
        tokio::spawn(brokerd::serve(
            listener,
            state.clone(),
            16 * 1024,
            std::future::pending(),
        ));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Some(Self {
            base,
            state,
            sims,
            http,
            _dir: dir,
            schema,
        })
    }

    /// Sends a request and returns (status, body), checking the body holds no secret.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut request = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_no_secret(&text);
        let value = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        (status, value)
    }

    /// Drops the Postgres schema.
    pub async fn finish(self) {
        if let Some((url, schema)) = &self.schema {
            let admin = sqlx::PgPool::connect(url).await.unwrap();
            admin
                .execute(format!("DROP SCHEMA {schema} CASCADE").as_str())
                .await
                .unwrap();
        }
    }
}

pub fn token(user: UserId) -> String {
    issue_token(
        &SecretString::from(JWT_SECRET),
        user,
        Duration::from_secs(600),
        None,
    )
    .unwrap()
}

pub fn angel_body() -> serde_json::Value {
    serde_json::json!({"broker": "angel_one", "api_key": ANGEL_API_KEY, "client_code": ANGEL_CLIENT,
        "mpin": ANGEL_MPIN, "totp_secret": ANGEL_TOTP})
}

pub fn kite_body() -> serde_json::Value {
    serde_json::json!({"broker": "zerodha", "api_key": KITE_API_KEY, "api_secret": KITE_API_SECRET})
}

/// The browser at the Kite login page: the query of the redirect to brokerd's callback.
pub async fn kite_redirect(app: &App, login_url: &str) -> String {
    let answer = app.http.get(login_url).send().await.unwrap();
    let location = answer
        .headers()
        .get(reqwest::header::LOCATION)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let url = url::Url::parse(&location).unwrap();
    assert_eq!(url.path(), "/v1/zerodha/callback", "{location}");
    url.query().unwrap().to_owned()
}

/// Calls brokerd's callback with `query` and returns where it sends the browser.
pub async fn callback(app: &App, query: &str) -> String {
    let answer = app
        .http
        .get(format!("{}/v1/zerodha/callback?{query}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 303);
    answer
        .headers()
        .get(reqwest::header::LOCATION)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

/// One async test per backing: `file` and `postgres`, each calling `case(Backing)`.
#[macro_export]
macro_rules! both_backings {
    ($($case:ident),* $(,)?) => {
        mod file {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::common::Backing::File).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::common::Backing::Postgres).await;
                }
            )*
        }
    };
}
