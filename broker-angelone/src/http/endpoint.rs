//! The SmartAPI endpoints: method, path, what kind of call each is and which quota it draws on.
//!
//! Routes as in the official SDK (`SmartApi/smartConnect.py`, `_routes`).

use broker_core::transport::CallKind;
use broker_core::{BrokerError, BrokerKind, EndpointClass, ValidationError};
use reqwest::Method;

/// The longest order id (or unique order id) this crate sends: SmartAPI's order ids have 15
/// digits and its unique order ids are UUIDs (36 characters).
const MAX_ORDER_ID_LEN: usize = 64;

/// An order id (`orderid`) or unique order id (`uniqueorderid`, which goes into the
/// order-details path) as SmartAPI issues them: 1 to 64 ASCII letters, digits and `-`.
///
/// # Errors
/// [`ValidationError::MalformedOrderId`] for any other id: it is refused before it can reach a
/// path or a body.
pub(crate) fn order_id_param(id: &str) -> Result<&str, BrokerError> {
    if id.is_empty()
        || id.len() > MAX_ORDER_ID_LEN
        || !id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
    {
        let shown: String = id.chars().take(MAX_ORDER_ID_LEN).collect();
        return Err(ValidationError::MalformedOrderId {
            broker: BrokerKind::AngelOne,
            id: shown,
        }
        .into());
    }
    Ok(id)
}

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
    /// `getAllHolding`: holdings with their totals.
    AllHoldings,
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
    /// `historical/v1/getCandleData`.
    CandleData,
}

impl Endpoint {
    /// Every endpoint.
    pub const ALL: [Endpoint; 19] = [
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
        Endpoint::AllHoldings,
        Endpoint::OrderDetails,
        Endpoint::Ltp,
        Endpoint::Quote,
        Endpoint::ConvertPosition,
        Endpoint::SearchScrip,
        Endpoint::CandleData,
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
            | Endpoint::AllHoldings
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
            Endpoint::AllHoldings => "/rest/secure/angelbroking/portfolio/v1/getAllHolding",
            Endpoint::OrderDetails => "/rest/secure/angelbroking/order/v1/details/",
            Endpoint::Ltp => "/rest/secure/angelbroking/order/v1/getLtpData",
            Endpoint::Quote => "/rest/secure/angelbroking/market/v1/quote",
            Endpoint::ConvertPosition => "/rest/secure/angelbroking/order/v1/convertPosition",
            Endpoint::SearchScrip => "/rest/secure/angelbroking/order/v1/searchScrip",
            Endpoint::CandleData => "/rest/secure/angelbroking/historical/v1/getCandleData",
        }
    }

    /// The endpoint of a short name ([`Endpoint::name`]).
    pub fn from_name(name: &str) -> Option<Endpoint> {
        Endpoint::ALL
            .into_iter()
            .find(|endpoint| endpoint.name().eq_ignore_ascii_case(name.trim()))
    }

    /// The endpoint's position in [`Endpoint::ALL`].
    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// A short name for messages and logs (`placeOrder`, `getRMS`, ...).
    pub fn name(self) -> &'static str {
        let path = self.path().trim_end_matches('/');
        path.rsplit('/').next().unwrap_or(path)
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

    /// What kind of call it is, which decides how its failures are classified
    /// ([`broker_core::transport`]): an order call whose answer is lost has an unknown outcome.
    pub fn call_kind(self) -> CallKind {
        match self {
            Endpoint::Login | Endpoint::GenerateTokens | Endpoint::Logout => CallKind::Session,
            Endpoint::PlaceOrder => CallKind::PlaceOrder,
            Endpoint::ModifyOrder => CallKind::ModifyOrder,
            Endpoint::CancelOrder => CallKind::CancelOrder,
            Endpoint::Profile
            | Endpoint::Funds
            | Endpoint::OrderBook
            | Endpoint::TradeBook
            | Endpoint::Positions
            | Endpoint::Holdings
            | Endpoint::AllHoldings
            | Endpoint::OrderDetails
            | Endpoint::Ltp
            | Endpoint::Quote
            | Endpoint::ConvertPosition
            | Endpoint::SearchScrip
            | Endpoint::CandleData => CallKind::Read,
        }
    }

    /// The quota class it draws on ([`crate::default_quota_rules`]).
    pub fn class(self) -> EndpointClass {
        match self {
            Endpoint::Login => EndpointClass::Login,
            Endpoint::GenerateTokens | Endpoint::Logout => EndpointClass::Session,
            Endpoint::Profile => EndpointClass::Profile,
            Endpoint::Funds => EndpointClass::Funds,
            Endpoint::PlaceOrder => EndpointClass::PlaceOrder,
            Endpoint::ModifyOrder => EndpointClass::ModifyOrder,
            Endpoint::CancelOrder => EndpointClass::CancelOrder,
            Endpoint::OrderBook => EndpointClass::OrderBook,
            Endpoint::TradeBook => EndpointClass::TradeBook,
            Endpoint::Positions => EndpointClass::Positions,
            Endpoint::Holdings | Endpoint::AllHoldings => EndpointClass::Holdings,
            Endpoint::OrderDetails => EndpointClass::OrderDetails,
            Endpoint::Ltp => EndpointClass::LastPrice,
            Endpoint::Quote => EndpointClass::Quote,
            Endpoint::ConvertPosition => EndpointClass::ConvertPosition,
            Endpoint::SearchScrip => EndpointClass::InstrumentSearch,
            Endpoint::CandleData => EndpointClass::Historical,
        }
    }

    /// Whether the call needs the session's bearer token.
    pub fn needs_session(self) -> bool {
        self != Endpoint::Login
    }

    /// Whether request or response bodies carry credentials or tokens, so that nothing about
    /// them is ever logged or quoted.
    pub fn carries_secrets(self) -> bool {
        matches!(self, Endpoint::Login | Endpoint::GenerateTokens)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_indexes_its_own_place_in_all() {
        for (position, endpoint) in Endpoint::ALL.into_iter().enumerate() {
            assert_eq!(endpoint.index(), position, "{endpoint:?}");
        }
    }

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
        assert_eq!(Endpoint::PlaceOrder.name(), "placeOrder");
        for endpoint in Endpoint::ALL {
            assert_eq!(Endpoint::from_name(endpoint.name()), Some(endpoint));
        }
        assert_eq!(Endpoint::OrderDetails.name(), "details");
    }

    #[test]
    fn order_ids_smartapi_never_issues_are_refused_as_malformed() {
        for good in [
            "201020000000080",
            "0",
            "c0a2d6b3-4f1e-4b8a-9d55-2f0e1b7c9a10",
        ] {
            assert_eq!(order_id_param(good), Ok(good));
        }
        let too_long = "9".repeat(MAX_ORDER_ID_LEN + 1);
        for bad in [
            "",
            "12/../../logout",
            "12?x=1",
            "12 3",
            "१२३",
            too_long.as_str(),
        ] {
            let error = order_id_param(bad).unwrap_err();
            assert!(
                matches!(
                    &error,
                    BrokerError::Validation(ValidationError::MalformedOrderId {
                        broker: BrokerKind::AngelOne,
                        id,
                    }) if id.len() <= MAX_ORDER_ID_LEN * 3
                ),
                "{bad:?}: {error:?}"
            );
            assert_eq!(
                error.placement_outcome(),
                broker_core::PlacementOutcome::NotPlaced
            );
        }
    }

    #[test]
    fn only_place_modify_and_cancel_are_order_calls_and_only_login_needs_no_session() {
        for endpoint in Endpoint::ALL {
            assert_eq!(
                endpoint.call_kind().changes_orders(),
                matches!(
                    endpoint,
                    Endpoint::PlaceOrder | Endpoint::ModifyOrder | Endpoint::CancelOrder
                ),
                "{endpoint:?}"
            );
            assert_eq!(endpoint.needs_session(), endpoint != Endpoint::Login);
        }
    }
}
