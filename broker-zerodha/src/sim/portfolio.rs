//! One user's portfolio in the simulator: cash, the day's trades, positions (the day's and
//! those carried overnight) and holdings with Kite's T+1 reporting, and the margin they use.
//!
//! - A fill adds a trade and moves the position of its product. Positions report Kite's
//!   fields: `net` (overnight plus the day) and `day` (the day's trades only).
//! - Delivery (CNC) buys stay positions on their day; at the next trading day they appear in
//!   holdings as `t1_quantity` (bought, not yet settled), and a day later in `quantity`
//!   (settled). Delivery sells of holdings count as `used_quantity` until the day ends.
//! - Carry-forward (NRML) positions are carried as `overnight_quantity`; intraday (MIS)
//!   positions are dropped at the day's end (Kite squares them off with trades; the
//!   simulator does not).
//! - Margin: the value of an order or position times a rate per product (CNC 100 %, MTF
//!   50 %, MIS 20 %, NRML 100 % on cash segments and 15 % on derivatives). Cash moves only
//!   at the day's end, by the day's delivery trades.

use rust_decimal::Decimal;

use super::SimHolding;
use super::market::Market;
use super::responses::KiteError;
use crate::http::models::{
    ConvertPositionBody, WireAvailableFunds, WireFunds, WireFundsBySegment, WireHolding,
    WireMtfHolding, WireOrder, WirePosition, WirePositions, WireTrade, WireUtilisedFunds,
};

/// The share of an order's value blocked as margin for `product` on `exchange`.
pub(super) fn margin_rate(exchange: &str, product: &str) -> Decimal {
    let derivatives = matches!(exchange, "NFO" | "BFO" | "MCX" | "CDS" | "BCD");
    match product {
        "MIS" => Decimal::new(2, 1),
        "MTF" => Decimal::new(5, 1),
        "NRML" if derivatives => Decimal::new(15, 2),
        _ => Decimal::ONE,
    }
}

/// One instrument and product of the position book.
#[derive(Debug, Clone, Default)]
struct PositionBook {
    exchange: String,
    tradingsymbol: String,
    instrument_token: u64,
    product: String,
    overnight_quantity: i64,
    overnight_price: Decimal,
    day_buy_quantity: u64,
    day_buy_value: Decimal,
    day_sell_quantity: u64,
    day_sell_value: Decimal,
    /// Of the day's delivery sells, those of shares held before the day.
    sold_from_holdings: u64,
}

fn signed(quantity: u64) -> i64 {
    i64::try_from(quantity).unwrap_or(i64::MAX)
}

fn average(value: Decimal, quantity: u64) -> Decimal {
    if quantity == 0 {
        Decimal::ZERO
    } else {
        value / Decimal::from(quantity)
    }
}

impl PositionBook {
    fn quantity(&self) -> i64 {
        self.overnight_quantity + signed(self.day_buy_quantity) - signed(self.day_sell_quantity)
    }

    fn key(&self) -> String {
        format!("{}:{}", self.exchange, self.tradingsymbol)
    }

    /// `net` (with the overnight quantity) or `day` (the day's trades only).
    fn wire(&self, market: &Market, net: bool) -> WirePosition {
        let carried = if net { self.overnight_quantity } else { 0 };
        let carried_long = u64::try_from(carried.max(0)).unwrap_or(0);
        let carried_short = carried.min(0).unsigned_abs();
        let buy_quantity = self.day_buy_quantity + carried_long;
        let buy_value = self.day_buy_value + Decimal::from(carried_long) * self.overnight_price;
        let sell_quantity = self.day_sell_quantity + carried_short;
        let sell_value = self.day_sell_value + Decimal::from(carried_short) * self.overnight_price;
        let quantity = signed(buy_quantity) - signed(sell_quantity);
        let key = self.key();
        let last_price = market.price(&key).unwrap_or_default();
        let value = sell_value - buy_value;
        let pnl = value + Decimal::from(quantity) * last_price;
        let buy_price = average(buy_value, buy_quantity);
        let sell_price = average(sell_value, sell_quantity);
        WirePosition {
            tradingsymbol: self.tradingsymbol.clone(),
            exchange: self.exchange.clone(),
            instrument_token: self.instrument_token,
            product: self.product.clone(),
            quantity,
            overnight_quantity: carried,
            multiplier: Decimal::ONE,
            average_price: match quantity {
                0 => Decimal::ZERO,
                q if q > 0 => buy_price,
                _ => sell_price,
            },
            close_price: market.close(&key).unwrap_or_default(),
            last_price,
            value,
            pnl,
            m2m: pnl,
            unrealised: pnl,
            realised: Decimal::ZERO,
            buy_quantity,
            buy_price,
            buy_value,
            buy_m2m: buy_value,
            sell_quantity,
            sell_price,
            sell_value,
            sell_m2m: sell_value,
            day_buy_quantity: self.day_buy_quantity,
            day_buy_price: average(self.day_buy_value, self.day_buy_quantity),
            day_buy_value: self.day_buy_value,
            day_sell_quantity: self.day_sell_quantity,
            day_sell_price: average(self.day_sell_value, self.day_sell_quantity),
            day_sell_value: self.day_sell_value,
        }
    }
}

/// One holding.
#[derive(Debug, Clone, Default)]
struct HoldingBook {
    exchange: String,
    tradingsymbol: String,
    instrument_token: u64,
    isin: Option<String>,
    quantity: u64,
    t1_quantity: u64,
    used_quantity: u64,
    opening_quantity: u64,
    average_price: Decimal,
}

/// One user's cash, trades, positions and holdings.
#[derive(Debug, Default)]
pub(super) struct Portfolio {
    cash: Decimal,
    trades: Vec<WireTrade>,
    positions: Vec<PositionBook>,
    holdings: Vec<HoldingBook>,
}

impl Portfolio {
    pub(super) fn new(cash: Decimal, holdings: &[SimHolding]) -> Self {
        Self {
            cash,
            holdings: holdings
                .iter()
                .map(|holding| HoldingBook {
                    exchange: holding.exchange.clone(),
                    tradingsymbol: holding.tradingsymbol.clone(),
                    instrument_token: Market::token_of(&format!(
                        "{}:{}",
                        holding.exchange, holding.tradingsymbol
                    )),
                    isin: holding.isin.clone(),
                    quantity: holding.quantity,
                    opening_quantity: holding.quantity,
                    average_price: holding.average_price,
                    ..HoldingBook::default()
                })
                .collect(),
            ..Self::default()
        }
    }

    /// Records the fill of `quantity` of `order` at `price`.
    pub(super) fn record_fill(&mut self, order: &WireOrder, trade: WireTrade) {
        let quantity = u64::from(trade.quantity);
        let value = trade.average_price * Decimal::from(trade.quantity);
        let at = self
            .positions
            .iter()
            .position(|position| {
                position.exchange == order.exchange
                    && position.tradingsymbol == order.tradingsymbol
                    && position.product == order.product
            })
            .unwrap_or_else(|| {
                self.positions.push(PositionBook {
                    exchange: order.exchange.clone(),
                    tradingsymbol: order.tradingsymbol.clone(),
                    instrument_token: order.instrument_token,
                    product: order.product.clone(),
                    ..PositionBook::default()
                });
                self.positions.len() - 1
            });
        let position = &mut self.positions[at];
        if order.transaction_type == "BUY" {
            position.day_buy_quantity += quantity;
            position.day_buy_value += value;
        } else {
            // Delivery sells take the day's own buys first, then the holdings.
            let bought_today = position
                .day_buy_quantity
                .saturating_sub(position.day_sell_quantity - position.sold_from_holdings);
            position.day_sell_quantity += quantity;
            position.day_sell_value += value;
            if order.product == "CNC" {
                let from_holdings = quantity.saturating_sub(bought_today);
                position.sold_from_holdings += from_holdings;
                if let Some(holding) = self.holding_mut(&order.exchange, &order.tradingsymbol) {
                    holding.used_quantity += from_holdings;
                }
            }
        }
        self.trades.push(trade);
    }

    fn holding_mut(&mut self, exchange: &str, tradingsymbol: &str) -> Option<&mut HoldingBook> {
        self.holdings
            .iter_mut()
            .find(|holding| holding.exchange == exchange && holding.tradingsymbol == tradingsymbol)
    }

    /// The shares that can still be sold for delivery: settled and T+1 holdings less those
    /// sold today, and the day's delivery buys not sold yet.
    pub(super) fn sellable(&self, exchange: &str, tradingsymbol: &str) -> u64 {
        let held = self
            .holdings
            .iter()
            .find(|holding| holding.exchange == exchange && holding.tradingsymbol == tradingsymbol)
            .map_or(0, |holding| {
                (holding.quantity + holding.t1_quantity).saturating_sub(holding.used_quantity)
            });
        let bought_today =
            u64::try_from(self.net_quantity(exchange, tradingsymbol, "CNC").max(0)).unwrap_or(0);
        held + bought_today
    }

    /// The position's net quantity of an instrument and product.
    pub(super) fn net_quantity(&self, exchange: &str, tradingsymbol: &str, product: &str) -> i64 {
        self.positions
            .iter()
            .filter(|position| {
                position.exchange == exchange
                    && position.tradingsymbol == tradingsymbol
                    && position.product == product
            })
            .map(PositionBook::quantity)
            .sum()
    }

    pub(super) fn trades(&self) -> &[WireTrade] {
        &self.trades
    }

    pub(super) fn positions(&self, market: &Market) -> WirePositions {
        WirePositions {
            net: self
                .positions
                .iter()
                .map(|position| position.wire(market, true))
                .collect(),
            day: self
                .positions
                .iter()
                .filter(|position| position.day_buy_quantity + position.day_sell_quantity > 0)
                .map(|position| position.wire(market, false))
                .collect(),
        }
    }

    pub(super) fn holdings(&self, market: &Market) -> Vec<WireHolding> {
        self.holdings
            .iter()
            .filter(|holding| holding.quantity + holding.t1_quantity > 0)
            .map(|holding| {
                let key = format!("{}:{}", holding.exchange, holding.tradingsymbol);
                let last_price = market.price(&key).unwrap_or_default();
                let close_price = market.close(&key).unwrap_or_default();
                let held = Decimal::from(holding.quantity + holding.t1_quantity);
                WireHolding {
                    tradingsymbol: holding.tradingsymbol.clone(),
                    exchange: holding.exchange.clone(),
                    instrument_token: holding.instrument_token,
                    isin: holding.isin.clone(),
                    product: "CNC".into(),
                    quantity: holding.quantity,
                    t1_quantity: holding.t1_quantity,
                    realised_quantity: holding.quantity,
                    opening_quantity: holding.opening_quantity,
                    used_quantity: holding.used_quantity,
                    average_price: holding.average_price,
                    last_price,
                    close_price,
                    pnl: (last_price - holding.average_price) * held,
                    day_change: last_price - close_price,
                    day_change_percentage: if close_price.is_zero() {
                        Decimal::ZERO
                    } else {
                        ((last_price - close_price) / close_price * Decimal::ONE_HUNDRED)
                            .round_dp(6)
                    },
                    mtf: Some(WireMtfHolding::default()),
                    ..WireHolding::default()
                }
            })
            .collect()
    }

    /// The margin positions use: delivery buys their whole value, the rest their exposure at
    /// the last price times the product's rate.
    pub(super) fn position_margin(&self, market: &Market) -> Decimal {
        self.positions
            .iter()
            .map(|position| {
                if position.product == "CNC" {
                    return position.day_buy_value;
                }
                let last = market.price(&position.key()).unwrap_or_default();
                Decimal::from(position.quantity().unsigned_abs())
                    * last
                    * margin_rate(&position.exchange, &position.product)
            })
            .sum()
    }

    pub(super) fn funds(&self, used: Decimal) -> WireFundsBySegment {
        let cash = self.cash;
        WireFundsBySegment {
            equity: Some(WireFunds {
                enabled: true,
                net: cash - used,
                available: WireAvailableFunds {
                    cash,
                    opening_balance: cash,
                    live_balance: cash - used,
                    ..WireAvailableFunds::default()
                },
                utilised: WireUtilisedFunds {
                    debits: used,
                    ..WireUtilisedFunds::default()
                },
            }),
            commodity: Some(WireFunds {
                enabled: true,
                ..WireFunds::default()
            }),
        }
    }

    pub(super) fn cash(&self) -> Decimal {
        self.cash
    }

    /// `PUT /portfolio/positions`: moves `quantity` of a position to another product.
    pub(super) fn convert(&mut self, body: &ConvertPositionBody) -> Result<(), KiteError> {
        let at = self
            .positions
            .iter()
            .position(|position| {
                position.exchange == body.exchange
                    && position.tradingsymbol == body.tradingsymbol
                    && position.product == body.old_product
            })
            .ok_or_else(|| KiteError::input("Position not found for conversion."))?;
        let from = &self.positions[at];
        let quantity = u64::from(body.quantity);
        let (held, value) = match (body.position_type.as_str(), body.transaction_type.as_str()) {
            ("day", "BUY") => (from.day_buy_quantity, from.day_buy_value),
            ("day", "SELL") => (from.day_sell_quantity, from.day_sell_value),
            ("overnight", _) => (
                from.overnight_quantity.unsigned_abs(),
                Decimal::from(from.overnight_quantity.unsigned_abs()) * from.overnight_price,
            ),
            _ => return Err(KiteError::input("Invalid `position_type`.")),
        };
        if quantity == 0 || quantity > held {
            return Err(KiteError::input("Quantity exceeds the open position."));
        }
        let moved_value = value * Decimal::from(quantity) / Decimal::from(held);
        let mut to = PositionBook {
            product: body.new_product.clone(),
            overnight_quantity: 0,
            day_buy_quantity: 0,
            day_buy_value: Decimal::ZERO,
            day_sell_quantity: 0,
            day_sell_value: Decimal::ZERO,
            ..from.clone()
        };
        let from = &mut self.positions[at];
        match (body.position_type.as_str(), body.transaction_type.as_str()) {
            ("day", "BUY") => {
                from.day_buy_quantity -= quantity;
                from.day_buy_value -= moved_value;
                to.day_buy_quantity = quantity;
                to.day_buy_value = moved_value;
            }
            ("day", _) => {
                from.day_sell_quantity -= quantity;
                from.day_sell_value -= moved_value;
                to.day_sell_quantity = quantity;
                to.day_sell_value = moved_value;
            }
            _ => {
                let sign = from.overnight_quantity.signum();
                from.overnight_quantity -= sign * signed(quantity);
                to.overnight_quantity = sign * signed(quantity);
            }
        }
        let into = self.positions.iter().position(|position| {
            position.exchange == to.exchange
                && position.tradingsymbol == to.tradingsymbol
                && position.product == to.product
        });
        match into {
            Some(existing) => {
                let target = &mut self.positions[existing];
                target.day_buy_quantity += to.day_buy_quantity;
                target.day_buy_value += to.day_buy_value;
                target.day_sell_quantity += to.day_sell_quantity;
                target.day_sell_value += to.day_sell_value;
                target.overnight_quantity += to.overnight_quantity;
            }
            None => self.positions.push(to),
        }
        self.positions.retain(|position| {
            position.overnight_quantity != 0
                || position.day_buy_quantity + position.day_sell_quantity > 0
        });
        Ok(())
    }

    /// A new trading day: T+1 shares settle, the day's delivery buys become T+1 shares and
    /// its delivery sells leave the holdings, cash moves by the day's delivery trades,
    /// carry-forward positions are carried at `market`'s last price, and the day's trades
    /// and intraday positions are gone.
    pub(super) fn roll_day(&mut self, market: &Market) {
        for holding in &mut self.holdings {
            holding.quantity =
                (holding.quantity + holding.t1_quantity).saturating_sub(holding.used_quantity);
            holding.t1_quantity = 0;
            holding.used_quantity = 0;
        }
        let mut carried = Vec::new();
        for position in std::mem::take(&mut self.positions) {
            match position.product.as_str() {
                "CNC" => self.settle_delivery(&position),
                "NRML" | "MTF" if position.quantity() != 0 => {
                    let last = market.price(&position.key()).unwrap_or_default();
                    carried.push(PositionBook {
                        overnight_quantity: position.quantity(),
                        overnight_price: last,
                        day_buy_quantity: 0,
                        day_buy_value: Decimal::ZERO,
                        day_sell_quantity: 0,
                        day_sell_value: Decimal::ZERO,
                        ..position
                    });
                }
                _ => {}
            }
        }
        self.positions = carried;
        for holding in &mut self.holdings {
            holding.opening_quantity = holding.quantity + holding.t1_quantity;
        }
        self.trades.clear();
    }

    /// Moves a day's delivery position into the holdings (bought shares as T+1) and its cash.
    fn settle_delivery(&mut self, position: &PositionBook) {
        self.cash += position.day_sell_value - position.day_buy_value;
        let sold_of_the_day = position.day_sell_quantity - position.sold_from_holdings;
        let bought = position.day_buy_quantity.saturating_sub(sold_of_the_day);
        if bought == 0 {
            return;
        }
        let price = average(position.day_buy_value, position.day_buy_quantity);
        if self
            .holding_mut(&position.exchange, &position.tradingsymbol)
            .is_none()
        {
            self.holdings.push(HoldingBook {
                exchange: position.exchange.clone(),
                tradingsymbol: position.tradingsymbol.clone(),
                instrument_token: position.instrument_token,
                ..HoldingBook::default()
            });
        }
        if let Some(holding) = self.holding_mut(&position.exchange, &position.tradingsymbol) {
            let before = holding.quantity + holding.t1_quantity;
            let total = before + bought;
            holding.average_price = (holding.average_price * Decimal::from(before)
                + price * Decimal::from(bought))
                / Decimal::from(total);
            holding.t1_quantity += bought;
        }
    }
}
