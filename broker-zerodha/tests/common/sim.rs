//! Helpers for the tests against the simulator: a broker logged in through the simulator's
//! login page, paced like in production unless told otherwise, and SDK-like raw requests.

use std::sync::Arc;

use broker_core::{
    BrokerSession, ConnectOptions, Exchange, HttpClientConfig, InstrumentRef, OrderRequest,
    OrderType, PreTradePolicy, Product, RateLimiter, SharedInstruments, Side, TlsConfig,
    ZerodhaCredentials,
};
use broker_zerodha::Zerodha;
use broker_zerodha::sim::{SimAccount, Simulator, browser_login};
use rust_decimal_macros::dec;
use secrecy::ExposeSecret;

/// How a test's broker is built: paced by Kite's quotas like in production (the simulator
/// enforces them), unless `unpaced`.
#[derive(Default)]
pub struct Setup {
    pub config: HttpClientConfig,
    pub unpaced: bool,
    pub recorded: Option<super::Recorded>,
}

pub fn credentials(account: &SimAccount) -> ZerodhaCredentials {
    ZerodhaCredentials::new(account.api_key.clone(), account.api_secret.clone())
        .unwrap()
        .with_user_id(account.user_id.clone())
        .unwrap()
}

pub fn connect(
    simulator: &Simulator,
    account: &SimAccount,
    setup: Setup,
) -> (Zerodha, reqwest::Client) {
    let mut config = setup.config;
    if let Some(pem) = simulator.certificate_pem() {
        config.tls = TlsConfig::with_extra_roots(pem.as_bytes()).unwrap();
    } else {
        config = config.allow_plain_http();
    }
    let http = config.build().unwrap();
    let browser = http.client().clone();
    let mut options = ConnectOptions::new(http)
        .with_api_url(simulator.url())
        .with_login_url(simulator.login_page())
        .with_instruments(SharedInstruments::default());
    if setup.unpaced {
        options = options
            .with_rate_limiter(Arc::new(RateLimiter::new(Vec::new())))
            .with_policy(PreTradePolicy {
                max_orders_per_second: 0,
                ..PreTradePolicy::for_broker(broker_core::BrokerKind::Zerodha)
            });
    }
    if let Some(recorded) = &setup.recorded {
        options = options.with_session_listener(recorded.listener());
    }
    let broker = Zerodha::connect(&credentials(account), None, &options).unwrap();
    (broker, browser)
}

pub async fn logged_in_with(simulator: &Simulator, account: &SimAccount, setup: Setup) -> Zerodha {
    let (broker, browser) = connect(simulator, account, setup);
    let redirect = browser_login(&browser, broker.login_url(&[("state", "s1")]))
        .await
        .unwrap();
    broker
        .complete_login(redirect.request_token())
        .await
        .unwrap();
    broker.refresh_instruments().await.unwrap();
    broker
}

pub async fn logged_in(simulator: &Simulator) -> Zerodha {
    logged_in_with(simulator, &SimAccount::demo(), Setup::default()).await
}

pub fn limit_buy(tag: &str) -> OrderRequest {
    OrderRequest::builder()
        .instrument(InstrumentRef::new(Exchange::Nse, "SBIN"))
        .side(Side::Buy)
        .order_type(OrderType::Limit)
        .product(Product::Delivery)
        .quantity(2)
        .price(dec!(790))
        .tag(tag)
        .build()
        .unwrap()
}

/// What an SDK holds after logging in: an HTTP client that reaches the simulator, its URL and
/// the session's `Authorization` header.
pub struct RawKite {
    pub http: reqwest::Client,
    pub url: String,
    pub authorization: String,
}

impl RawKite {
    /// Logs `account` in and keeps what an SDK keeps.
    pub async fn logged_in(simulator: &Simulator, account: &SimAccount) -> Self {
        let broker = logged_in_with(
            simulator,
            account,
            Setup {
                unpaced: true,
                ..Setup::default()
            },
        )
        .await;
        let tokens = broker.session_tokens().await.unwrap();
        let mut http = reqwest::Client::builder();
        if let Some(pem) = simulator.certificate_pem() {
            http =
                http.add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap());
        }
        Self {
            http: http.build().unwrap(),
            url: simulator.url(),
            authorization: format!(
                "token {}:{}",
                account.api_key.expose_secret(),
                tokens.access_token().expose_secret()
            ),
        }
    }

    /// Sends `method path` with a form body (POST and PUT) as the SDK does, and returns the
    /// HTTP status, the content type and the JSON body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        form: &[(&str, &str)],
    ) -> (u16, String, serde_json::Value) {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.url))
            .header("X-Kite-Version", "3")
            .header("Authorization", &self.authorization);
        if method == reqwest::Method::POST || method == reqwest::Method::PUT {
            request = request.form(form);
        }
        let answer = request.send().await.unwrap();
        let status = answer.status().as_u16();
        let content_type = answer
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = answer.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        (status, content_type, body)
    }

    /// Places an order (`POST /orders/{variety}`) with these form fields.
    pub async fn place(&self, variety: &str, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
        let (status, _, body) = self
            .send(reqwest::Method::POST, &format!("/orders/{variety}"), form)
            .await;
        (status, body)
    }
}

/// Asserts that an answer is Kite's `InputException` (HTTP 400) whose message contains
/// `wording`.
pub fn assert_input_exception(answer: &(u16, serde_json::Value), wording: &str) {
    let (status, body) = answer;
    assert_eq!(*status, 400, "{body}");
    assert_eq!(body["status"], "error", "{body}");
    assert_eq!(body["error_type"], "InputException", "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains(wording), "{message:?} lacks {wording:?}");
}
