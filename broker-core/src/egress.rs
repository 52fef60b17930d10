//! HTTP clients whose requests leave from an account's registered static IP.
//!
//! Since April 2026 both brokers accept order requests only from the static IP registered for
//! the account, and an IP may be shared only within a family. A multi-tenant server therefore
//! binds each account's client to its own address from a pool: [`EgressBinding`] names the
//! local address to bind and the public address the broker sees (the same unless a 1:1 NAT
//! sits between), and [`HttpClientConfig::build`] makes a `reqwest::Client` that binds to it.
//! Binding an IPv4 address also keeps a dual-stack host from leaving over IPv6, a common cause
//! of "IP not allowed" refusals.

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{Broker, BrokerError, OrderId, Variety};

/// Where an account's requests leave from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EgressBinding {
    /// The local interface address the socket binds to.
    pub local: IpAddr,
    /// The address the broker sees: the one registered at the broker, and the one sent in
    /// headers such as Angel One's `X-ClientPublicIP`.
    pub public: IpAddr,
}

impl EgressBinding {
    /// A binding where the broker sees the local address itself (no NAT).
    pub fn direct(ip: IpAddr) -> Self {
        Self {
            local: ip,
            public: ip,
        }
    }

    /// A binding behind a 1:1 NAT that maps `local` to `public`.
    pub fn translated(local: IpAddr, public: IpAddr) -> Self {
        Self { local, public }
    }

    /// Checks that this machine owns the local address, so a misconfigured pool fails at
    /// start-up with a clear message instead of at 15:10 with a connection error.
    ///
    /// # Errors
    /// [`HttpClientError::AddressNotLocal`] when the address cannot be bound.
    pub fn verify_local(&self) -> Result<(), HttpClientError> {
        TcpListener::bind(SocketAddr::new(self.local, 0))
            .map(drop)
            .map_err(|error| HttpClientError::AddressNotLocal {
                ip: self.local,
                reason: error.to_string(),
            })
    }
}

/// A client could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpClientError {
    /// The egress address is not assigned to any interface of this machine.
    #[error(
        "egress address {ip} is not assigned to this machine ({reason}); add it to an interface or fix the IP pool"
    )]
    AddressNotLocal {
        /// The address.
        ip: IpAddr,
        /// The operating system's reason.
        reason: String,
    },
    /// The HTTP client library refused the configuration.
    #[error("could not build the HTTP client: {0}")]
    Build(String),
}

/// How to build the HTTP client of one broker account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpClientConfig {
    /// The egress address to bind, or `None` to leave it to the operating system.
    pub egress: Option<EgressBinding>,
    /// How long to wait for a connection.
    pub connect_timeout: Duration,
    /// How long to wait for a whole request. An order request that outlives this has an
    /// unknown outcome.
    pub request_timeout: Duration,
    /// The `User-Agent` header.
    pub user_agent: String,
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        Self {
            egress: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            user_agent: concat!("broker-toolkit/", env!("CARGO_PKG_VERSION")).to_owned(),
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

    /// Builds the client: rustls, the timeouts, and the local address bound when set.
    ///
    /// # Errors
    /// [`HttpClientError::AddressNotLocal`] when the egress address is not on this machine,
    /// [`HttpClientError::Build`] when the client library refuses the configuration.
    pub fn build(&self) -> Result<reqwest::Client, HttpClientError> {
        if let Some(egress) = &self.egress {
            egress.verify_local()?;
        }
        reqwest::Client::builder()
            .local_address(self.egress.map(|egress| egress.local))
            .connect_timeout(self.connect_timeout)
            .timeout(self.request_timeout)
            .user_agent(&self.user_agent)
            .build()
            .map_err(|error| HttpClientError::Build(error.to_string()))
    }
}

/// An order id no broker issues: cancelling it can only fail.
const IMPOSSIBLE_ORDER_ID: &str = "0";

/// Checks that the broker accepts order requests from the account's egress address, without
/// placing anything: it cancels an order id that cannot exist.
///
/// Both brokers check the source address of order calls before they look the order up, so a
/// refusal of the order itself ("not found", "not open") proves the address is whitelisted,
/// and an IP refusal proves it is not. Onboarding runs this before saving an account.
///
/// # Errors
/// [`BrokerError::IpNotWhitelisted`] naming the address when it is not whitelisted, or
/// whatever else stopped the probe (such as [`BrokerError::SessionExpired`]).
pub async fn verify_whitelisted(broker: &dyn Broker) -> Result<(), BrokerError> {
    match broker
        .cancel_order(&OrderId::new(IMPOSSIBLE_ORDER_ID), Variety::Regular)
        .await
    {
        Err(BrokerError::OrderNotFound { .. } | BrokerError::OrderRejected { .. }) => Ok(()),
        Err(error) => Err(error),
        Ok(_) => Err(BrokerError::Decode {
            message: format!(
                "{} reported cancelling the impossible order id {IMPOSSIBLE_ORDER_ID}",
                broker.kind()
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-shot HTTP server that answers with the peer address it saw.
    async fn echo_peer_once() -> (SocketAddr, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, peer) = listener.accept().await.unwrap();
            let mut buffer = [0u8; 1024];
            let _ = socket.read(&mut buffer).await.unwrap();
            let body = peer.ip().to_string();
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            socket.write_all(response.as_bytes()).await.unwrap();
        });
        (address, server)
    }

    #[tokio::test]
    async fn requests_leave_from_the_bound_address() {
        let (address, server) = echo_peer_once().await;
        let egress = EgressBinding::direct("127.0.0.2".parse().unwrap());
        let client = HttpClientConfig::bound_to(egress).build().unwrap();
        let seen = client
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
    fn an_address_this_machine_does_not_own_is_refused_clearly() {
        // 192.0.2.0/24 is TEST-NET-1: never assigned to a real interface. Nothing is sent.
        let egress = EgressBinding::direct("192.0.2.77".parse().unwrap());
        let error = HttpClientConfig::bound_to(egress).build().unwrap_err();
        assert!(matches!(error, HttpClientError::AddressNotLocal { .. }));
        assert!(error.to_string().contains("192.0.2.77"), "{error}");
    }

    #[tokio::test]
    async fn an_order_refusal_to_the_probe_means_whitelisted() {
        let paper = crate::paper::PaperBroker::new(rust_decimal::Decimal::ZERO);
        assert_eq!(verify_whitelisted(&paper).await, Ok(()));
        crate::Broker::logout(&paper).await.unwrap();
        assert!(verify_whitelisted(&paper).await.unwrap_err().needs_login());
    }

    #[test]
    fn a_translated_binding_keeps_both_addresses() {
        let binding =
            EgressBinding::translated("10.0.0.5".parse().unwrap(), "203.0.113.9".parse().unwrap());
        assert_ne!(binding.local, binding.public);
        assert_eq!(EgressBinding::direct(binding.public).local, binding.public);
    }
}
