//! What the operator configures (serde, TOML-friendly): the egress pool, the brokers'
//! endpoints and policies, TLS roots and HTTP timeouts.
//!
//! ```toml
//! allow_plain_http = false
//!
//! [egress]
//! spans_machines = false
//! families = { sharma = ["6f1c…", "0b7e…"] }
//!
//! [[egress.addresses]]
//! bind = "10.0.0.11"
//! public = "203.0.113.11"
//!
//! [[egress.addresses]]
//! bind = "10.0.0.12"
//! public = "203.0.113.12"
//! reserved_for = { family = "sharma" }
//!
//! [angelone]
//! # api_url = "https://apiconnect.angelone.in" (the default)
//!
//! [zerodha]
//! # login_url = "https://kite.zerodha.com/connect/login" (the default)
//! ```

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use broker_core::{EgressBinding, PreTradePolicy};
use serde::{Deserialize, Serialize};
use vault::UserId;

/// Operator settings for a [`crate::Connector`]; every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct ConnectorSettings {
    /// The egress IP pool (`[egress]`).
    pub egress: EgressPoolSettings,
    /// Angel One's endpoints and policy (`[angelone]`).
    pub angelone: BrokerEndpointSettings,
    /// Zerodha's endpoints and policy (`[zerodha]`).
    pub zerodha: BrokerEndpointSettings,
    /// PEM files of extra root certificates to trust (a simulator's self-signed certificate
    /// in tests and benchmarks).
    pub extra_root_certificates: Vec<PathBuf>,
    /// Allows plain `http://` broker URLs: for simulators only.
    pub allow_plain_http: bool,
    /// Timeouts and keep-alive of the HTTP clients (`[http]`).
    pub http: HttpSettings,
    /// How long a Kite login `state` stays valid, in seconds.
    pub kite_state_ttl_seconds: u64,
}

impl Default for ConnectorSettings {
    fn default() -> Self {
        Self {
            egress: EgressPoolSettings::default(),
            angelone: BrokerEndpointSettings::default(),
            zerodha: BrokerEndpointSettings::default(),
            extra_root_certificates: Vec::new(),
            allow_plain_http: false,
            http: HttpSettings::default(),
            kite_state_ttl_seconds: 15 * 60,
        }
    }
}

/// Where one broker is reached and what policy applies to it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct BrokerEndpointSettings {
    /// The API root; `None` is the broker's production one.
    pub api_url: Option<String>,
    /// The login page (Kite); `None` is the broker's production one.
    pub login_url: Option<String>,
    /// The pre-trade policy; `None` is the broker's own (`PreTradePolicy::for_broker`).
    pub policy: Option<PreTradePolicy>,
}

/// Timeouts and keep-alive of the HTTP clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct HttpSettings {
    /// How long to wait for a connection, in milliseconds.
    pub connect_timeout_ms: u64,
    /// How long to wait for a whole request, in milliseconds.
    pub request_timeout_ms: u64,
    /// How long an idle connection is kept, in seconds: long enough that a connection
    /// opened at pre-flight ([`crate::Connector::warm`]) is still open at the slot.
    pub idle_timeout_seconds: u64,
}

impl Default for HttpSettings {
    fn default() -> Self {
        let defaults = broker_core::HttpClientConfig::default();
        Self {
            connect_timeout_ms: millis(defaults.connect_timeout),
            request_timeout_ms: millis(defaults.request_timeout),
            idle_timeout_seconds: defaults.idle_timeout.as_secs(),
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The egress IP pool.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct EgressPoolSettings {
    /// The addresses (`[[egress.addresses]]`). A single address is a pool of one.
    pub addresses: Vec<EgressAddressSettings>,
    /// Family groups by name: SEBI lets the members of one family share a static IP.
    pub families: BTreeMap<String, Vec<UserId>>,
    /// The pool spans several machines: this process uses the addresses its interfaces hold
    /// and serves only the accounts assigned to them ([`crate::Connector::serves`]). When
    /// false (one machine), every address must be on this machine or start-up fails.
    pub spans_machines: bool,
}

/// One address of the pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct EgressAddressSettings {
    /// The local interface address sockets bind to.
    pub bind: IpAddr,
    /// The address brokers see (and the account holder registers); the bind address unless
    /// a 1:1 NAT sits between.
    #[serde(default)]
    pub public: Option<IpAddr>,
    /// Kept for one user or one family; `None` lets the pool give it to any one scope.
    #[serde(default)]
    pub reserved_for: Option<EgressScope>,
}

impl EgressAddressSettings {
    /// An unreserved address seen by brokers as itself.
    pub fn new(bind: IpAddr) -> Self {
        Self {
            bind,
            public: None,
            reserved_for: None,
        }
    }

    /// The same, seen by brokers as `public` (behind a 1:1 NAT).
    #[must_use]
    pub fn with_public(mut self, public: IpAddr) -> Self {
        self.public = Some(public);
        self
    }

    /// The same, kept for `scope`.
    #[must_use]
    pub fn reserved_for(mut self, scope: EgressScope) -> Self {
        self.reserved_for = Some(scope);
        self
    }

    /// The binding: bind address and public address.
    pub fn binding(&self) -> EgressBinding {
        EgressBinding::translated(self.bind, self.public.unwrap_or(self.bind))
    }
}

/// Who may use an egress address: one user, or the members of one family group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EgressScope {
    /// One user (and all of their accounts).
    User(UserId),
    /// The members of one family group named in [`EgressPoolSettings::families`].
    Family(String),
}

impl EgressScope {
    /// A stable text naming the scope (`user:<id>` or `family:<name>`), as stored with an
    /// address claim.
    pub fn key(&self) -> String {
        match self {
            Self::User(user) => format!("user:{user}"),
            Self::Family(name) => format!("family:{name}"),
        }
    }
}

impl std::fmt::Display for EgressScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::User(user) => write!(f, "user {user}"),
            Self::Family(name) => write!(f, "family {name:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_deserialise_with_defaults_and_refuse_unknown_fields() {
        let user = UserId::new_random();
        let json = serde_json::json!({
            "allow_plain_http": true,
            "egress": {
                "families": { "sharma": [user] },
                "addresses": [
                    { "bind": "127.0.0.2" },
                    { "bind": "127.0.0.3", "public": "203.0.113.3", "reserved_for": { "family": "sharma" } },
                    { "bind": "127.0.0.4", "reserved_for": { "user": user } }
                ]
            },
            "angelone": { "api_url": "http://127.0.0.1:9" }
        });
        let settings: ConnectorSettings = serde_json::from_value(json).unwrap();
        assert!(settings.allow_plain_http);
        assert_eq!(settings.egress.addresses.len(), 3);
        assert_eq!(
            settings.egress.addresses[1].binding().public,
            "203.0.113.3".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            settings.egress.addresses[2].reserved_for,
            Some(EgressScope::User(user))
        );
        assert_eq!(settings.kite_state_ttl_seconds, 900);
        assert_eq!(settings.http, HttpSettings::default());

        let typo = serde_json::json!({ "egres": {} });
        let error = serde_json::from_value::<ConnectorSettings>(typo).unwrap_err();
        assert!(error.to_string().contains("egres"), "{error}");
    }
}
