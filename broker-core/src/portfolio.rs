//! Trades, positions, holdings, funds and the account profile.

use chrono::{DateTime, FixedOffset};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{BrokerKind, Exchange, InstrumentRef, OrderId, Product, Side};

/// One fill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trade {
    /// The exchange's trade id.
    pub trade_id: String,
    /// The order that filled.
    pub order_id: OrderId,
    /// The instrument.
    pub instrument: InstrumentRef,
    /// Buy or sell.
    pub side: Side,
    /// The order's product.
    pub product: Product,
    /// Quantity filled in this trade.
    pub quantity: u32,
    /// Fill price.
    pub price: Decimal,
    /// When it filled (IST).
    pub traded_at: Option<DateTime<FixedOffset>>,
}

/// A net position for the day, per instrument and product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// The instrument.
    pub instrument: InstrumentRef,
    /// The product.
    pub product: Product,
    /// Net quantity: positive long, negative short.
    pub quantity: i64,
    /// Average price of the open quantity (zero when flat).
    pub average_price: Decimal,
    /// Total quantity bought.
    pub buy_quantity: u64,
    /// Total quantity sold.
    pub sell_quantity: u64,
    /// Total value bought.
    pub buy_value: Decimal,
    /// Total value sold.
    pub sell_value: Decimal,
    /// Last traded price, when known.
    pub last_price: Option<Decimal>,
    /// Profit and loss, realised plus marked to the last price, when known.
    pub pnl: Option<Decimal>,
}

/// Shares held in the demat account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holding {
    /// The instrument.
    pub instrument: InstrumentRef,
    /// The ISIN, when the broker reports it.
    pub isin: Option<String>,
    /// Quantity held.
    pub quantity: u64,
    /// Average buy price.
    pub average_price: Decimal,
    /// Last traded price, when known.
    pub last_price: Option<Decimal>,
    /// Unrealised profit and loss, when known.
    pub pnl: Option<Decimal>,
}

/// Cash and margin of the equity segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Funds {
    /// Margin available for new orders.
    pub net: Decimal,
    /// Cash balance available.
    pub available_cash: Decimal,
    /// Margin used by open orders and positions.
    pub utilised: Decimal,
}

/// Who the session belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// The broker.
    pub broker: BrokerKind,
    /// The broker's client id (Angel One client code, Kite user id).
    pub user_id: String,
    /// The account holder's name.
    pub name: String,
    /// The account's e-mail, when the broker reports it.
    pub email: Option<String>,
    /// Exchanges the account may trade on.
    pub exchanges: Vec<Exchange>,
}
