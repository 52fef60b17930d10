//! Webhook notifications: JSON bodies signed with HMAC-SHA256 over `timestamp.body`, sent by a
//! background task with retries and exponential backoff.
//!
//! Headers: `X-Broker-Timestamp` (Unix seconds) and `X-Broker-Signature`
//! (`sha256=<hex of HMAC-SHA256(secret, "<timestamp>.<body>")>`). A receiver recomputes the
//! signature and refuses old timestamps, so a captured request cannot be replayed later.
//! The queue is bounded: when the receiver is down for long, the newest notifications are
//! dropped with a warning rather than ever slowing a run.

use std::time::Duration;

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::notify::{Notification, Notifier};

/// The header carrying the Unix timestamp the signature covers.
pub const TIMESTAMP_HEADER: &str = "X-Broker-Timestamp";
/// The header carrying `sha256=<hex>`.
pub const SIGNATURE_HEADER: &str = "X-Broker-Signature";

/// How the webhook is reached and retried.
#[derive(Clone)]
pub struct WebhookSettings {
    /// Where notifications are POSTed.
    pub url: reqwest::Url,
    /// The shared signing secret.
    pub secret: SecretString,
    /// Attempts per notification, the first included (default 5).
    pub attempts: u32,
    /// The delay before the first retry, doubled for each next one (default 500 ms).
    pub first_backoff: Duration,
    /// Notifications waiting at most (default 1024).
    pub queue: usize,
    /// Timeout per attempt (default 10 s).
    pub timeout: Duration,
}

impl WebhookSettings {
    /// Settings with the defaults above.
    pub fn new(url: reqwest::Url, secret: SecretString) -> Self {
        Self {
            url,
            secret,
            attempts: 5,
            first_backoff: Duration::from_millis(500),
            queue: 1024,
            timeout: Duration::from_secs(10),
        }
    }
}

impl std::fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("url", &self.url.as_str())
            .field("secret", &broker_core::REDACTED)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// The signature header value of `body` sent at `timestamp`.
pub fn signature(secret: &SecretString, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Queues notifications for a background sender (see the module docs). Must be created
/// inside a Tokio runtime.
#[derive(Debug, Clone)]
pub struct WebhookNotifier {
    queue: mpsc::Sender<Vec<u8>>,
}

impl WebhookNotifier {
    /// Starts the sender task.
    ///
    /// # Errors
    /// [`reqwest::Error`] when the HTTP client cannot be built.
    pub fn start(settings: WebhookSettings) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let (queue, pending) = mpsc::channel(settings.queue.max(1));
        tokio::spawn(send_all(client, settings, pending));
        Ok(Self { queue })
    }
}

impl Notifier for WebhookNotifier {
    fn notify(&self, notification: &Notification) {
        let body = match serde_json::to_vec(notification) {
            Ok(body) => body,
            Err(error) => {
                tracing::error!(%error, "cannot encode a notification");
                return;
            }
        };
        if self.queue.try_send(body).is_err() {
            tracing::warn!("webhook queue full or stopped: a notification was dropped");
        }
    }
}

async fn send_all(
    client: reqwest::Client,
    settings: WebhookSettings,
    mut pending: mpsc::Receiver<Vec<u8>>,
) {
    while let Some(body) = pending.recv().await {
        let mut backoff = settings.first_backoff;
        for attempt in 1..=settings.attempts.max(1) {
            let timestamp = chrono::Utc::now().timestamp();
            let answer = client
                .post(settings.url.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(TIMESTAMP_HEADER, timestamp)
                .header(
                    SIGNATURE_HEADER,
                    signature(&settings.secret, timestamp, &body),
                )
                .body(body.clone())
                .send()
                .await;
            match answer {
                Ok(answer) if answer.status().is_success() => break,
                Ok(answer) => {
                    tracing::warn!(
                        status = answer.status().as_u16(),
                        attempt,
                        "webhook refused"
                    );
                }
                Err(error) => tracing::warn!(%error, attempt, "webhook unreachable"),
            }
            if attempt == settings.attempts {
                tracing::error!("webhook notification dropped after {attempt} attempts");
            } else {
                tokio::time::sleep(backoff).await;
                backoff = backoff.saturating_mul(2);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use wiremock::matchers::{header_exists, method};
    use wiremock::{Mock, MockServer, Request, ResponseTemplate};

    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_over_timestamp_dot_body() {
        // RFC 4231 test case 2 key and data, split as "<timestamp>.<body>" would be.
        let secret = SecretString::from("Jefe");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"1700000000.{\"a\":1}");
        let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(signature(&secret, 1_700_000_000, b"{\"a\":1}"), expected);
        assert_ne!(signature(&secret, 1_700_000_001, b"{\"a\":1}"), expected);
        let debug = format!(
            "{:?}",
            WebhookSettings::new("http://x".parse().unwrap(), secret)
        );
        assert!(!debug.contains("Jefe"));
    }

    #[tokio::test]
    async fn a_failing_receiver_is_retried_and_the_delivered_body_is_signed() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(503))
            .up_to_n_times(2)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(header_exists(SIGNATURE_HEADER))
            .respond_with(ResponseTemplate::new(200))
            .mount(&server)
            .await;
        let secret = SecretString::from("webhook-secret");
        let mut settings = WebhookSettings::new(
            format!("{}/hook", server.uri()).parse().unwrap(),
            secret.clone(),
        );
        settings.first_backoff = Duration::from_millis(10);
        let notifier = WebhookNotifier::start(settings).unwrap();
        let started = std::time::Instant::now();
        notifier.notify(&Notification::WorkerProblem {
            message: "no holiday list for 2027".into(),
        });
        assert!(
            started.elapsed() < Duration::from_millis(50),
            "notify never waits"
        );

        let delivered = wait_for_requests(&server, 3).await;
        let last: &Request = &delivered[2];
        let timestamp: i64 = last.headers[TIMESTAMP_HEADER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            last.headers[SIGNATURE_HEADER].to_str().unwrap(),
            signature(&secret, timestamp, &last.body)
        );
        let body: serde_json::Value = serde_json::from_slice(&last.body).unwrap();
        assert_eq!(body["event"], "worker_problem");
    }

    async fn wait_for_requests(server: &MockServer, count: usize) -> Vec<Request> {
        for _ in 0..200 {
            let requests = server.received_requests().await.unwrap();
            if requests.len() >= count {
                return requests;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the webhook did not receive {count} requests");
    }
}
