//! The `Broker` trait every broker implementation provides.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use crate::session::LoginMode;
use crate::{
    Funds, Holding, InstrumentRef, LastPrice, Order, OrderHistory, OrderId, OrderModification,
    OrderRequest, OrderTag, Position, Profile, Quote, Result, Trade, Variety,
};

/// Which broker an account or a session belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BrokerKind {
    /// Angel One SmartAPI.
    AngelOne,
    /// Zerodha Kite Connect.
    Zerodha,
    /// The in-memory paper broker.
    Paper,
}

impl BrokerKind {
    /// The stable lower-case name used in storage and configuration (`angel_one`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            BrokerKind::AngelOne => "angel_one",
            BrokerKind::Zerodha => "zerodha",
            BrokerKind::Paper => "paper",
        }
    }

    /// The IST wall-clock time at which this broker's sessions end (Angel One 05:00, Zerodha
    /// 06:00, the next day when logged in after it); `None` when sessions never expire.
    pub fn session_expiry_time(self) -> Option<NaiveTime> {
        let hour = match self {
            BrokerKind::AngelOne => 5,
            BrokerKind::Zerodha => 6,
            BrokerKind::Paper => return None,
        };
        NaiveTime::from_hms_opt(hour, 0, 0)
    }

    /// When a session started at `logged_in_at` ends; `None` when it never does.
    pub fn session_expires_at(self, logged_in_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.session_expiry_time()
            .map(|time| crate::ist::next(logged_in_at, time))
    }

    /// How this broker's sessions are obtained.
    pub fn login_mode(self) -> LoginMode {
        match self {
            BrokerKind::Zerodha => LoginMode::Interactive,
            BrokerKind::AngelOne | BrokerKind::Paper => LoginMode::Automatic,
        }
    }
}

impl fmt::Display for BrokerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BrokerKind::AngelOne => "Angel One",
            BrokerKind::Zerodha => "Zerodha",
            BrokerKind::Paper => "paper broker",
        })
    }
}

/// The text did not name a known broker.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown broker {0:?}: expected angel_one, zerodha or paper")]
pub struct UnknownBroker(pub String);

impl std::str::FromStr for BrokerKind {
    type Err = UnknownBroker;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        [BrokerKind::AngelOne, BrokerKind::Zerodha, BrokerKind::Paper]
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| UnknownBroker(s.to_owned()))
    }
}

/// What the broker answered to a placement: everything needed to find the order again, also
/// after a restart (store it in the journal).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Placement {
    /// The broker's order id.
    pub order_id: OrderId,
    /// A second reference the broker issued for the order, when it has one (Angel One's
    /// `uniqueorderid`, which its order-details endpoint takes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker_reference: Option<String>,
}

impl Placement {
    /// A placement known by its order id alone.
    pub fn new(order_id: OrderId) -> Self {
        Self {
            order_id,
            broker_reference: None,
        }
    }

    /// The same placement with the broker's second reference.
    #[must_use]
    pub fn with_broker_reference(mut self, reference: impl Into<String>) -> Self {
        self.broker_reference = Some(reference.into());
        self
    }
}

/// A live session with one broker account.
///
/// Object-safe, so adapters hold `Arc<dyn Broker>`; every future is `Send`. Implementations
/// never repeat an order call whose outcome is unknown: they return
/// [`crate::BrokerError::OrderOutcomeUnknown`] and leave reconciliation to the caller.
///
/// # Cancel safety
///
/// Reads (profile, funds, order book, ...) are cancel safe: dropping the future abandons the
/// answer and changes nothing. Dropping the future of an order call (place, modify, cancel)
/// after its request left has the same meaning as a timeout: the broker may have executed
/// it. Treat it as [`crate::BrokerError::OrderOutcomeUnknown`] and look the order up by its
/// tag ([`Broker::orders_with_tag`]) before sending it again.
#[async_trait]
pub trait Broker: Send + Sync {
    /// Which broker this is.
    fn kind(&self) -> BrokerKind;

    /// The account's profile.
    ///
    /// # Errors
    /// Any [`crate::BrokerError`] the broker reports.
    async fn profile(&self) -> Result<Profile>;

    /// Cash and margin available.
    ///
    /// # Errors
    /// Any [`crate::BrokerError`] the broker reports.
    async fn funds(&self) -> Result<Funds>;

    /// Places an order and returns the broker's references to it. Acceptance by the broker is
    /// not a fill: the order may still be rejected by the exchange, so follow it with
    /// [`Broker::order`]. Not cancel safe (see the trait docs).
    ///
    /// # Errors
    /// [`crate::BrokerError::OrderRejected`] when refused,
    /// [`crate::BrokerError::OrderOutcomeUnknown`] when the answer was lost, or any other;
    /// [`crate::BrokerError::placement_outcome`] says whether an order may exist.
    async fn place_order(&self, request: &OrderRequest) -> Result<Placement>;

    /// Changes an open order. Not cancel safe (see the trait docs).
    ///
    /// # Errors
    /// As for [`Broker::place_order`], and [`crate::BrokerError::OrderNotFound`].
    async fn modify_order(&self, order_id: &OrderId, change: &OrderModification)
    -> Result<OrderId>;

    /// Cancels an open order. Not cancel safe (see the trait docs).
    ///
    /// # Errors
    /// As for [`Broker::modify_order`].
    async fn cancel_order(&self, order_id: &OrderId, variety: Variety) -> Result<OrderId>;

    /// The day's order book.
    ///
    /// # Errors
    /// Any [`crate::BrokerError`] the broker reports.
    async fn orders(&self) -> Result<Vec<Order>>;

    /// The day's orders placed with this tag: how an order whose placement had an unknown
    /// outcome is found. The default searches [`Broker::orders`]; a broker that can filter
    /// faster overrides it.
    ///
    /// # Errors
    /// Any [`crate::BrokerError`] the broker reports: only a successful answer proves that
    /// no order carries the tag.
    async fn orders_with_tag(&self, tag: &OrderTag) -> Result<Vec<Order>> {
        let mut orders = self.orders().await?;
        orders.retain(|order| order.tag.as_deref() == Some(tag.as_str()));
        Ok(orders)
    }

    /// One order's current state and the states it went through.
    ///
    /// # Errors
    /// [`crate::BrokerError::OrderNotFound`], or any other the broker reports.
    async fn order(&self, order_id: &OrderId) -> Result<OrderHistory>;

    /// The day's fills.
    ///
    /// # Errors
    /// Any [`crate::BrokerError`] the broker reports.
    async fn trades(&self) -> Result<Vec<Trade>>;

    /// The day's net positions.
    ///
    /// # Errors
    /// Any [`crate::BrokerError`] the broker reports.
    async fn positions(&self) -> Result<Vec<Position>>;

    /// Long-term holdings.
    ///
    /// # Errors
    /// Any [`crate::BrokerError`] the broker reports.
    async fn holdings(&self) -> Result<Vec<Holding>>;

    /// Full quotes for these instruments; unknown instruments are left out.
    ///
    /// # Errors
    /// Any [`crate::BrokerError`] the broker reports.
    async fn quotes(&self, instruments: &[InstrumentRef]) -> Result<Vec<Quote>>;

    /// Last traded prices for these instruments; unknown instruments are left out.
    ///
    /// # Errors
    /// Any [`crate::BrokerError`] the broker reports.
    async fn last_prices(&self, instruments: &[InstrumentRef]) -> Result<Vec<LastPrice>>;

    /// Ends the session at the broker.
    ///
    /// # Errors
    /// Any [`crate::BrokerError`] the broker reports.
    async fn logout(&self) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_kind_round_trips_through_its_storage_name_and_serde() {
        for kind in [BrokerKind::AngelOne, BrokerKind::Zerodha, BrokerKind::Paper] {
            assert_eq!(kind.as_str().parse::<BrokerKind>(), Ok(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<BrokerKind>(&json).unwrap(), kind);
        }
        assert!("upstox".parse::<BrokerKind>().is_err());
    }

    #[test]
    fn session_expiry_and_login_mode_are_known_per_broker() {
        let login: DateTime<Utc> = "2026-12-02T03:45:00Z".parse().unwrap(); // 09:15 IST
        assert_eq!(
            BrokerKind::AngelOne.session_expires_at(login),
            Some("2026-12-02T23:30:00Z".parse().unwrap())
        );
        assert_eq!(
            BrokerKind::Zerodha.session_expires_at(login),
            Some("2026-12-03T00:30:00Z".parse().unwrap())
        );
        assert_eq!(BrokerKind::Paper.session_expires_at(login), None);
        assert_eq!(BrokerKind::Zerodha.login_mode(), LoginMode::Interactive);
        assert_eq!(BrokerKind::AngelOne.login_mode(), LoginMode::Automatic);
    }

    #[test]
    fn broker_is_object_safe_and_shareable() {
        fn assert_shareable<T: Send + Sync + ?Sized>() {}
        assert_shareable::<std::sync::Arc<dyn Broker>>();
        assert_shareable::<std::sync::Arc<dyn crate::BrokerSession>>();
    }
}
