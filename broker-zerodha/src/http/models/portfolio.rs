//! The portfolio: fills, positions and holdings, and the form that converts a position.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::number;

/// One fill (`GET /trades`, `GET /orders/{id}/trades`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct WireTrade {
    /// The exchange's trade id.
    pub trade_id: String,
    /// The order that filled.
    pub order_id: String,
    /// The exchange's order id.
    #[serde(default)]
    pub exchange_order_id: Option<String>,
    /// The exchange.
    #[serde(default)]
    pub exchange: String,
    /// The trading symbol.
    #[serde(default)]
    pub tradingsymbol: String,
    /// Kite's numeric instrument id.
    #[serde(default)]
    pub instrument_token: u64,
    /// The order's product.
    #[serde(default)]
    pub product: String,
    /// Fill price.
    #[serde(default, with = "number")]
    pub average_price: Decimal,
    /// Filled quantity.
    #[serde(default)]
    pub quantity: u32,
    /// `BUY` or `SELL`.
    #[serde(default)]
    pub transaction_type: String,
    /// When it filled (`YYYY-MM-DD HH:MM:SS`, IST).
    #[serde(default)]
    pub fill_timestamp: Option<String>,
    /// When the order was placed (time of day only).
    #[serde(default)]
    pub order_timestamp: Option<String>,
    /// When the exchange recorded it.
    #[serde(default)]
    pub exchange_timestamp: Option<String>,
}

/// `GET /portfolio/positions`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[non_exhaustive]
pub struct WirePositions {
    /// Net positions (overnight and the day together).
    #[serde(default)]
    pub net: Vec<WirePosition>,
    /// The day's positions only.
    #[serde(default)]
    pub day: Vec<WirePosition>,
}

/// One position.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct WirePosition {
    /// The trading symbol.
    #[serde(default)]
    pub tradingsymbol: String,
    /// The exchange.
    #[serde(default)]
    pub exchange: String,
    /// Kite's numeric instrument id.
    #[serde(default)]
    pub instrument_token: u64,
    /// The product.
    #[serde(default)]
    pub product: String,
    /// Net quantity (negative when short).
    #[serde(default)]
    pub quantity: i64,
    /// Quantity carried from earlier days.
    #[serde(default)]
    pub overnight_quantity: i64,
    /// Contract multiplier.
    #[serde(default, with = "number")]
    pub multiplier: Decimal,
    /// Average price of the open quantity.
    #[serde(default, with = "number")]
    pub average_price: Decimal,
    /// Previous close.
    #[serde(default, with = "number")]
    pub close_price: Decimal,
    /// Last traded price.
    #[serde(default, with = "number")]
    pub last_price: Decimal,
    /// Net value.
    #[serde(default, with = "number")]
    pub value: Decimal,
    /// Profit and loss.
    #[serde(default, with = "number")]
    pub pnl: Decimal,
    /// Mark-to-market profit and loss.
    #[serde(default, with = "number")]
    pub m2m: Decimal,
    /// Unrealised profit and loss.
    #[serde(default, with = "number")]
    pub unrealised: Decimal,
    /// Realised profit and loss.
    #[serde(default, with = "number")]
    pub realised: Decimal,
    /// Quantity bought.
    #[serde(default)]
    pub buy_quantity: u64,
    /// Average buy price.
    #[serde(default, with = "number")]
    pub buy_price: Decimal,
    /// Value bought.
    #[serde(default, with = "number")]
    pub buy_value: Decimal,
    /// Value bought, marked to market.
    #[serde(default, with = "number")]
    pub buy_m2m: Decimal,
    /// Quantity sold.
    #[serde(default)]
    pub sell_quantity: u64,
    /// Average sell price.
    #[serde(default, with = "number")]
    pub sell_price: Decimal,
    /// Value sold.
    #[serde(default, with = "number")]
    pub sell_value: Decimal,
    /// Value sold, marked to market.
    #[serde(default, with = "number")]
    pub sell_m2m: Decimal,
    /// Quantity bought today.
    #[serde(default)]
    pub day_buy_quantity: u64,
    /// Average price bought at today.
    #[serde(default, with = "number")]
    pub day_buy_price: Decimal,
    /// Value bought today.
    #[serde(default, with = "number")]
    pub day_buy_value: Decimal,
    /// Quantity sold today.
    #[serde(default)]
    pub day_sell_quantity: u64,
    /// Average price sold at today.
    #[serde(default, with = "number")]
    pub day_sell_price: Decimal,
    /// Value sold today.
    #[serde(default, with = "number")]
    pub day_sell_value: Decimal,
}

/// One holding (`GET /portfolio/holdings`).
///
/// Kite reports three separate quantities: `quantity` (settled in the demat account, the same
/// as `realised_quantity`), `t1_quantity` (bought, settling T+1) and `mtf.quantity` (bought
/// under the margin trading facility). Kite's own samples show `opening_quantity` equal to
/// `quantity + t1_quantity`, so `quantity` does not include the T+1 shares.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct WireHolding {
    /// The trading symbol.
    #[serde(default)]
    pub tradingsymbol: String,
    /// The exchange.
    #[serde(default)]
    pub exchange: String,
    /// Kite's numeric instrument id.
    #[serde(default)]
    pub instrument_token: u64,
    /// The ISIN.
    #[serde(default)]
    pub isin: Option<String>,
    /// `CNC`.
    #[serde(default)]
    pub product: String,
    /// Kite's own price field (0 in its samples).
    #[serde(default, with = "number")]
    pub price: Decimal,
    /// Settled quantity.
    #[serde(default)]
    pub quantity: u64,
    /// Bought, not yet settled (T+1).
    #[serde(default)]
    pub t1_quantity: u64,
    /// Settled quantity (the same as `quantity`).
    #[serde(default)]
    pub realised_quantity: u64,
    /// The day's opening quantity: settled plus T+1.
    #[serde(default)]
    pub opening_quantity: u64,
    /// Quantity used (sold or pledged) today.
    #[serde(default)]
    pub used_quantity: u64,
    /// Quantity authorised for sale (CDSL TPIN).
    #[serde(default)]
    pub authorised_quantity: u64,
    /// When the authorisation was given.
    #[serde(default)]
    pub authorised_date: Option<String>,
    /// The authorisation's details (`{}` without one).
    #[serde(default)]
    pub authorisation: serde_json::Map<String, serde_json::Value>,
    /// Quantity sold short.
    #[serde(default)]
    pub short_quantity: u64,
    /// Quantity pledged as collateral.
    #[serde(default)]
    pub collateral_quantity: u64,
    /// The kind of collateral.
    #[serde(default)]
    pub collateral_type: Option<String>,
    /// Whether Kite sees a discrepancy in the holding.
    #[serde(default)]
    pub discrepancy: bool,
    /// Average buy price.
    #[serde(default, with = "number")]
    pub average_price: Decimal,
    /// Last traded price.
    #[serde(default, with = "number")]
    pub last_price: Decimal,
    /// Previous close.
    #[serde(default, with = "number")]
    pub close_price: Decimal,
    /// Unrealised profit and loss.
    #[serde(default, with = "number")]
    pub pnl: Decimal,
    /// Change of the last price from the previous close.
    #[serde(default, with = "number")]
    pub day_change: Decimal,
    /// The same, in percent.
    #[serde(default, with = "number")]
    pub day_change_percentage: Decimal,
    /// Shares held under the margin trading facility, when any.
    #[serde(default)]
    pub mtf: Option<WireMtfHolding>,
}

/// The `mtf` block of a [`WireHolding`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct WireMtfHolding {
    /// Shares held under MTF.
    #[serde(default)]
    pub quantity: u64,
    /// MTF shares used (sold) today.
    #[serde(default)]
    pub used_quantity: u64,
    /// Average buy price of the MTF shares.
    #[serde(default, with = "number")]
    pub average_price: Decimal,
    /// Value of the MTF shares.
    #[serde(default, with = "number")]
    pub value: Decimal,
    /// Margin blocked for them.
    #[serde(default, with = "number")]
    pub initial_margin: Decimal,
}

/// The form of `PUT /portfolio/positions` (convert a position's product).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct ConvertPositionBody {
    /// The exchange.
    pub exchange: String,
    /// The trading symbol.
    pub tradingsymbol: String,
    /// `BUY` or `SELL`.
    pub transaction_type: String,
    /// `day` or `overnight`.
    pub position_type: String,
    /// Quantity to convert.
    pub quantity: u32,
    /// The current product.
    pub old_product: String,
    /// The product to convert to.
    pub new_product: String,
}
