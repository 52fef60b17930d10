//! Serving a simulator's router over HTTP or HTTPS, with the real TCP peer address.
//!
//! Handlers read the peer with axum's `ConnectInfo<SocketAddr>` extractor, as under
//! `axum::serve`; IPv4 clients of a listener on `[::]` appear as their IPv4 address, not as
//! `::ffff:a.b.c.d`, so an IP whitelist of IPv4 addresses works on a dual-stack listener. In
//! HTTPS mode a self-signed certificate for the listening address (and `localhost`) is made
//! at start; give [`SimServer::certificate_pem`] to clients as an extra root, so that tests
//! and benchmarks pay the real TLS costs.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// Where and how a simulator listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimListen {
    /// The address to bind (port 0 for an ephemeral one).
    pub address: SocketAddr,
    /// HTTPS with a certificate made at start, instead of plain HTTP.
    pub tls: bool,
}

impl SimListen {
    /// Plain HTTP on an ephemeral port of 127.0.0.1.
    pub fn loopback() -> Self {
        Self::on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
    }

    /// Plain HTTP on this address.
    pub fn on(address: SocketAddr) -> Self {
        Self {
            address,
            tls: false,
        }
    }

    /// The same, over HTTPS.
    #[must_use]
    pub fn https(mut self) -> Self {
        self.tls = true;
        self
    }
}

impl Default for SimListen {
    fn default() -> Self {
        Self::loopback()
    }
}

/// A running simulator server. It stops, with every open connection, when dropped.
#[derive(Debug)]
pub struct SimServer {
    address: SocketAddr,
    certificate_pem: Option<String>,
    counters: Arc<Counters>,
    accept: JoinHandle<()>,
}

/// What the server has seen, for tests and benchmarks.
#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    handshakes: AtomicU64,
}

impl SimServer {
    /// Binds and starts serving `router`.
    ///
    /// # Errors
    /// The I/O error when the address cannot be bound, or when the certificate for HTTPS
    /// cannot be made.
    pub async fn start(router: Router, listen: SimListen) -> io::Result<Self> {
        let listener = TcpListener::bind(listen.address).await?;
        let address = listener.local_addr()?;
        let (acceptor, certificate_pem) = if listen.tls {
            let (acceptor, pem) = self_signed_acceptor(address.ip())?;
            (Some(acceptor), Some(pem))
        } else {
            (None, None)
        };
        let counters = Arc::new(Counters::default());
        let accept = tokio::spawn(accept_loop(
            listener,
            router,
            acceptor,
            Arc::clone(&counters),
        ));
        tracing::debug!(%address, tls = listen.tls, "simulator listening");
        Ok(Self {
            address,
            certificate_pem,
            counters,
            accept,
        })
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The base URL to give a client (`https://` in HTTPS mode). A wildcard listen address
    /// is given as loopback.
    pub fn url(&self) -> String {
        let ip = match self.address.ip() {
            ip if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            ip => ip,
        };
        let scheme = if self.certificate_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", SocketAddr::new(ip, self.address.port()))
    }

    /// How many TCP connections it has accepted.
    pub fn connections_accepted(&self) -> u64 {
        self.counters.connections.load(Ordering::Relaxed)
    }

    /// How many TLS handshakes it has completed (HTTPS mode): a client that kept its
    /// connections alive makes none after its first requests.
    pub fn tls_handshakes(&self) -> u64 {
        self.counters.handshakes.load(Ordering::Relaxed)
    }

    /// The PEM certificate clients must trust in HTTPS mode.
    pub fn certificate_pem(&self) -> Option<&str> {
        self.certificate_pem.as_deref()
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every connection.
        self.accept.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    router: Router,
    acceptor: Option<TlsAcceptor>,
    counters: Arc<Counters>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    counters.connections.fetch_add(1, Ordering::Relaxed);
                    connections.spawn(serve_connection(
                        stream,
                        peer,
                        router.clone(),
                        acceptor.clone(),
                        Arc::clone(&counters),
                    ));
                }
                Err(error) => {
                    tracing::warn!(%error, "simulator could not accept a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    acceptor: Option<TlsAcceptor>,
    counters: Arc<Counters>,
) {
    let _ = stream.set_nodelay(true);
    let peer = SocketAddr::new(peer.ip().to_canonical(), peer.port());
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        router.clone().oneshot(request)
    });
    let builder = auto::Builder::new(TokioExecutor::new());
    let served = match acceptor {
        Some(acceptor) => match acceptor.accept(stream).await {
            Ok(tls) => {
                counters.handshakes.fetch_add(1, Ordering::Relaxed);
                builder.serve_connection(TokioIo::new(tls), service).await
            }
            Err(error) => {
                tracing::debug!(%error, %peer, "simulator TLS handshake failed");
                return;
            }
        },
        None => {
            builder
                .serve_connection(TokioIo::new(stream), service)
                .await
        }
    };
    if let Err(error) = served {
        tracing::debug!(%error, %peer, "simulator connection ended with an error");
    }
}

fn self_signed_acceptor(ip: IpAddr) -> io::Result<(TlsAcceptor, String)> {
    let names = vec![
        "localhost".to_owned(),
        Ipv4Addr::LOCALHOST.to_string(),
        "::1".to_owned(),
        ip.to_string(),
    ];
    let certified = rcgen::generate_simple_self_signed(names).map_err(io::Error::other)?;
    let certificate = CertificateDer::from(certified.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(vec![certificate], key)
        .map_err(io::Error::other)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((TlsAcceptor::from(Arc::new(config)), certified.cert.pem()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{HttpClientConfig, TlsConfig};
    use axum::routing::get;

    fn echo_peer() -> Router {
        Router::new().route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.ip().to_string() }),
        )
    }

    #[tokio::test]
    async fn plain_http_reports_the_real_peer() {
        let server = SimServer::start(echo_peer(), SimListen::loopback())
            .await
            .unwrap();
        assert!(server.url().starts_with("http://127.0.0.1:"));
        let http =
            HttpClientConfig::bound_to(crate::EgressBinding::direct("127.0.0.3".parse().unwrap()))
                .allow_plain_http()
                .build()
                .unwrap();
        let seen = http
            .client()
            .get(format!("{}/peer", server.url()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(seen, "127.0.0.3");
    }

    #[tokio::test]
    async fn https_works_for_a_client_that_trusts_the_certificate_only() {
        let server = SimServer::start(echo_peer(), SimListen::loopback().https())
            .await
            .unwrap();
        assert!(server.url().starts_with("https://127.0.0.1:"));
        let pem = server.certificate_pem().unwrap();
        let trusting = HttpClientConfig {
            tls: TlsConfig::with_extra_roots(pem.as_bytes()).unwrap(),
            ..HttpClientConfig::default()
        }
        .build()
        .unwrap();
        let seen = trusting
            .client()
            .get(format!("{}/peer", server.url()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(seen, "127.0.0.1");
        assert_eq!(server.tls_handshakes(), 1);
        // A kept-alive connection carries the next request without a new handshake.
        trusting
            .client()
            .get(format!("{}/peer", server.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(server.tls_handshakes(), 1);
        assert_eq!(server.connections_accepted(), 1);
        let stranger = HttpClientConfig::default().build().unwrap();
        assert!(
            stranger
                .client()
                .get(format!("{}/peer", server.url()))
                .send()
                .await
                .is_err(),
            "a client without the certificate refuses the connection"
        );
    }

    #[tokio::test]
    async fn ipv4_clients_of_a_dual_stack_listener_appear_as_ipv4() {
        let listen = SimListen::on("[::]:0".parse().unwrap());
        let Ok(server) = SimServer::start(echo_peer(), listen).await else {
            eprintln!("skipped: this machine cannot listen on [::]");
            return;
        };
        let url = format!("http://127.0.0.1:{}/peer", server.address().port());
        let seen = reqwest::get(url).await.unwrap().text().await.unwrap();
        assert_eq!(seen, "127.0.0.1");
    }
}
