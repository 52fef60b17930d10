//! Orders as the broker reports them, and the enums that describe them.

use std::fmt;

use chrono::{DateTime, FixedOffset};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::InstrumentRef;

/// The broker's id for an order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrderId(String);

impl OrderId {
    /// Wraps the broker's id.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as the broker wrote it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for OrderId {
    fn from(id: &str) -> Self {
        Self(id.to_owned())
    }
}

impl From<String> for OrderId {
    fn from(id: String) -> Self {
        Self(id)
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Buy or sell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Buy.
    Buy,
    /// Sell.
    Sell,
}

impl Side {
    /// The other side.
    pub fn opposite(self) -> Self {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
}

/// How the order is priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderType {
    /// At the best available price.
    Market,
    /// At the limit price or better.
    Limit,
    /// A limit order that becomes active once the trigger price trades (Kite `SL`, Angel One
    /// `STOPLOSS_LIMIT`).
    StopLimit,
    /// A market order that becomes active once the trigger price trades (Kite `SL-M`, Angel
    /// One `STOPLOSS_MARKET`).
    StopMarket,
}

impl OrderType {
    /// Whether the order needs a limit price.
    pub fn needs_price(self) -> bool {
        matches!(self, OrderType::Limit | OrderType::StopLimit)
    }

    /// Whether the order needs a trigger price.
    pub fn needs_trigger(self) -> bool {
        matches!(self, OrderType::StopLimit | OrderType::StopMarket)
    }

    /// Whether the order executes at market once active.
    pub fn is_market(self) -> bool {
        matches!(self, OrderType::Market | OrderType::StopMarket)
    }
}

impl fmt::Display for OrderType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OrderType::Market => "market",
            OrderType::Limit => "limit",
            OrderType::StopLimit => "stop-limit",
            OrderType::StopMarket => "stop-market",
        })
    }
}

/// The product (margin treatment) of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Product {
    /// Cash and carry: delivery to the demat account (Kite `CNC`, Angel One `DELIVERY`).
    Delivery,
    /// Squared off the same day (Kite `MIS`, Angel One `INTRADAY`).
    Intraday,
    /// Derivatives carried overnight (Kite `NRML`, Angel One `CARRYFORWARD`).
    Carryforward,
    /// Margin trading facility (Kite `MTF`, Angel One `MARGIN`).
    Mtf,
}

/// How long an order stays live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Validity {
    /// Until the end of the trading day.
    Day,
    /// Immediate or cancel.
    Ioc,
    /// For this many minutes (Kite `TTL`).
    Ttl {
        /// Minutes the order stays live, at least 1.
        minutes: u32,
    },
}

impl Validity {
    /// The validity's name without its parameter, as policies refer to it.
    pub fn kind(self) -> ValidityKind {
        match self {
            Validity::Day => ValidityKind::Day,
            Validity::Ioc => ValidityKind::Ioc,
            Validity::Ttl { .. } => ValidityKind::Ttl,
        }
    }
}

/// A [`Validity`] without its parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValidityKind {
    /// [`Validity::Day`].
    Day,
    /// [`Validity::Ioc`].
    Ioc,
    /// [`Validity::Ttl`].
    Ttl,
}

impl fmt::Display for ValidityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValidityKind::Day => "DAY",
            ValidityKind::Ioc => "IOC",
            ValidityKind::Ttl => "TTL",
        })
    }
}

/// The order variety (session and special order forms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Variety {
    /// An ordinary order in market hours.
    Regular,
    /// After-market order, queued for the next session.
    Amo,
    /// Cover order (Kite `co`).
    Cover,
    /// Iceberg order, sliced by the broker (Kite `iceberg`).
    Iceberg,
    /// Auction order (Kite `auction`).
    Auction,
    /// Bracket order (Angel One `ROBO`).
    Bracket,
}

/// Market protection for market and stop-market orders: how far from the last price the
/// exchange may fill. Zerodha refuses API market orders without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "percent")]
pub enum MarketProtection {
    /// A band of this many percent (1 to 100).
    Percent(u8),
    /// The broker chooses the band (Kite `-1`).
    Automatic,
}

/// Where an order stands, normalised across brokers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
#[non_exhaustive]
pub enum OrderStatus {
    /// Accepted by the broker, not yet confirmed open at the exchange.
    Pending,
    /// Open at the exchange, wholly or partly unfilled.
    Open,
    /// A stop order waiting for its trigger price.
    TriggerPending,
    /// Completely filled.
    Complete,
    /// Cancelled (possibly after a partial fill).
    Cancelled,
    /// Rejected by the broker or the exchange.
    Rejected {
        /// Why.
        reason: String,
    },
    /// A status this crate does not know, as the broker wrote it.
    Unknown {
        /// The broker's raw status text.
        raw: String,
    },
}

impl OrderStatus {
    /// Whether the order can change no more.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Self::Complete | Self::Cancelled | Self::Rejected { .. }
        )
    }

    /// Whether the order can still be modified or cancelled.
    pub fn is_working(&self) -> bool {
        matches!(self, Self::Pending | Self::Open | Self::TriggerPending)
    }
}

/// One order as the broker reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// The broker's order id.
    pub order_id: OrderId,
    /// The exchange's order id, once the exchange has it.
    pub exchange_order_id: Option<String>,
    /// The instrument.
    pub instrument: InstrumentRef,
    /// Buy or sell.
    pub side: Side,
    /// How it is priced.
    pub order_type: OrderType,
    /// Its product.
    pub product: Product,
    /// How long it stays live.
    pub validity: Validity,
    /// Its variety.
    pub variety: Variety,
    /// Ordered quantity.
    pub quantity: u32,
    /// Quantity filled so far.
    pub filled_quantity: u32,
    /// Limit price, for limit and stop-limit orders.
    pub price: Option<Decimal>,
    /// Trigger price, for stop orders.
    pub trigger_price: Option<Decimal>,
    /// Average fill price, once anything filled.
    pub average_price: Option<Decimal>,
    /// Where it stands.
    pub status: OrderStatus,
    /// The tag it was placed with.
    pub tag: Option<String>,
    /// When the broker last updated it (exchange time zone, IST).
    pub updated_at: Option<DateTime<FixedOffset>>,
}

impl Order {
    /// Quantity still unfilled.
    pub fn pending_quantity(&self) -> u32 {
        self.quantity.saturating_sub(self.filled_quantity)
    }
}

/// One order's current state and the states it went through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderHistory {
    /// The order as it stands now.
    pub current: Order,
    /// Earlier states, oldest first. Empty when the broker reports only the current state.
    pub earlier: Vec<Order>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_status_round_trips_through_serde_keeping_details() {
        for status in [
            OrderStatus::Pending,
            OrderStatus::Open,
            OrderStatus::TriggerPending,
            OrderStatus::Complete,
            OrderStatus::Cancelled,
            OrderStatus::Rejected {
                reason: "RMS: margin exceeds".into(),
            },
            OrderStatus::Unknown {
                raw: "MODIFY VALIDATION PENDING".into(),
            },
        ] {
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(
                serde_json::from_str::<OrderStatus>(&json).unwrap(),
                status,
                "{json}"
            );
        }
    }

    #[test]
    fn terminal_and_working_statuses_do_not_overlap() {
        let statuses = [
            OrderStatus::Pending,
            OrderStatus::Open,
            OrderStatus::TriggerPending,
            OrderStatus::Complete,
            OrderStatus::Cancelled,
            OrderStatus::Rejected {
                reason: String::new(),
            },
        ];
        for status in statuses {
            assert_ne!(status.is_terminal(), status.is_working(), "{status:?}");
        }
        let unknown = OrderStatus::Unknown { raw: "?".into() };
        assert!(!unknown.is_terminal() && !unknown.is_working());
    }

    #[test]
    fn validity_and_market_protection_round_trip_through_serde() {
        for validity in [Validity::Day, Validity::Ioc, Validity::Ttl { minutes: 5 }] {
            let json = serde_json::to_string(&validity).unwrap();
            assert_eq!(serde_json::from_str::<Validity>(&json).unwrap(), validity);
        }
        for protection in [MarketProtection::Percent(3), MarketProtection::Automatic] {
            let json = serde_json::to_string(&protection).unwrap();
            assert_eq!(
                serde_json::from_str::<MarketProtection>(&json).unwrap(),
                protection
            );
        }
    }

    #[test]
    fn order_type_knows_which_prices_it_needs() {
        assert!(!OrderType::Market.needs_price() && !OrderType::Market.needs_trigger());
        assert!(OrderType::Limit.needs_price() && !OrderType::Limit.needs_trigger());
        assert!(OrderType::StopLimit.needs_price() && OrderType::StopLimit.needs_trigger());
        assert!(!OrderType::StopMarket.needs_price() && OrderType::StopMarket.needs_trigger());
    }
}
