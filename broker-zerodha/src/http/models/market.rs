//! Market data: full quotes, OHLC and last prices.

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::number;

/// Quotes keyed by `EXCHANGE:TRADINGSYMBOL`.
pub type QuoteMap<T> = HashMap<String, T>;

/// Open, high, low and previous close.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct WireOhlc {
    /// Opening price.
    #[serde(default, with = "number")]
    pub open: Decimal,
    /// Day's high.
    #[serde(default, with = "number")]
    pub high: Decimal,
    /// Day's low.
    #[serde(default, with = "number")]
    pub low: Decimal,
    /// Previous close.
    #[serde(default, with = "number")]
    pub close: Decimal,
}

impl WireOhlc {
    /// Open, high, low and close all at `price`.
    pub fn flat(price: Decimal) -> Self {
        Self {
            open: price,
            high: price,
            low: price,
            close: price,
        }
    }
}

/// One instrument of `GET /quote` (market depth is left out).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct WireQuote {
    /// Kite's numeric instrument id.
    #[serde(default)]
    pub instrument_token: u64,
    /// When the quote was taken.
    #[serde(default)]
    pub timestamp: Option<String>,
    /// When the last trade happened.
    #[serde(default)]
    pub last_trade_time: Option<String>,
    /// Last traded price.
    #[serde(default, with = "number")]
    pub last_price: Decimal,
    /// Last traded quantity.
    #[serde(default)]
    pub last_quantity: u64,
    /// Quantity bid for in the book.
    #[serde(default)]
    pub buy_quantity: u64,
    /// Quantity offered in the book.
    #[serde(default)]
    pub sell_quantity: u64,
    /// The day's volume.
    #[serde(default)]
    pub volume: u64,
    /// Volume-weighted average price.
    #[serde(default, with = "number")]
    pub average_price: Decimal,
    /// Change from the previous close.
    #[serde(default, with = "number")]
    pub net_change: Decimal,
    /// Lower circuit limit.
    #[serde(default, with = "number")]
    pub lower_circuit_limit: Decimal,
    /// Upper circuit limit.
    #[serde(default, with = "number")]
    pub upper_circuit_limit: Decimal,
    /// Open interest (derivatives).
    #[serde(default, with = "number")]
    pub oi: Decimal,
    /// The day's highest open interest.
    #[serde(default, with = "number")]
    pub oi_day_high: Decimal,
    /// The day's lowest open interest.
    #[serde(default, with = "number")]
    pub oi_day_low: Decimal,
    /// The day's prices.
    #[serde(default)]
    pub ohlc: WireOhlc,
    /// The five best bids and offers.
    #[serde(default)]
    pub depth: WireDepth,
}

/// Market depth: the five best bids (`buy`) and offers (`sell`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct WireDepth {
    /// Bids, best first.
    #[serde(default)]
    pub buy: Vec<WireDepthLevel>,
    /// Offers, best first.
    #[serde(default)]
    pub sell: Vec<WireDepthLevel>,
}

/// One price level of [`WireDepth`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct WireDepthLevel {
    /// The price.
    #[serde(default, with = "number")]
    pub price: Decimal,
    /// The quantity at that price.
    #[serde(default)]
    pub quantity: u64,
    /// How many orders.
    #[serde(default)]
    pub orders: u64,
}

impl WireDepthLevel {
    /// `quantity` in `orders` orders at `price`.
    pub fn new(price: Decimal, quantity: u64, orders: u64) -> Self {
        Self {
            price,
            quantity,
            orders,
        }
    }
}

/// One instrument of `GET /quote/ohlc`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct WireOhlcQuote {
    /// Kite's numeric instrument id.
    #[serde(default)]
    pub instrument_token: u64,
    /// Last traded price.
    #[serde(default, with = "number")]
    pub last_price: Decimal,
    /// The day's prices.
    #[serde(default)]
    pub ohlc: WireOhlc,
}

/// One instrument of `GET /quote/ltp`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct WireLtp {
    /// Kite's numeric instrument id.
    #[serde(default)]
    pub instrument_token: u64,
    /// Last traded price.
    #[serde(default, with = "number")]
    pub last_price: Decimal,
}
