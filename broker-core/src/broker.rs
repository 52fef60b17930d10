//! The `Broker` trait every broker implementation provides.

use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{
    Funds, Holding, InstrumentRef, LastPrice, Order, OrderHistory, OrderId, OrderModification,
    OrderRequest, Position, Profile, Quote, Result, Trade, Variety,
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

/// A live session with one broker account.
///
/// Object-safe, so adapters hold `Arc<dyn Broker>`; every future is `Send`. Implementations
/// never repeat an order call whose outcome is unknown: they return
/// [`crate::BrokerError::OrderOutcomeUnknown`] and leave reconciliation to the caller.
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

    /// Places an order and returns the broker's order id. Acceptance by the broker is not a
    /// fill: the order may still be rejected by the exchange, so follow it with
    /// [`Broker::order`].
    ///
    /// # Errors
    /// [`crate::BrokerError::OrderRejected`] when refused,
    /// [`crate::BrokerError::OrderOutcomeUnknown`] when the answer was lost, or any other.
    async fn place_order(&self, request: &OrderRequest) -> Result<OrderId>;

    /// Changes an open order.
    ///
    /// # Errors
    /// As for [`Broker::place_order`], and [`crate::BrokerError::OrderNotFound`].
    async fn modify_order(&self, order_id: &OrderId, change: &OrderModification)
    -> Result<OrderId>;

    /// Cancels an open order.
    ///
    /// # Errors
    /// As for [`Broker::modify_order`].
    async fn cancel_order(&self, order_id: &OrderId, variety: Variety) -> Result<OrderId>;

    /// The day's order book.
    ///
    /// # Errors
    /// Any [`crate::BrokerError`] the broker reports.
    async fn orders(&self) -> Result<Vec<Order>>;

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
    fn broker_is_object_safe_and_shareable() {
        fn assert_shareable<T: Send + Sync + ?Sized>() {}
        assert_shareable::<std::sync::Arc<dyn Broker>>();
    }
}
