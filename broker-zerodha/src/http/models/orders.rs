//! Orders: the order book's rows, the answer to order calls, and the forms that place and
//! modify orders.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::number;

/// The answer to place, modify and cancel: `{"order_id": …}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[non_exhaustive]
pub struct WireOrderId {
    /// The order's id.
    pub order_id: String,
}

impl WireOrderId {
    /// The answer naming `order_id`.
    pub fn new(order_id: impl Into<String>) -> Self {
        Self {
            order_id: order_id.into(),
        }
    }
}

/// One order, as in `GET /orders`, `GET /orders/{id}` (one per state) and postbacks.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct WireOrder {
    /// The broker's order id.
    pub order_id: String,
    /// The exchange's order id, once it has one.
    #[serde(default)]
    pub exchange_order_id: Option<String>,
    /// The parent order (cover and iceberg legs).
    #[serde(default)]
    pub parent_order_id: Option<String>,
    /// Who placed it.
    #[serde(default)]
    pub placed_by: Option<String>,
    /// `OPEN`, `COMPLETE`, `CANCELLED`, `REJECTED`, `TRIGGER PENDING` or a transitional state.
    #[serde(default)]
    pub status: String,
    /// Why it was rejected or cancelled.
    #[serde(default)]
    pub status_message: Option<String>,
    /// The exchange's raw message.
    #[serde(default)]
    pub status_message_raw: Option<String>,
    /// When the broker received it (`YYYY-MM-DD HH:MM:SS`, IST).
    #[serde(default)]
    pub order_timestamp: Option<String>,
    /// When the exchange last updated it.
    #[serde(default)]
    pub exchange_update_timestamp: Option<String>,
    /// When the exchange received it.
    #[serde(default)]
    pub exchange_timestamp: Option<String>,
    /// `regular`, `amo`, `co`, `iceberg`, `auction`.
    #[serde(default)]
    pub variety: String,
    /// Whether it was modified.
    #[serde(default)]
    pub modified: Option<bool>,
    /// The exchange.
    #[serde(default)]
    pub exchange: String,
    /// The trading symbol.
    #[serde(default)]
    pub tradingsymbol: String,
    /// Kite's numeric instrument id.
    #[serde(default)]
    pub instrument_token: u64,
    /// `MARKET`, `LIMIT`, `SL`, `SL-M`.
    #[serde(default)]
    pub order_type: String,
    /// `BUY` or `SELL`.
    #[serde(default)]
    pub transaction_type: String,
    /// `DAY`, `IOC`, `TTL`.
    #[serde(default)]
    pub validity: String,
    /// Minutes of a `TTL` order.
    #[serde(default)]
    pub validity_ttl: Option<u32>,
    /// `CNC`, `MIS`, `NRML`, `MTF` (older orders: `CO`, `BO`).
    #[serde(default)]
    pub product: String,
    /// Ordered quantity.
    #[serde(default)]
    pub quantity: u32,
    /// Disclosed quantity.
    #[serde(default)]
    pub disclosed_quantity: u32,
    /// Limit price (0 for market orders).
    #[serde(default, with = "number")]
    pub price: Decimal,
    /// Trigger price (0 without a trigger).
    #[serde(default, with = "number")]
    pub trigger_price: Decimal,
    /// Average fill price (0 before any fill).
    #[serde(default, with = "number")]
    pub average_price: Decimal,
    /// Filled quantity.
    #[serde(default)]
    pub filled_quantity: u32,
    /// Quantity still open.
    #[serde(default)]
    pub pending_quantity: u32,
    /// Quantity cancelled.
    #[serde(default)]
    pub cancelled_quantity: u32,
    /// Market protection: 0 none, 1–100 percent, -1 automatic.
    #[serde(default, with = "number")]
    pub market_protection: Decimal,
    /// The tag it was placed with.
    #[serde(default)]
    pub tag: Option<String>,
    /// Every tag of the order: the one it was placed with and any Kite adds (such as
    /// `autoslice`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// The exchange's auction number (auction orders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auction_number: Option<String>,
    /// What Kite attaches to the order (an iceberg leg's place in its order).
    #[serde(default, deserialize_with = "lenient_meta")]
    pub meta: WireOrderMeta,
    /// A request id.
    #[serde(default)]
    pub guid: Option<String>,
}

/// The `meta` of an order: `{}` for most orders.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct WireOrderMeta {
    /// An iceberg leg's place in its order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iceberg: Option<WireIcebergMeta>,
}

/// Where an iceberg leg stands in its order (`meta.iceberg`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct WireIcebergMeta {
    /// This leg's number, from 1.
    #[serde(default)]
    pub leg: u8,
    /// How many legs the order has.
    #[serde(default)]
    pub legs: u8,
    /// The quantity of each leg.
    #[serde(default)]
    pub leg_quantity: u32,
    /// The whole order's quantity.
    #[serde(default)]
    pub total_quantity: u32,
    /// What is left for the legs after this one.
    #[serde(default)]
    pub remaining_quantity: u32,
}

impl WireIcebergMeta {
    /// Leg `leg` of `legs` legs of `leg_quantity` each, out of `total_quantity`.
    pub fn new(leg: u8, legs: u8, leg_quantity: u32, total_quantity: u32) -> Self {
        let placed = leg_quantity.saturating_mul(u32::from(leg));
        Self {
            leg,
            legs,
            leg_quantity,
            total_quantity,
            remaining_quantity: total_quantity.saturating_sub(placed),
        }
    }
}

/// Reads `meta` leniently: anything but an object Kite might send (`""`, `null`) is empty.
fn lenient_meta<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<WireOrderMeta, D::Error> {
    let value = serde_json::Value::deserialize(deserializer)?;
    Ok(serde_json::from_value(value).unwrap_or_default())
}

/// The form of `POST /orders/{variety}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct PlaceOrderBody {
    /// The exchange.
    pub exchange: String,
    /// The trading symbol.
    pub tradingsymbol: String,
    /// `BUY` or `SELL`.
    pub transaction_type: String,
    /// `MARKET`, `LIMIT`, `SL`, `SL-M`.
    pub order_type: String,
    /// Quantity.
    pub quantity: u32,
    /// `CNC`, `MIS`, `NRML`, `MTF`.
    pub product: String,
    /// `DAY`, `IOC`, `TTL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity: Option<String>,
    /// Minutes of a `TTL` order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity_ttl: Option<u32>,
    /// Limit price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<Decimal>,
    /// Trigger price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_price: Option<Decimal>,
    /// Disclosed quantity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disclosed_quantity: Option<u32>,
    /// Market protection: 1–100 percent, -1 automatic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_protection: Option<i32>,
    /// The caller's tag (at most 20 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The exchange-registered algorithm id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algo_id: Option<String>,
    /// Iceberg orders: how many legs (2 to 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iceberg_legs: Option<u8>,
    /// Iceberg orders: the quantity of each leg (the quantity over the legs, rounded up to
    /// whole lots; the last leg takes what is left).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iceberg_quantity: Option<u32>,
    /// Auction orders: the exchange's auction number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auction_number: Option<String>,
    /// `true` to have Kite slice a quantity above the exchange's freeze limit into several
    /// orders (the answer is then a [`WireAutoslicePlacement`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoslice: Option<bool>,
}

/// The answer to an autosliced placement (`autoslice=true`): the parent id and one entry per
/// slice, placed or refused.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct WireAutoslicePlacement {
    /// The id Kite gives the whole request (each slice is tagged `autoslice:<this id>`).
    pub order_id: String,
    /// The slices, in order.
    #[serde(default)]
    pub children: Vec<WireAutosliceChild>,
}

/// One slice of an autosliced placement: its order id, or why it was refused.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct WireAutosliceChild {
    /// The slice's order id, when it was placed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// Kite's error, when it was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<WireAutosliceError>,
}

impl WireAutosliceChild {
    /// A placed slice.
    pub fn placed(order_id: impl Into<String>) -> Self {
        Self {
            order_id: Some(order_id.into()),
            error: None,
        }
    }

    /// A refused slice.
    pub fn refused(error: WireAutosliceError) -> Self {
        Self {
            order_id: None,
            error: Some(error),
        }
    }
}

/// Why one slice was refused: Kite's error, with the HTTP status it would have had.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct WireAutosliceError {
    /// The HTTP status of the error (such as 400).
    #[serde(default)]
    pub code: u16,
    /// The exception class, such as `MarginException`.
    #[serde(default)]
    pub error_type: String,
    /// Kite's explanation.
    #[serde(default)]
    pub message: String,
}

impl WireAutosliceError {
    /// An error of this type and status.
    pub fn new(code: u16, error_type: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code,
            error_type: error_type.into(),
            message: message.into(),
        }
    }
}

/// The form of `PUT /orders/{variety}/{order_id}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct ModifyOrderBody {
    /// New order type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_type: Option<String>,
    /// New quantity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u32>,
    /// New limit price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<Decimal>,
    /// New trigger price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_price: Option<Decimal>,
    /// New validity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity: Option<String>,
    /// New disclosed quantity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disclosed_quantity: Option<u32>,
    /// New market protection: 1–100 percent, -1 automatic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_protection: Option<i32>,
}
