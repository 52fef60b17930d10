//! Egress addresses: where an account's requests leave from, and the check that the broker
//! accepts orders from there.
//!
//! Since April 2026 both brokers accept order requests only from the static IP registered for
//! the account, and an IP may be shared only within a family. A multi-tenant server therefore
//! binds each account's client to its own address from a pool: [`EgressBinding`] names the
//! local address to bind and the public address the broker sees (the same unless a 1:1 NAT
//! sits between), and `HttpClientConfig::build` (feature `http`) makes a client that binds to
//! it. Binding an IPv4 address also keeps a dual-stack host from leaving over IPv6, a common
//! cause of "IP not allowed" refusals.

use std::net::{IpAddr, SocketAddr, TcpListener};

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
    /// [`AddressNotLocal`] when the address cannot be bound.
    pub fn verify_local(&self) -> Result<(), AddressNotLocal> {
        TcpListener::bind(SocketAddr::new(self.local, 0))
            .map(drop)
            .map_err(|error| AddressNotLocal {
                ip: self.local,
                reason: error.to_string(),
            })
    }
}

/// The egress address is not assigned to any interface of this machine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "egress address {ip} is not assigned to this machine ({reason}); add it to an interface or fix the IP pool"
)]
pub struct AddressNotLocal {
    /// The address.
    pub ip: IpAddr,
    /// The operating system's reason.
    pub reason: String,
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

    #[test]
    fn an_address_this_machine_does_not_own_is_refused_clearly() {
        // 192.0.2.0/24 is TEST-NET-1: never assigned to a real interface. Nothing is sent.
        let error = EgressBinding::direct("192.0.2.77".parse().unwrap())
            .verify_local()
            .unwrap_err();
        assert!(error.to_string().contains("192.0.2.77"), "{error}");
        assert!(
            EgressBinding::direct("127.0.0.2".parse().unwrap())
                .verify_local()
                .is_ok()
        );
    }

    #[cfg(feature = "paper")]
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
