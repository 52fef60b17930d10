//! The paper broker's books: prices, orders with their history, cash, trades and positions,
//! and the matching that moves them.

use std::collections::HashMap;

use chrono::Utc;
use rust_decimal::Decimal;

use crate::{
    BrokerError, Exchange, Holding, InstrumentRef, Order, OrderId, OrderStatus, Position, Product,
    Result, Side, Trade, Validity,
};

/// Instruments are keyed by exchange and symbol; the broker token plays no part here.
pub(super) type InstrumentKey = (Exchange, String);

pub(super) fn key_of(instrument: &InstrumentRef) -> InstrumentKey {
    (instrument.exchange, instrument.trading_symbol.clone())
}

#[derive(Debug, Default)]
pub(super) struct PaperState {
    pub(super) prices: HashMap<InstrumentKey, Decimal>,
    /// Order ids in placement order, and each order with its states.
    pub(super) order_ids: Vec<OrderId>,
    pub(super) orders: HashMap<OrderId, PaperOrder>,
    pub(super) trades: Vec<Trade>,
    pub(super) positions: Vec<PositionBook>,
    pub(super) holdings: Vec<Holding>,
    pub(super) cash: Decimal,
    pub(super) next_order_number: u64,
    pub(super) logged_out: bool,
}

#[derive(Debug)]
pub(super) struct PaperOrder {
    pub(super) current: Order,
    /// Earlier states, oldest first.
    pub(super) earlier: Vec<Order>,
    /// Cash blocked for a working buy order.
    pub(super) blocked: Decimal,
    /// Whether a stop order's trigger has traded.
    pub(super) triggered: bool,
}

impl PaperOrder {
    pub(super) fn current(&self) -> &Order {
        &self.current
    }

    pub(super) fn record(&mut self, update: impl FnOnce(&mut Order)) {
        let mut next = self.current.clone();
        update(&mut next);
        next.updated_at = Some(Utc::now().with_timezone(&crate::ist::offset()));
        self.earlier
            .push(std::mem::replace(&mut self.current, next));
    }
}

#[derive(Debug)]
pub(super) struct PositionBook {
    pub(super) instrument: InstrumentRef,
    pub(super) product: Product,
    pub(super) buy_quantity: u64,
    pub(super) sell_quantity: u64,
    pub(super) buy_value: Decimal,
    pub(super) sell_value: Decimal,
}

impl PaperState {
    pub(super) fn last_price(&self, instrument: &InstrumentRef) -> Option<Decimal> {
        self.prices.get(&key_of(instrument)).copied()
    }

    pub(super) fn available_cash(&self) -> Decimal {
        self.cash - self.blocked_cash()
    }

    pub(super) fn blocked_cash(&self) -> Decimal {
        self.orders.values().map(|order| order.blocked).sum()
    }

    pub(super) fn order_mut(&mut self, order_id: &OrderId) -> Result<&mut PaperOrder> {
        self.orders
            .get_mut(order_id)
            .ok_or_else(|| BrokerError::OrderNotFound {
                order_id: order_id.clone(),
            })
    }

    /// The cash a buy order needs at its reference price: its limit, else its trigger, else
    /// the last price. `None` when a market order has no price to go by.
    pub(super) fn cash_needed(&self, order: &Order) -> Option<Decimal> {
        if order.side == Side::Sell {
            return Some(Decimal::ZERO);
        }
        let reference = order
            .price
            .or(order.trigger_price)
            .or_else(|| self.last_price(&order.instrument))?;
        Some(reference * Decimal::from(order.quantity))
    }

    /// Blocks cash for a buy order, or rejects it. Returns whether it may go on.
    pub(super) fn block_cash(&mut self, order_id: &OrderId) -> bool {
        let Some(order) = self.orders.get(order_id) else {
            return false;
        };
        let current = order.current().clone();
        let available = self.available_cash() + order.blocked;
        let rejection = match self.cash_needed(&current) {
            None => Some(format!(
                "no last price for {} to fill a market order at",
                current.instrument
            )),
            Some(needed) if needed > available => Some(format!(
                "insufficient funds: the order needs {needed}, {available} is available"
            )),
            Some(needed) => {
                if let Some(order) = self.orders.get_mut(order_id) {
                    order.blocked = needed;
                }
                None
            }
        };
        match rejection {
            Some(reason) => {
                if let Some(order) = self.orders.get_mut(order_id) {
                    order.blocked = Decimal::ZERO;
                    order.record(|state| state.status = OrderStatus::Rejected { reason });
                }
                false
            }
            None => true,
        }
    }

    /// Fills, triggers or leaves an order as the last price dictates.
    pub(super) fn match_order(&mut self, order_id: &OrderId) {
        let Some(order) = self.orders.get(order_id) else {
            return;
        };
        let current = order.current().clone();
        let Some(last) = self.last_price(&current.instrument) else {
            return;
        };
        let triggered = order.triggered
            || match (current.trigger_price, current.side) {
                (None, _) => true,
                (Some(trigger), Side::Buy) => last >= trigger,
                (Some(trigger), Side::Sell) => last <= trigger,
            };
        let marketable = match (current.price, current.side) {
            _ if current.order_type.is_market() => true,
            (Some(limit), Side::Buy) => last <= limit,
            (Some(limit), Side::Sell) => last >= limit,
            (None, _) => false,
        };
        if triggered && marketable {
            self.fill(order_id, last);
        } else if let Some(order) = self.orders.get_mut(order_id) {
            let status = if triggered {
                OrderStatus::Open
            } else {
                OrderStatus::TriggerPending
            };
            order.triggered = triggered;
            if order.current().status != status {
                order.record(|state| state.status = status);
            }
        }
    }

    pub(super) fn fill(&mut self, order_id: &OrderId, price: Decimal) {
        let Some(order) = self.orders.get_mut(order_id) else {
            return;
        };
        order.blocked = Decimal::ZERO;
        order.triggered = true;
        order.record(|state| {
            state.status = OrderStatus::Complete;
            state.filled_quantity = state.quantity;
            state.average_price = Some(price);
        });
        let filled = order.current().clone();
        let value = price * Decimal::from(filled.quantity);
        match filled.side {
            Side::Buy => self.cash -= value,
            Side::Sell => self.cash += value,
        }
        self.trades.push(Trade {
            trade_id: format!("PT{:08}", self.trades.len() + 1),
            order_id: filled.order_id.clone(),
            instrument: filled.instrument.clone(),
            side: filled.side,
            product: filled.product,
            quantity: filled.quantity,
            price,
            traded_at: filled.updated_at,
        });
        self.book_position(&filled, value);
    }

    pub(super) fn book_position(&mut self, filled: &Order, value: Decimal) {
        let position = match self.positions.iter_mut().position(|book| {
            key_of(&book.instrument) == key_of(&filled.instrument) && book.product == filled.product
        }) {
            Some(index) => &mut self.positions[index],
            None => {
                self.positions.push(PositionBook {
                    instrument: filled.instrument.clone(),
                    product: filled.product,
                    buy_quantity: 0,
                    sell_quantity: 0,
                    buy_value: Decimal::ZERO,
                    sell_value: Decimal::ZERO,
                });
                let last = self.positions.len() - 1;
                &mut self.positions[last]
            }
        };
        let quantity = u64::from(filled.quantity);
        match filled.side {
            Side::Buy => {
                position.buy_quantity += quantity;
                position.buy_value += value;
            }
            Side::Sell => {
                position.sell_quantity += quantity;
                position.sell_value += value;
            }
        }
    }

    /// Ends an immediate-or-cancel order that could not fill at once.
    pub(super) fn expire_if_ioc(&mut self, order_id: &OrderId) {
        if let Some(order) = self.orders.get_mut(order_id)
            && order.current().validity == Validity::Ioc
            && order.current().status.is_working()
        {
            order.blocked = Decimal::ZERO;
            order.record(|state| state.status = OrderStatus::Cancelled);
        }
    }

    pub(super) fn position_of(&self, book: &PositionBook) -> Position {
        let buy_quantity = Decimal::from(book.buy_quantity);
        let sell_quantity = Decimal::from(book.sell_quantity);
        let quantity = i64::try_from(book.buy_quantity).unwrap_or(i64::MAX)
            - i64::try_from(book.sell_quantity).unwrap_or(i64::MAX);
        let average_price = match quantity {
            q if q > 0 => book.buy_value / buy_quantity,
            q if q < 0 => book.sell_value / sell_quantity,
            _ => Decimal::ZERO,
        };
        let last_price = self.last_price(&book.instrument);
        let pnl = last_price
            .map(|last| book.sell_value - book.buy_value + Decimal::from(quantity) * last);
        Position {
            instrument: book.instrument.clone(),
            product: book.product,
            quantity,
            average_price,
            buy_quantity: book.buy_quantity,
            sell_quantity: book.sell_quantity,
            buy_value: book.buy_value,
            sell_value: book.sell_value,
            last_price,
            pnl,
        }
    }
}
