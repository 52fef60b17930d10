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
//! wherever it points); answers are read with a size cap ([`crate::transport::read_body`]).

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reqwest::Url;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::egress::{AddressNotLocal, EgressBinding};

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
    config: Arc<rustls::ClientConfig>,
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
            .tcp_keepalive(Duration::from_secs(30))
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::none())
            .https_only(!self.allow_plain_http)
            .user_agent(&self.user_agent)
            .build()
            .map_err(|error| HttpClientError::Build(error.to_string()))?;
        Ok(HttpClient {
            client,
            egress: self.egress,
            allow_plain_http: self.allow_plain_http,
        })
    }
}

/// A built client for one egress address, shared (cheaply cloned) by every account on it.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    egress: Option<EgressBinding>,
    allow_plain_http: bool,
}

impl HttpClient {
    /// The reqwest client.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Where its requests leave from, when bound.
    pub fn egress(&self) -> Option<EgressBinding> {
        self.egress
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
    use std::net::SocketAddr;
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

    #[test]
    fn extra_roots_must_be_certificates() {
        assert!(matches!(
            TlsConfig::with_extra_roots(b"not pem"),
            Err(HttpClientError::Certificate(_))
        ));
    }
}
