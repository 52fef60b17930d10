//! Market data: quotes and last prices.

use chrono::{DateTime, FixedOffset};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::InstrumentRef;

/// Open, high, low and close of the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ohlc {
    /// Opening price.
    pub open: Decimal,
    /// Day's high.
    pub high: Decimal,
    /// Day's low.
    pub low: Decimal,
    /// Previous close.
    pub close: Decimal,
}

/// The last traded price of one instrument.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastPrice {
    /// The instrument.
    pub instrument: InstrumentRef,
    /// The last traded price.
    pub last_price: Decimal,
}

/// A fuller snapshot of one instrument.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    /// The instrument.
    pub instrument: InstrumentRef,
    /// The last traded price.
    pub last_price: Decimal,
    /// The day's open, high, low and previous close, when known.
    pub ohlc: Option<Ohlc>,
    /// The day's traded volume, when known.
    pub volume: Option<u64>,
    /// When the last trade happened (IST), when known.
    pub last_trade_at: Option<DateTime<FixedOffset>>,
}
