//! The outcome of verifying an account against its broker, as the server answers it.

use std::net::IpAddr;

use broker_core::{BrokerError, BrokerKind};
use serde::{Deserialize, Serialize};
use vault::AccountStatus;

/// What verifying an account found (serde: `{"outcome": "ip_not_whitelisted", ...}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Verification {
    /// Logged in from the egress IP, and the broker accepts order calls from it.
    Connected,
    /// The broker refuses order calls from the account's egress IP.
    IpNotWhitelisted {
        /// The public IP the account holder must register.
        ip: IpAddr,
        /// The broker to register it with.
        broker: BrokerKind,
        /// Where and how to register it.
        instructions: String,
    },
    /// The broker refused the credentials.
    InvalidCredentials {
        /// The broker's reason (never a secret).
        message: String,
    },
    /// The broker refused the TOTP code made from the stored secret.
    InvalidTotp,
    /// A Kite account without a valid session: the holder logs in at `login_url`.
    NeedsLogin {
        /// The Kite login page with a signed `state`.
        login_url: String,
    },
    /// The broker could not be reached or failed.
    BrokerUnreachable {
        /// What went wrong (never a secret).
        message: String,
    },
}

impl Verification {
    /// The account status this outcome sets.
    pub fn status(&self) -> AccountStatus {
        match self {
            Self::Connected => AccountStatus::Active,
            Self::IpNotWhitelisted { .. } => AccountStatus::IpNotWhitelisted,
            Self::InvalidCredentials { .. } => AccountStatus::InvalidCredentials,
            Self::InvalidTotp => AccountStatus::InvalidTotp,
            Self::NeedsLogin { .. } => AccountStatus::NeedsLogin,
            Self::BrokerUnreachable { .. } => AccountStatus::BrokerUnreachable,
        }
    }

    /// The outcome of a broker's refusal of a login or of the whitelist probe, for an account
    /// whose broker sees it as `public`. `login_url` makes the Kite login page when the
    /// session is refused.
    pub(crate) fn from_refusal(
        error: &BrokerError,
        broker: BrokerKind,
        public: IpAddr,
        login_url: impl FnOnce() -> String,
    ) -> Self {
        match error {
            BrokerError::IpNotWhitelisted { .. } => Self::IpNotWhitelisted {
                ip: public,
                broker,
                instructions: registration_instructions(broker, public),
            },
            BrokerError::InvalidCredentials { message } => Self::InvalidCredentials {
                message: message.clone(),
            },
            BrokerError::InvalidTotp { .. } => Self::InvalidTotp,
            BrokerError::SessionExpired { .. } if broker == BrokerKind::Zerodha => {
                Self::NeedsLogin {
                    login_url: login_url(),
                }
            }
            other => Self::BrokerUnreachable {
                message: other.to_string(),
            },
        }
    }
}

/// Where the account holder registers `ip` for `broker`.
pub fn registration_instructions(broker: BrokerKind, ip: IpAddr) -> String {
    match broker {
        BrokerKind::AngelOne => format!(
            "Register {ip} as the static IP of your SmartAPI app: log in at https://smartapi.angelbroking.com, open My Profile > My APIs, edit the app and set its primary static IP to {ip}; then verify the account again."
        ),
        BrokerKind::Zerodha => format!(
            "Add {ip} to the IP whitelist of your Kite Connect developer account: log in at https://developers.kite.trade, open Profile (top right), enter {ip} under IP Whitelist and click Update (it applies to every app of that developer account; the exchange allows one change per calendar week); then verify the account again."
        ),
        other => format!(
            "Register {ip} as the static IP of your {other} account; then verify the account again."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_serialise_with_their_tag_and_set_their_status() {
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        let refused = Verification::from_refusal(
            &BrokerError::IpNotWhitelisted {
                ip: Some("10.0.0.7".parse().unwrap()),
                message: "AG7002".into(),
            },
            BrokerKind::AngelOne,
            ip,
            || unreachable!(),
        );
        let json = serde_json::to_value(&refused).unwrap();
        assert_eq!(json["outcome"], "ip_not_whitelisted");
        assert_eq!(json["ip"], "203.0.113.7");
        assert_eq!(json["broker"], "angel_one");
        assert!(
            json["instructions"]
                .as_str()
                .unwrap()
                .contains("203.0.113.7")
        );
        assert_eq!(refused.status(), AccountStatus::IpNotWhitelisted);
        assert_eq!(
            serde_json::to_value(Verification::InvalidTotp).unwrap(),
            serde_json::json!({ "outcome": "invalid_totp" })
        );
        let expired = BrokerError::SessionExpired {
            message: "TokenException".into(),
        };
        assert_eq!(
            Verification::from_refusal(&expired, BrokerKind::Zerodha, ip, || "url".into()),
            Verification::NeedsLogin {
                login_url: "url".into()
            }
        );
        assert!(matches!(
            Verification::from_refusal(&expired, BrokerKind::AngelOne, ip, || "url".into()),
            Verification::BrokerUnreachable { .. }
        ));
    }
}
