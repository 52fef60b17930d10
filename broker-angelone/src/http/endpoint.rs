//! The SmartAPI endpoints: method, path, rate-limit quotas and how each must be treated.
//!
//! Routes as in the official SDK (`SmartApi/smartConnect.py`, `_routes`); quotas as Angel One
//! publishes them per client code.

use std::num::NonZeroU32;

use broker_core::Quota;
use reqwest::Method;

/// One SmartAPI endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Endpoint {
    /// `loginByPassword` (MPIN + TOTP).
    Login,
    /// `generateTokens`: renews the session with the refresh token.
    GenerateTokens,
    /// `getProfile`.
    Profile,
    /// `logout`.
    Logout,
    /// `getRMS`: funds and margins.
    Funds,
    /// `placeOrder`.
    PlaceOrder,
    /// `modifyOrder`.
    ModifyOrder,
    /// `cancelOrder`.
    CancelOrder,
    /// `getOrderBook`.
    OrderBook,
    /// `getTradeBook`.
    TradeBook,
    /// `getPosition`.
    Positions,
    /// `getHolding`.
    Holdings,
    /// `details/{uniqueorderid}`.
    OrderDetails,
    /// `getLtpData`.
    Ltp,
    /// `market/v1/quote`.
    Quote,
    /// `convertPosition`.
    ConvertPosition,
    /// `searchScrip`.
    SearchScrip,
}

impl Endpoint {
    /// Every endpoint.
    pub const ALL: [Endpoint; 17] = [
        Endpoint::Login,
        Endpoint::GenerateTokens,
        Endpoint::Profile,
        Endpoint::Logout,
        Endpoint::Funds,
        Endpoint::PlaceOrder,
        Endpoint::ModifyOrder,
        Endpoint::CancelOrder,
        Endpoint::OrderBook,
        Endpoint::TradeBook,
        Endpoint::Positions,
        Endpoint::Holdings,
        Endpoint::OrderDetails,
        Endpoint::Ltp,
        Endpoint::Quote,
        Endpoint::ConvertPosition,
        Endpoint::SearchScrip,
    ];

    /// The HTTP method.
    pub fn method(self) -> Method {
        match self {
            Endpoint::Profile
            | Endpoint::Funds
            | Endpoint::OrderBook
            | Endpoint::TradeBook
            | Endpoint::Positions
            | Endpoint::Holdings
            | Endpoint::OrderDetails => Method::GET,
            _ => Method::POST,
        }
    }

    /// The path; for [`Endpoint::OrderDetails`] the prefix the unique order id follows.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Login => "/rest/auth/angelbroking/user/v1/loginByPassword",
            Endpoint::GenerateTokens => "/rest/auth/angelbroking/jwt/v1/generateTokens",
            Endpoint::Profile => "/rest/secure/angelbroking/user/v1/getProfile",
            Endpoint::Logout => "/rest/secure/angelbroking/user/v1/logout",
            Endpoint::Funds => "/rest/secure/angelbroking/user/v1/getRMS",
            Endpoint::PlaceOrder => "/rest/secure/angelbroking/order/v1/placeOrder",
            Endpoint::ModifyOrder => "/rest/secure/angelbroking/order/v1/modifyOrder",
            Endpoint::CancelOrder => "/rest/secure/angelbroking/order/v1/cancelOrder",
            Endpoint::OrderBook => "/rest/secure/angelbroking/order/v1/getOrderBook",
            Endpoint::TradeBook => "/rest/secure/angelbroking/order/v1/getTradeBook",
            Endpoint::Positions => "/rest/secure/angelbroking/order/v1/getPosition",
            Endpoint::Holdings => "/rest/secure/angelbroking/portfolio/v1/getHolding",
            Endpoint::OrderDetails => "/rest/secure/angelbroking/order/v1/details/",
            Endpoint::Ltp => "/rest/secure/angelbroking/order/v1/getLtpData",
            Endpoint::Quote => "/rest/secure/angelbroking/market/v1/quote",
            Endpoint::ConvertPosition => "/rest/secure/angelbroking/order/v1/convertPosition",
            Endpoint::SearchScrip => "/rest/secure/angelbroking/order/v1/searchScrip",
        }
    }

    /// The endpoint a request path names (the order-details path carries an id after its
    /// prefix). Query strings must be removed first.
    pub fn from_path(path: &str) -> Option<Endpoint> {
        Endpoint::ALL.into_iter().find(|endpoint| match endpoint {
            Endpoint::OrderDetails => path
                .strip_prefix(endpoint.path())
                .is_some_and(|id| !id.is_empty() && !id.contains('/')),
            _ => path == endpoint.path(),
        })
    }

    /// Whether the call places, changes or cancels an order: such a call is never repeated
    /// once it may have reached the broker, and the broker checks the source IP on it.
    pub fn changes_orders(self) -> bool {
        matches!(
            self,
            Endpoint::PlaceOrder | Endpoint::ModifyOrder | Endpoint::CancelOrder
        )
    }

    /// Whether the call needs the session's bearer token.
    pub fn needs_session(self) -> bool {
        self != Endpoint::Login
    }

    /// Whether request and response bodies carry credentials or tokens, so must never be
    /// logged.
    pub fn carries_secrets(self) -> bool {
        matches!(self, Endpoint::Login | Endpoint::GenerateTokens)
    }

    /// The per-client quotas for this endpoint: Angel One's published ones, and for order
    /// placement the tighter regulatory cap of 10 orders a second (more needs the strategy
    /// registered with the exchange), so that a burst of orders is paced rather than refused.
    pub fn quotas(self) -> Vec<Quota> {
        let per_second = |count| Quota::per_second(nonzero(count));
        match self {
            Endpoint::Login | Endpoint::GenerateTokens => vec![per_second(1)],
            Endpoint::Profile => vec![per_second(3)],
            Endpoint::Funds => vec![per_second(2)],
            Endpoint::PlaceOrder => vec![
                per_second(REGULATORY_ORDERS_PER_SECOND),
                Quota::per_minute(nonzero(500)),
                Quota::per_hour(nonzero(1000)),
            ],
            Endpoint::ModifyOrder | Endpoint::CancelOrder => vec![
                per_second(20),
                Quota::per_minute(nonzero(500)),
                Quota::per_hour(nonzero(1000)),
            ],
            Endpoint::OrderBook
            | Endpoint::TradeBook
            | Endpoint::Positions
            | Endpoint::Holdings
            | Endpoint::SearchScrip => vec![per_second(1)],
            Endpoint::OrderDetails
            | Endpoint::Ltp
            | Endpoint::Quote
            | Endpoint::ConvertPosition => vec![per_second(10)],
            // Angel publishes no figure for logout; one a second is ample.
            Endpoint::Logout => vec![per_second(1)],
        }
    }
}

/// Orders a second one client may send without registering the strategy (SEBI, April 2026).
const REGULATORY_ORDERS_PER_SECOND: u32 = 10;

fn nonzero(count: u32) -> NonZeroU32 {
    NonZeroU32::new(count).unwrap_or(NonZeroU32::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_maps_back_to_its_endpoint() {
        for endpoint in Endpoint::ALL {
            let path = match endpoint {
                Endpoint::OrderDetails => format!("{}abc123", endpoint.path()),
                _ => endpoint.path().to_owned(),
            };
            assert_eq!(Endpoint::from_path(&path), Some(endpoint), "{path}");
        }
        assert_eq!(Endpoint::from_path(Endpoint::OrderDetails.path()), None);
        assert_eq!(Endpoint::from_path("/rest/secure/other"), None);
    }

    #[test]
    fn only_order_changes_are_never_repeated_and_only_login_needs_no_session() {
        for endpoint in Endpoint::ALL {
            assert_eq!(
                endpoint.changes_orders(),
                matches!(
                    endpoint,
                    Endpoint::PlaceOrder | Endpoint::ModifyOrder | Endpoint::CancelOrder
                )
            );
            assert_eq!(endpoint.needs_session(), endpoint != Endpoint::Login);
            assert!(!endpoint.quotas().is_empty());
        }
    }
}
