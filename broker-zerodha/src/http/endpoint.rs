//! The Kite Connect endpoints: method, path, what kind of call each is, and which quota it
//! draws on.
//!
//! Routes as documented at <https://kite.trade/docs/connect/v3/> and used by the official
//! SDKs. Paths with parameters (`{variety}`, `{order_id}`, `{segment}`) are filled from
//! percent-encoded path segments only ([`Endpoint::url`]), so a value can never leave its
//! segment: `../../session/token` or `1?x=y` stay one segment.

use broker_core::transport::CallKind;
use broker_core::{BrokerError, BrokerKind, EndpointClass, OrderId, ValidationError, Variety};
use reqwest::{Method, Url};

/// The longest order id accepted (Kite's are 15 to 18 digits).
const MAX_ORDER_ID_LEN: usize = 64;

/// A margin segment of `GET /user/margins/{segment}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarginSegment {
    /// Equity and derivatives.
    Equity,
    /// Commodities.
    Commodity,
}

impl MarginSegment {
    /// The `{segment}` path parameter.
    pub(crate) fn segment(self) -> &'static str {
        match self {
            Self::Equity => "equity",
            Self::Commodity => "commodity",
        }
    }
}

/// The `{variety}` path parameter.
///
/// # Errors
/// [`BrokerError::Unsupported`] for bracket orders, which Kite discontinued.
pub(crate) fn variety_segment(variety: Variety) -> Result<&'static str, BrokerError> {
    match variety {
        Variety::Regular => Ok("regular"),
        Variety::Amo => Ok("amo"),
        Variety::Cover => Ok("co"),
        Variety::Iceberg => Ok("iceberg"),
        Variety::Auction => Ok("auction"),
        _ => Err(BrokerError::Unsupported {
            broker: BrokerKind::Zerodha,
            operation: "bracket orders",
        }),
    }
}

/// The `{order_id}` path parameter: ASCII letters and digits only, so it cannot name another
/// path or add query parameters.
///
/// # Errors
/// [`ValidationError::MalformedOrderId`] (nothing was sent) for any other id.
pub(crate) fn order_id_segment(order_id: &OrderId) -> Result<&str, BrokerError> {
    let id = order_id.as_str();
    if id.is_empty()
        || id.len() > MAX_ORDER_ID_LEN
        || !id.bytes().all(|byte| byte.is_ascii_alphanumeric())
    {
        return Err(ValidationError::malformed_order_id(BrokerKind::Zerodha, id).into());
    }
    Ok(id)
}

/// One Kite Connect endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Endpoint {
    /// `POST /session/token`: exchanges the login's request token for a session.
    GenerateSession,
    /// `POST /session/refresh_token`: renews a session (approved platforms only).
    RenewAccessToken,
    /// `DELETE /session/token`: ends a session.
    InvalidateAccessToken,
    /// `GET /user/profile`.
    Profile,
    /// `GET /user/margins`: funds of every segment.
    Funds,
    /// `GET /user/margins/{segment}`.
    SegmentFunds,
    /// `POST /orders/{variety}`.
    PlaceOrder,
    /// `PUT /orders/{variety}/{order_id}`.
    ModifyOrder,
    /// `DELETE /orders/{variety}/{order_id}`.
    CancelOrder,
    /// `GET /orders`: the day's order book.
    OrderBook,
    /// `GET /orders/{order_id}`: one order's states.
    OrderHistory,
    /// `GET /orders/{order_id}/trades`: one order's fills.
    OrderTrades,
    /// `GET /trades`: the day's fills.
    TradeBook,
    /// `GET /portfolio/positions`.
    Positions,
    /// `PUT /portfolio/positions`: converts a position to another product.
    ConvertPosition,
    /// `GET /portfolio/holdings`.
    Holdings,
    /// `GET /quote`: full quotes.
    Quote,
    /// `GET /quote/ohlc`.
    Ohlc,
    /// `GET /quote/ltp`: last prices.
    Ltp,
    /// `GET /instruments`: the instrument master (CSV).
    Instruments,
}

impl Endpoint {
    /// Every endpoint.
    pub const ALL: [Endpoint; 20] = [
        Endpoint::GenerateSession,
        Endpoint::RenewAccessToken,
        Endpoint::InvalidateAccessToken,
        Endpoint::Profile,
        Endpoint::Funds,
        Endpoint::SegmentFunds,
        Endpoint::PlaceOrder,
        Endpoint::ModifyOrder,
        Endpoint::CancelOrder,
        Endpoint::OrderBook,
        Endpoint::OrderHistory,
        Endpoint::OrderTrades,
        Endpoint::TradeBook,
        Endpoint::Positions,
        Endpoint::ConvertPosition,
        Endpoint::Holdings,
        Endpoint::Quote,
        Endpoint::Ohlc,
        Endpoint::Ltp,
        Endpoint::Instruments,
    ];

    /// The HTTP method.
    pub fn method(self) -> Method {
        match self {
            Endpoint::GenerateSession | Endpoint::RenewAccessToken | Endpoint::PlaceOrder => {
                Method::POST
            }
            Endpoint::ModifyOrder | Endpoint::ConvertPosition => Method::PUT,
            Endpoint::InvalidateAccessToken | Endpoint::CancelOrder => Method::DELETE,
            _ => Method::GET,
        }
    }

    /// The path, with `{name}` where a parameter goes.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::GenerateSession | Endpoint::InvalidateAccessToken => "/session/token",
            Endpoint::RenewAccessToken => "/session/refresh_token",
            Endpoint::Profile => "/user/profile",
            Endpoint::Funds => "/user/margins",
            Endpoint::SegmentFunds => "/user/margins/{segment}",
            Endpoint::PlaceOrder => "/orders/{variety}",
            Endpoint::ModifyOrder | Endpoint::CancelOrder => "/orders/{variety}/{order_id}",
            Endpoint::OrderBook => "/orders",
            Endpoint::OrderHistory => "/orders/{order_id}",
            Endpoint::OrderTrades => "/orders/{order_id}/trades",
            Endpoint::TradeBook => "/trades",
            Endpoint::Positions | Endpoint::ConvertPosition => "/portfolio/positions",
            Endpoint::Holdings => "/portfolio/holdings",
            Endpoint::Quote => "/quote",
            Endpoint::Ohlc => "/quote/ohlc",
            Endpoint::Ltp => "/quote/ltp",
            Endpoint::Instruments => "/instruments",
        }
    }

    /// What kind of call it is, which decides how its failures are reported
    /// (`broker_core::transport`). Converting a position changes the account like an order
    /// change does, so an ambiguous failure of it is never reported as safe to repeat.
    pub fn call_kind(self) -> CallKind {
        match self {
            Endpoint::GenerateSession
            | Endpoint::RenewAccessToken
            | Endpoint::InvalidateAccessToken => CallKind::Session,
            Endpoint::PlaceOrder => CallKind::PlaceOrder,
            Endpoint::ModifyOrder | Endpoint::ConvertPosition => CallKind::ModifyOrder,
            Endpoint::CancelOrder => CallKind::CancelOrder,
            _ => CallKind::Read,
        }
    }

    /// The quota class it draws on.
    pub fn class(self) -> EndpointClass {
        match self {
            Endpoint::GenerateSession
            | Endpoint::RenewAccessToken
            | Endpoint::InvalidateAccessToken => EndpointClass::Session,
            Endpoint::Profile => EndpointClass::Profile,
            Endpoint::Funds | Endpoint::SegmentFunds => EndpointClass::Funds,
            Endpoint::PlaceOrder => EndpointClass::PlaceOrder,
            Endpoint::ModifyOrder => EndpointClass::ModifyOrder,
            Endpoint::CancelOrder => EndpointClass::CancelOrder,
            Endpoint::OrderBook => EndpointClass::OrderBook,
            Endpoint::OrderHistory => EndpointClass::OrderDetails,
            Endpoint::OrderTrades | Endpoint::TradeBook => EndpointClass::TradeBook,
            Endpoint::Positions => EndpointClass::Positions,
            Endpoint::ConvertPosition => EndpointClass::ConvertPosition,
            Endpoint::Holdings => EndpointClass::Holdings,
            Endpoint::Quote | Endpoint::Ohlc => EndpointClass::Quote,
            Endpoint::Ltp => EndpointClass::LastPrice,
            Endpoint::Instruments => EndpointClass::Instruments,
        }
    }

    /// A short name for messages and logs (`place order`).
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::GenerateSession => "token exchange",
            Endpoint::RenewAccessToken => "session renewal",
            Endpoint::InvalidateAccessToken => "logout",
            Endpoint::Profile => "profile",
            Endpoint::Funds => "funds",
            Endpoint::SegmentFunds => "segment funds",
            Endpoint::PlaceOrder => "place order",
            Endpoint::ModifyOrder => "modify order",
            Endpoint::CancelOrder => "cancel order",
            Endpoint::OrderBook => "order book",
            Endpoint::OrderHistory => "order history",
            Endpoint::OrderTrades => "order trades",
            Endpoint::TradeBook => "trade book",
            Endpoint::Positions => "positions",
            Endpoint::ConvertPosition => "convert position",
            Endpoint::Holdings => "holdings",
            Endpoint::Quote => "quote",
            Endpoint::Ohlc => "OHLC quote",
            Endpoint::Ltp => "last prices",
            Endpoint::Instruments => "instrument master",
        }
    }

    /// Whether Kite checks the caller's IP against the app's whitelist (order calls only).
    pub fn checks_ip(self) -> bool {
        matches!(
            self,
            Endpoint::PlaceOrder | Endpoint::ModifyOrder | Endpoint::CancelOrder
        )
    }

    /// Whether the call needs the session's `Authorization` header.
    pub fn needs_session(self) -> bool {
        !matches!(
            self,
            Endpoint::GenerateSession
                | Endpoint::RenewAccessToken
                | Endpoint::InvalidateAccessToken
        )
    }

    /// The URL of this endpoint under `base`, its `{parameters}` filled in order from
    /// `parameters`, each one percent-encoded as a single path segment. `None` when
    /// `parameters` does not fit the path (too few or too many, empty, `.` or `..`, which a
    /// URL treats as moves between segments) or `base` cannot take a path.
    pub fn url(self, base: &Url, parameters: &[&str]) -> Option<Url> {
        let mut url = base.clone();
        let mut remaining = parameters.iter();
        {
            let mut segments = url.path_segments_mut().ok()?;
            segments.pop_if_empty();
            for part in self.path().split('/').skip(1) {
                if part.starts_with('{') {
                    let value = remaining
                        .next()
                        .filter(|value| !matches!(**value, "" | "." | ".."))?;
                    segments.push(value);
                } else {
                    segments.push(part);
                }
            }
        }
        remaining.next().is_none().then_some(url)
    }

    /// The endpoint a request names (the simulator's routing of faults and logs).
    pub fn from_request(method: &Method, path: &str) -> Option<Endpoint> {
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
        Endpoint::ALL.into_iter().find(|endpoint| {
            let template: Vec<&str> = endpoint.path().split('/').skip(1).collect();
            endpoint.method() == method
                && template.len() == segments.len()
                && template.iter().zip(&segments).all(|(expected, seen)| {
                    (expected.starts_with('{') && !seen.is_empty()) || expected == seen
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://api.kite.trade").unwrap()
    }

    #[test]
    fn every_endpoint_is_found_again_from_its_method_and_filled_path() {
        for endpoint in Endpoint::ALL {
            let parameters: Vec<&str> = endpoint
                .path()
                .split('/')
                .filter(|part| part.starts_with('{'))
                .map(|_| "x1")
                .collect();
            let url = endpoint.url(&base(), &parameters).unwrap();
            assert_eq!(
                Endpoint::from_request(&endpoint.method(), url.path()),
                Some(endpoint),
                "{url}"
            );
        }
        assert_eq!(Endpoint::from_request(&Method::GET, "/nope"), None);
        assert_eq!(Endpoint::from_request(&Method::POST, "/orders"), None);
    }

    #[test]
    fn parameters_stay_inside_their_own_path_segment() {
        for hostile in [
            "../../session/token",
            "1?api_key=x&y=z",
            "1#frag",
            "a/b",
            "%2e%2e",
            "./.",
        ] {
            let url = Endpoint::CancelOrder
                .url(&base(), &["regular", hostile])
                .unwrap();
            assert!(
                url.path().starts_with("/orders/regular/"),
                "{hostile}: {url}"
            );
            assert_eq!(url.query(), None, "{hostile}: {url}");
            assert_eq!(url.fragment(), None, "{hostile}: {url}");
            assert_eq!(url.path_segments().unwrap().count(), 3, "{hostile}: {url}");
        }
    }

    #[test]
    fn order_ids_must_be_letters_and_digits() {
        for good in ["250102000123456", "abc123"] {
            assert!(order_id_segment(&OrderId::new(good)).is_ok(), "{good}");
        }
        for bad in [
            "",
            "../../session/token",
            "1?x=y",
            "1 2",
            "१२",
            &"9".repeat(65),
        ] {
            assert!(order_id_segment(&OrderId::new(bad)).is_err(), "{bad}");
        }
        assert!(matches!(
            variety_segment(Variety::Bracket),
            Err(BrokerError::Unsupported { .. })
        ));
    }

    #[test]
    fn parameters_must_fit_the_path() {
        assert!(Endpoint::CancelOrder.url(&base(), &["regular"]).is_none());
        for unusable in ["", ".", ".."] {
            assert!(
                Endpoint::CancelOrder
                    .url(&base(), &["regular", unusable])
                    .is_none()
            );
        }
        assert!(Endpoint::OrderBook.url(&base(), &["extra"]).is_none());
        let under_a_path = Url::parse("https://proxy.example/kite/").unwrap();
        assert_eq!(
            Endpoint::OrderBook
                .url(&under_a_path, &[])
                .unwrap()
                .as_str(),
            "https://proxy.example/kite/orders"
        );
    }

    #[test]
    fn only_order_calls_are_ip_checked_and_only_session_calls_go_without_a_session() {
        for endpoint in Endpoint::ALL {
            assert_eq!(
                endpoint.checks_ip(),
                endpoint.call_kind().changes_orders() && endpoint != Endpoint::ConvertPosition
            );
            assert_eq!(
                endpoint.needs_session(),
                endpoint.call_kind() != CallKind::Session
            );
        }
    }
}
