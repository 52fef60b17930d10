//! HTTP clients for brokers: bound to an egress address, TLS shared, hardened.
//!
//! One [`HttpClient`] per egress address serves every account that leaves from it, and every
//! client shares one rustls configuration ([`TlsConfig`]): ten thousand accounts on two
//! thousand addresses parse the root certificates once. Connections are kept alive long
//! enough that a connection opened at pre-flight is still open at the slot, so no TLS
//! handshake happens when the orders go.
//!
//! Brokers are reached over HTTPS only, unless plain HTTP is allowed on purpose (simulators);
//! redirects are never followed (a redirect would re-send the account's keys and tokens to
//! wherever it points); answers are read with a size cap.
//!
//! API calls go through [`HttpClient::send`]: a lean HTTP/1.1 client over rustls, driven in
//! the calling task with a pool of kept-alive connections per client (see `http1.rs` for its
//! rules, and docs/performance.md for why neither reqwest nor hyper-util's pooled client is on
//! this path). [`HttpClient::client`] (reqwest, same rules, capped reads through
//! [`crate::transport::read_body`]) stays for downloads and browser-style flows.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use std::{fmt, io};

use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Method, Uri};
use reqwest::Url;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::egress::{AddressNotLocal, EgressBinding};
use crate::http1::{self, Cause, ExchangeError, Failure, Pool};
use crate::transport::{self, CallKind};
use crate::{BrokerError, ConnectivityKind};

/// A client could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpClientError {
    /// The egress address is not assigned to this machine.
    #[error(transparent)]
    AddressNotLocal(#[from] AddressNotLocal),
    /// An extra root certificate could not be read.
    #[error("the extra root certificate is not usable PEM: {0}")]
    Certificate(String),
    /// The HTTP client library refused the configuration.
    #[error("could not build the HTTP client: {0}")]
    Build(String),
}

/// A base URL given for a broker cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BadUrl {
    /// Not an absolute http(s) URL with a host.
    #[error("{which} {url:?} is not an absolute https URL")]
    Malformed {
        /// Which URL.
        which: &'static str,
        /// The text given.
        url: String,
    },
    /// Plain http, which only simulators may use.
    #[error(
        "{which} {url:?} is plain http: brokers are reached over https only (allow plain http for a simulator with HttpClientConfig::allow_plain_http)"
    )]
    PlainHttp {
        /// Which URL.
        which: &'static str,
        /// The text given.
        url: String,
    },
}

/// The rustls configuration every broker client shares: the web PKI roots, plus any extra
/// roots (a simulator's self-signed certificate). Clones share one configuration.
#[derive(Clone)]
pub struct TlsConfig {
    pub(crate) config: Arc<rustls::ClientConfig>,
}

impl TlsConfig {
    /// The web PKI roots, built once per process and shared.
    pub fn webpki() -> Self {
        static SHARED: OnceLock<TlsConfig> = OnceLock::new();
        SHARED
            .get_or_init(|| Self::with_roots(std::iter::empty()))
            .clone()
    }

    /// The web PKI roots plus the certificates in `pem` (one or more `CERTIFICATE` blocks).
    ///
    /// # Errors
    /// [`HttpClientError::Certificate`] when `pem` holds no usable certificate.
    pub fn with_extra_roots(pem: &[u8]) -> Result<Self, HttpClientError> {
        let certificates = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| HttpClientError::Certificate(error.to_string()))?;
        if certificates.is_empty() {
            return Err(HttpClientError::Certificate(
                "no CERTIFICATE block found".to_owned(),
            ));
        }
        Ok(Self::with_roots(certificates))
    }

    fn with_roots(extra: impl IntoIterator<Item = CertificateDer<'static>>) -> Self {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let (_added, _ignored) = roots.add_parsable_certificates(extra);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap_or_else(|_| unreachable!("ring supports the default protocol versions"))
            .with_root_certificates(roots)
            .with_no_client_auth();
        Self {
            config: Arc::new(config),
        }
    }
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self::webpki()
    }
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig").finish_non_exhaustive()
    }
}

/// How to build the HTTP client of one egress address.
#[derive(Debug, Clone)]
pub struct HttpClientConfig {
    /// The egress address to bind, or `None` to leave it to the operating system.
    pub egress: Option<EgressBinding>,
    /// How long to wait for a connection.
    pub connect_timeout: Duration,
    /// How long to wait for a whole request. An order request that outlives this has an
    /// unknown outcome.
    pub request_timeout: Duration,
    /// How long an idle connection is kept open for the next request: long enough that a
    /// connection opened at pre-flight is still there at the slot.
    pub idle_timeout: Duration,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// Allows plain `http://` base URLs: for simulators only, never for a broker.
    pub allow_plain_http: bool,
    /// The TLS configuration (shared by every client built from it).
    pub tls: TlsConfig,
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        Self {
            egress: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30 * 60),
            user_agent: concat!("broker-toolkit/", env!("CARGO_PKG_VERSION")).to_owned(),
            allow_plain_http: false,
            tls: TlsConfig::webpki(),
        }
    }
}

impl HttpClientConfig {
    /// The default configuration bound to `egress`.
    pub fn bound_to(egress: EgressBinding) -> Self {
        Self {
            egress: Some(egress),
            ..Self::default()
        }
    }

    /// The same configuration, allowing plain-http base URLs (simulators only).
    #[must_use]
    pub fn allow_plain_http(mut self) -> Self {
        self.allow_plain_http = true;
        self
    }

    /// Builds the client: the shared TLS configuration, the timeouts, keep-alive, no
    /// redirects, https only unless allowed, and the local address bound when set.
    ///
    /// # Errors
    /// [`HttpClientError::AddressNotLocal`] when the egress address is not on this machine,
    /// [`HttpClientError::Build`] when the client library refuses the configuration.
    pub fn build(&self) -> Result<HttpClient, HttpClientError> {
        if let Some(egress) = &self.egress {
            egress.verify_local()?;
        }
        let client = reqwest::Client::builder()
            .use_preconfigured_tls((*self.tls.config).clone())
            .local_address(self.egress.map(|egress| egress.local))
            .connect_timeout(self.connect_timeout)
            .timeout(self.request_timeout)
            .pool_idle_timeout(self.idle_timeout)
            .tcp_keepalive(TCP_KEEPALIVE)
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::none())
            .https_only(!self.allow_plain_http)
            .user_agent(&self.user_agent)
            .build()
            .map_err(|error| HttpClientError::Build(error.to_string()))?;
        let user_agent = HeaderValue::from_str(&self.user_agent)
            .map_err(|_| HttpClientError::Build("the User-Agent is not a valid header".into()))?;
        Ok(HttpClient {
            client,
            api: Arc::new(ApiClient {
                pool: self.api_pool(),
                user_agent,
                request_timeout: self.request_timeout,
            }),
            egress: self.egress,
            allow_plain_http: self.allow_plain_http,
        })
    }

    /// The pool of API calls' connections: bound to the egress address, HTTP/1.1 over
    /// rustls (no ALPN), https only unless allowed.
    fn api_pool(&self) -> Pool {
        let connector = http1::Connector {
            local: self.egress.map(|egress| egress.local),
            connect_timeout: self.connect_timeout,
            allow_plain_http: self.allow_plain_http,
            tls: Arc::clone(&self.tls.config),
            keepalive: TCP_KEEPALIVE,
        };
        Pool::new(connector, self.idle_timeout)
    }
}

/// The keep-alive probes of idle connections, so that a dead peer is noticed before the slot.
const TCP_KEEPALIVE: Duration = Duration::from_secs(30);

/// What [`HttpClient::send`] needs beyond the pool.
struct ApiClient {
    pool: Pool,
    user_agent: HeaderValue,
    request_timeout: Duration,
}

/// One API request for [`HttpClient::send`].
#[derive(Debug)]
pub struct ApiRequest {
    /// The method.
    pub method: Method,
    /// The absolute URI (scheme and host included); see [`ApiRequest::uri_of`].
    pub uri: Uri,
    /// The headers (`Host` and `User-Agent` are added when missing).
    pub headers: HeaderMap,
    /// The body, if any.
    pub body: Option<Bytes>,
}

impl ApiRequest {
    /// A request without headers or body.
    pub fn new(method: Method, uri: Uri) -> Self {
        Self {
            method,
            uri,
            headers: HeaderMap::new(),
            body: None,
        }
    }

    /// The URI of a URL checked by [`HttpClient::check_base_url`] (or built under one): what
    /// a client computes once per endpoint rather than per request.
    ///
    /// # Errors
    /// [`BadUrl::Malformed`] naming `which` when the URL is not a valid URI.
    pub fn uri_of(which: &'static str, url: &Url) -> Result<Uri, BadUrl> {
        Uri::try_from(url.as_str()).map_err(|_| BadUrl::Malformed {
            which,
            url: url.as_str().to_owned(),
        })
    }
}

/// The answer to an [`ApiRequest`]: its status, its `Retry-After` in seconds when it had one,
/// and its whole body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The `Retry-After` header, when it held a number of seconds.
    pub retry_after: Option<Duration>,
    /// The body (at most the limit given to [`HttpClient::send`]).
    pub body: Vec<u8>,
}

/// A built client for one egress address, shared (cheaply cloned) by every account on it.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    api: Arc<ApiClient>,
    egress: Option<EgressBinding>,
    allow_plain_http: bool,
}

impl HttpClient {
    /// The reqwest client, for downloads and browser-style flows; API calls go through
    /// [`HttpClient::send`] (same rules, less CPU per request).
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Where its requests leave from, when bound.
    pub fn egress(&self) -> Option<EgressBinding> {
        self.egress
    }

    /// Sends one API request and reads its whole answer, within the configured request
    /// timeout (sending and reading together), never following a redirect, refusing a body
    /// over `limit` bytes (by its `Content-Length` before reading, or as soon as the streamed
    /// body passes it). Connections are pooled per host and kept for the idle timeout.
    ///
    /// Failures are classified for `call` by [`crate::transport`] and name the call by
    /// `name`: no connection is `Connectivity` (nothing was sent); a timeout or a lost
    /// connection after that leaves an order call's outcome unknown.
    ///
    /// # Errors
    /// As [`transport::no_answer`] for a request without an answer, as
    /// [`transport::unreadable_answer`] for a body over the limit.
    pub async fn send(
        &self,
        request: ApiRequest,
        limit: usize,
        call: CallKind,
        name: &str,
    ) -> Result<ApiAnswer, BrokerError> {
        let sent = AtomicBool::new(false);
        let exchange = self
            .api
            .pool
            .exchange(&request, &self.api.user_agent, limit, &sent);
        let failure = match tokio::time::timeout(self.api.request_timeout, exchange).await {
            Ok(Ok(answer)) => {
                return Ok(ApiAnswer {
                    status: answer.status,
                    retry_after: answer.retry_after,
                    body: answer.body,
                });
            }
            Ok(Err(failure)) => failure,
            Err(_) if sent.load(Ordering::Relaxed) => return Err(transport::timed_out(call, name)),
            Err(_) => Failure::NotSent(ExchangeError::Io(io::Error::new(
                io::ErrorKind::TimedOut,
                "timed out before the request was sent",
            ))),
        };
        Err(match failure {
            Failure::NotSent(error) => {
                transport::failed_exchange(ConnectivityKind::Connect, &Cause(error), call, name)
            }
            Failure::Lost(error) => {
                transport::failed_exchange(ConnectivityKind::Interrupted, &Cause(error), call, name)
            }
            Failure::TooLarge { status } => transport::too_large(call, status, name, limit),
        })
    }

    /// Opens connections to `uri`'s scheme, host and port until this client holds
    /// `connections` idle ones there, ready for as many requests at once without a handshake;
    /// returns how many it opened. Pre-flight calls it with the number of accounts of the
    /// address at that broker: warming them with requests cannot guarantee it, since a fast
    /// answer hands its connection to the next account.
    ///
    /// # Errors
    /// A [`BrokerError`] of kind connectivity when a connection cannot be opened (the ones
    /// opened before stay pooled).
    pub async fn keep_open(&self, uri: &Uri, connections: usize) -> Result<usize, BrokerError> {
        const NAME: &str = "opening connections ahead of the slot";
        let opening = self.api.pool.keep_open(uri, connections);
        match tokio::time::timeout(self.api.request_timeout, opening).await {
            Ok(opened) => opened.map_err(|error| {
                transport::failed_exchange(
                    ConnectivityKind::Connect,
                    &Cause(error),
                    CallKind::Read,
                    NAME,
                )
            }),
            Err(_) => Err(transport::timed_out(CallKind::Read, NAME)),
        }
    }

    /// Checks a broker base URL for this client: absolute, with a host, https unless plain
    /// http was allowed. Returns it without a trailing slash.
    ///
    /// # Errors
    /// [`BadUrl`] naming `which` URL and why.
    pub fn check_base_url(&self, which: &'static str, text: &str) -> Result<Url, BadUrl> {
        let url = Url::parse(text)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
            .ok_or_else(|| BadUrl::Malformed {
                which,
                url: text.to_owned(),
            })?;
        if url.scheme() == "http" && !self.allow_plain_http {
            return Err(BadUrl::PlainHttp {
                which,
                url: text.to_owned(),
            });
        }
        Ok(url)
    }
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("egress", &self.egress)
            .field("allow_plain_http", &self.allow_plain_http)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PlacementOutcome;
    use std::net::SocketAddr;
    use std::sync::atomic::Ordering;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-shot HTTP server that answers with the peer address it saw, or with `answer`.
    async fn serve_once(answer: Option<String>) -> (SocketAddr, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, peer) = listener.accept().await.unwrap();
            let mut buffer = [0u8; 4096];
            let read = socket.read(&mut buffer).await.unwrap();
            let request = String::from_utf8_lossy(&buffer[..read]).into_owned();
            let response = answer.unwrap_or_else(|| {
                let body = peer.ip().to_string();
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
            });
            socket.write_all(response.as_bytes()).await.unwrap();
            request
        });
        (address, server)
    }

    #[tokio::test]
    async fn requests_leave_from_the_bound_address() {
        let (address, server) = serve_once(None).await;
        let egress = EgressBinding::direct("127.0.0.2".parse().unwrap());
        let http = HttpClientConfig::bound_to(egress)
            .allow_plain_http()
            .build()
            .unwrap();
        let seen = http
            .client()
            .get(format!("http://{address}/"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(seen, "127.0.0.2");
        server.await.unwrap();
    }

    #[test]
    fn an_address_this_machine_does_not_own_is_refused_before_building() {
        let egress = EgressBinding::direct("192.0.2.77".parse().unwrap());
        let error = HttpClientConfig::bound_to(egress).build().unwrap_err();
        assert!(matches!(error, HttpClientError::AddressNotLocal(_)));
        assert!(error.to_string().contains("192.0.2.77"), "{error}");
    }

    #[tokio::test]
    async fn redirects_are_not_followed() {
        let (target, target_server) = serve_once(None).await;
        let redirect = format!(
            "HTTP/1.1 307 Temporary Redirect\r\nlocation: http://{target}/steal\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        );
        let (address, server) = serve_once(Some(redirect)).await;
        let http = HttpClientConfig::default()
            .allow_plain_http()
            .build()
            .unwrap();
        let response = http
            .client()
            .post(format!("http://{address}/login"))
            .header("X-PrivateKey", "apikey")
            .body("mpin=1234")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 307);
        server.await.unwrap();
        // The redirect target never saw a request.
        assert!(!target_server.is_finished());
        target_server.abort();
    }

    #[tokio::test]
    async fn plain_http_is_refused_unless_allowed() {
        let strict = HttpClientConfig::default().build().unwrap();
        assert!(matches!(
            strict.check_base_url("base URL", "http://127.0.0.1:9/"),
            Err(BadUrl::PlainHttp { .. })
        ));
        let (address, server) = serve_once(None).await;
        assert!(
            strict
                .client()
                .get(format!("http://{address}/"))
                .send()
                .await
                .is_err(),
            "the client itself refuses plain http"
        );
        server.abort();
        assert!(
            strict
                .check_base_url("base URL", "https://apiconnect.angelone.in")
                .is_ok()
        );
        let lax = HttpClientConfig::default()
            .allow_plain_http()
            .build()
            .unwrap();
        assert!(lax.check_base_url("base URL", "http://127.0.0.1:9").is_ok());
        for bad in ["not a url", "/relative", "ftp://host/x", "https://"] {
            assert!(
                matches!(
                    lax.check_base_url("base URL", bad),
                    Err(BadUrl::Malformed { .. })
                ),
                "{bad}"
            );
        }
    }

    fn api_get(url: &str) -> ApiRequest {
        ApiRequest::new(Method::GET, Uri::try_from(url).unwrap())
    }

    /// Reads `/` at `address`, the answer capped at 1,024 bytes.
    async fn read_root(http: &HttpClient, address: SocketAddr) -> Result<ApiAnswer, BrokerError> {
        let url = format!("http://{address}/");
        http.send(api_get(&url), 1024, CallKind::Read, "x").await
    }

    #[tokio::test]
    async fn api_requests_leave_from_the_bound_address_with_the_user_agent() {
        let (address, server) = serve_once(None).await;
        let egress = EgressBinding::direct("127.0.0.2".parse().unwrap());
        let http = HttpClientConfig::bound_to(egress)
            .allow_plain_http()
            .build()
            .unwrap();
        let answer = read_root(&http, address).await.unwrap();
        assert_eq!((answer.status, &answer.body[..]), (200, &b"127.0.0.2"[..]));
        let request = server.await.unwrap().to_ascii_lowercase();
        assert!(request.contains("user-agent: broker-toolkit/"), "{request}");
        assert!(request.contains(&format!("host: {address}")), "{request}");
    }

    #[tokio::test]
    async fn api_requests_do_not_follow_redirects_and_read_retry_after() {
        let (target, target_server) = serve_once(None).await;
        let redirect = format!(
            "HTTP/1.1 307 Temporary Redirect\r\nlocation: http://{target}/steal\r\nretry-after: 7\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        );
        let (address, server) = serve_once(Some(redirect)).await;
        let http = HttpClientConfig::default()
            .allow_plain_http()
            .build()
            .unwrap();
        let mut request = ApiRequest::new(
            Method::POST,
            Uri::try_from(format!("http://{address}/login")).unwrap(),
        );
        request
            .headers
            .insert("x-privatekey", HeaderValue::from_static("apikey"));
        request.body = Some(Bytes::from_static(b"mpin=1234"));
        let answer = http
            .send(request, 1024, CallKind::Session, "login")
            .await
            .unwrap();
        assert_eq!(answer.status, 307);
        assert_eq!(answer.retry_after, Some(Duration::from_secs(7)));
        assert!(server.await.unwrap().ends_with("mpin=1234"));
        // The redirect target never saw a request.
        assert!(!target_server.is_finished());
        target_server.abort();
    }

    #[tokio::test]
    async fn api_requests_refuse_plain_http_unless_allowed_before_sending() {
        let (address, server) = serve_once(None).await;
        let strict = HttpClientConfig::default().build().unwrap();
        let error = strict
            .send(
                api_get(&format!("http://{address}/")),
                1024,
                CallKind::PlaceOrder,
                "place order",
            )
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                BrokerError::Connectivity {
                    kind: ConnectivityKind::Connect,
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(!server.is_finished(), "nothing reached the server");
        server.abort();
    }

    #[tokio::test]
    async fn api_answers_over_the_limit_are_refused_whether_announced_or_streamed() {
        let http = HttpClientConfig::default()
            .allow_plain_http()
            .build()
            .unwrap();
        let body = "x".repeat(4096);
        for head in [format!("content-length: {}\r\n", body.len()), String::new()] {
            let answer = format!("HTTP/1.1 200 OK\r\n{head}connection: close\r\n\r\n{body}");
            let (address, server) = serve_once(Some(answer)).await;
            let url = format!("http://{address}/");
            let error = http
                .send(api_get(&url), 1000, CallKind::PlaceOrder, "place order")
                .await
                .unwrap_err();
            assert_eq!(
                error,
                BrokerError::OrderOutcomeUnknown {
                    kind: ConnectivityKind::UnreadableAnswer { status: 200 }
                }
            );
            server.await.unwrap();
        }
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let (address, server) = serve_once(Some(answer)).await;
        let read = http
            .send(
                api_get(&format!("http://{address}/")),
                4096,
                CallKind::Read,
                "x",
            )
            .await
            .unwrap();
        assert_eq!(read.body.len(), 4096);
        server.await.unwrap();
    }

    #[tokio::test]
    async fn an_api_timeout_leaves_an_order_unknown_and_a_refused_connection_not_sent() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let hang = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
            drop(socket);
        });
        let config = HttpClientConfig {
            request_timeout: Duration::from_millis(200),
            ..HttpClientConfig::default().allow_plain_http()
        };
        let http = config.build().unwrap();
        let url = format!("http://{address}/orders");
        let order = http
            .send(api_get(&url), 1024, CallKind::PlaceOrder, "place order")
            .await
            .unwrap_err();
        assert_eq!(
            order,
            BrokerError::OrderOutcomeUnknown {
                kind: ConnectivityKind::Timeout
            }
        );
        hang.abort();
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/orders", closed.local_addr().unwrap());
        drop(closed);
        let refused = http
            .send(api_get(&url), 1024, CallKind::PlaceOrder, "place order")
            .await
            .unwrap_err();
        assert_eq!(refused.placement_outcome(), PlacementOutcome::NotPlaced);
        assert!(refused.is_retryable(), "{refused:?}");
    }

    /// Reads one request (head and `content-length` body); `false` at the end of the stream.
    async fn read_request(socket: &mut tokio::net::TcpStream) -> bool {
        let mut seen = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            if let Some(end) = seen.windows(4).position(|window| window == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&seen[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length: "))
                    .map_or(0, |length| length.trim().parse().unwrap());
                if seen.len() >= end + 4 + length {
                    return true;
                }
            }
            match socket.read(&mut buffer).await {
                Ok(0) | Err(_) => return false,
                Ok(read) => seen.extend_from_slice(&buffer[..read]),
            }
        }
    }

    /// A server that gives `answers` in order, one per request whatever the connection, and
    /// closes a connection after an answer marked `true`. Counts the connections it accepted.
    async fn serve_script(
        answers: Vec<(String, bool)>,
    ) -> (SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let answers = Arc::new(std::sync::Mutex::new(
            answers
                .into_iter()
                .collect::<std::collections::VecDeque<_>>(),
        ));
        let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = Arc::clone(&connections);
        tokio::spawn(async move {
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                counted.fetch_add(1, Ordering::SeqCst);
                let answers = Arc::clone(&answers);
                tokio::spawn(async move {
                    while read_request(&mut socket).await {
                        let next = answers.lock().unwrap().pop_front();
                        let Some((answer, close)) = next else { break };
                        socket.write_all(answer.as_bytes()).await.unwrap();
                        if close {
                            break;
                        }
                    }
                });
            }
        });
        (address, connections)
    }

    fn ok(body: &str) -> String {
        format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
    }

    fn api_post(address: SocketAddr) -> ApiRequest {
        let mut request = ApiRequest::new(
            Method::POST,
            Uri::try_from(format!("http://{address}/orders")).unwrap(),
        );
        request.body = Some(Bytes::from_static(b"{\"qty\":1}"));
        request
    }

    fn plain_http() -> HttpClient {
        HttpClientConfig::default()
            .allow_plain_http()
            .build()
            .unwrap()
    }

    /// Sends a place-order request to `address`.
    async fn place(http: &HttpClient, address: SocketAddr) -> Result<ApiAnswer, BrokerError> {
        http.send(api_post(address), 1024, CallKind::PlaceOrder, "place order")
            .await
    }

    #[tokio::test]
    async fn api_connections_are_kept_and_chunked_bodies_decoded() {
        let chunked = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4;x=y\r\nWiki\r\n5\r\npedia\r\n0\r\ntrailer: t\r\n\r\n";
        let (address, connections) = serve_script(vec![
            (chunked.to_owned(), false),
            (ok("second"), false),
            (ok("third"), false),
        ])
        .await;
        let http = plain_http();
        for expected in ["Wikipedia", "second", "third"] {
            let answer = place(&http, address).await.unwrap();
            assert_eq!(answer.body, expected.as_bytes());
        }
        assert_eq!(
            connections.load(Ordering::SeqCst),
            1,
            "one connection for all"
        );
    }

    /// Places two orders through `http` against a server giving `first` then a plain answer,
    /// `pause` apart, and checks that they took two connections.
    async fn two_orders_take_two_connections(
        http: &HttpClient,
        first: (&str, bool),
        pause: Duration,
    ) {
        let (address, connections) =
            serve_script(vec![(first.0.to_owned(), first.1), (ok("again"), false)]).await;
        let answer = place(http, address).await.unwrap();
        assert!(
            first
                .0
                .ends_with(std::str::from_utf8(&answer.body).unwrap())
        );
        tokio::time::sleep(pause).await;
        assert_eq!(place(http, address).await.unwrap().body, b"again");
        assert_eq!(connections.load(Ordering::SeqCst), 2, "{}", first.0);
    }

    #[tokio::test]
    async fn connections_are_not_kept_after_close_an_http_1_0_answer_or_an_unframed_body() {
        for first in [
            // The server keeps these connections open: the client must not use them again.
            (
                "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok",
                false,
            ),
            ("HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok", false),
            // A body delimited by the end of the connection.
            ("HTTP/1.1 200 OK\r\n\r\nuntil the end", true),
        ] {
            two_orders_take_two_connections(&plain_http(), first, Duration::ZERO).await;
        }
    }

    #[tokio::test]
    async fn an_idle_connection_the_server_closed_is_not_used_for_an_order() {
        // The server closes the kept connection after its first answer; the second order must
        // not be written to it (its outcome would be unknown), but go on a new one.
        let first = ok("first");
        let pause = Duration::from_millis(100);
        two_orders_take_two_connections(&plain_http(), (&first, true), pause).await;
    }

    #[tokio::test]
    async fn idle_connections_expire() {
        let http = HttpClientConfig {
            idle_timeout: Duration::from_millis(50),
            ..HttpClientConfig::default().allow_plain_http()
        }
        .build()
        .unwrap();
        let first = ok("first");
        two_orders_take_two_connections(&http, (&first, false), Duration::from_millis(100)).await;
    }

    #[tokio::test]
    async fn broken_or_malformed_answers_leave_an_order_unknown_and_a_read_repeatable() {
        let huge_header = format!(
            "HTTP/1.1 200 OK\r\nx-padding: {}\r\ncontent-length: 0\r\n\r\n",
            "x".repeat(http1::MAX_HEAD_BYTES)
        );
        for answer in [
            "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\ncut short".to_owned(),
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n10\r\ncut".to_owned(),
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n".to_owned(),
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\r\n".to_owned(),
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n"
                .to_owned(),
            "HTTP/1.1 200 OK\r\ncontent-length: 2, 2\r\n\r\nok".to_owned(),
            "HTTP/1.1 200 OK\r\ncont".to_owned(),
            huge_header,
            String::new(),
        ] {
            let (address, _) = serve_script(vec![(answer.clone(), true)]).await;
            let error = place(&plain_http(), address).await.unwrap_err();
            assert_eq!(
                error,
                BrokerError::OrderOutcomeUnknown {
                    kind: ConnectivityKind::Interrupted
                },
                "{answer:.80}"
            );
            let (address, _) = serve_script(vec![(answer.clone(), true)]).await;
            let read = read_root(&plain_http(), address).await.unwrap_err();
            assert!(
                matches!(
                    read,
                    BrokerError::Connectivity {
                        kind: ConnectivityKind::Interrupted,
                        ..
                    }
                ) && read.is_retryable(),
                "{answer:.80}: {read:?}"
            );
        }
    }

    #[tokio::test]
    async fn chunked_bodies_over_the_limit_are_refused() {
        let chunk = "x".repeat(600);
        let answer = format!(
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n258\r\n{chunk}\r\n258\r\n{chunk}\r\n0\r\n\r\n"
        );
        let (address, _) = serve_script(vec![(answer, true)]).await;
        let error = place(&plain_http(), address).await.unwrap_err();
        assert_eq!(
            error,
            BrokerError::OrderOutcomeUnknown {
                kind: ConnectivityKind::UnreadableAnswer { status: 200 }
            }
        );
    }

    #[test]
    fn extra_roots_must_be_certificates() {
        assert!(matches!(
            TlsConfig::with_extra_roots(b"not pem"),
            Err(HttpClientError::Certificate(_))
        ));
    }
}
