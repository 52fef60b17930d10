//! The simulated broker's risk checks: the margin working orders block and positions use
//! (rates in [`super::portfolio::margin_rate`]), the holdings a delivery sell needs, and the
//! funds that leaves. An order the margin or the holdings do not cover is placed and then
//! `REJECTED` with Kite's reason (an autoslice child is refused in the answer instead).
//!
//! The margin an order blocks is fixed when it starts working (placement, release of an
//! after-market order, modification) and kept per user, so checks cost the same however
//! long the book is.

use rust_decimal::Decimal;

use super::book::{Book, Refusal, is_working, key_of};
use super::portfolio::{Portfolio, margin_rate};
use crate::http::models::{PlaceOrderBody, WireFundsBySegment, WireOrder};

impl Book {
    /// The margin an order blocks: nothing for delivery sells (they need holdings) or for
    /// sells that close a long position of the same product.
    pub(super) fn order_margin(&self, user_id: &str, order: &WireOrder) -> Decimal {
        if order.transaction_type == "SELL" {
            let long = self.portfolios.get(user_id).map_or(0, |portfolio| {
                portfolio.net_quantity(&order.exchange, &order.tradingsymbol, &order.product)
            });
            if order.product == "CNC" || long >= i64::from(order.pending_quantity) {
                return Decimal::ZERO;
            }
        }
        let reference = match order.order_type.as_str() {
            "LIMIT" | "SL" => order.price,
            "SL-M" => order.trigger_price,
            _ => self.market.price(&key_of(order)).unwrap_or_default(),
        };
        reference
            * Decimal::from(order.pending_quantity)
            * margin_rate(&order.exchange, &order.product)
    }

    /// Keeps the working orders, those waiting for a time (after-market and TTL orders) and
    /// the margin they block up to date after entry `at` changed state.
    pub(super) fn track(&mut self, at: usize) {
        let user = self.entries[at].user_id.clone();
        self.timed.remove(&at);
        let was = self.working.remove(&at);
        if was {
            let released = self.entries[at].blocked;
            *self.blocked.entry(user.clone()).or_default() -= released;
            self.entries[at].blocked = Decimal::ZERO;
        }
        if is_working(&self.entries[at].current().status) {
            let margin = self.order_margin(&user, self.entries[at].current());
            self.entries[at].blocked = margin;
            *self.blocked.entry(user).or_default() += margin;
            self.working.insert(at);
            let order = self.entries[at].current();
            if order.status == "AMO REQ RECEIVED" || order.validity == "TTL" {
                self.timed.insert(at);
            }
        }
    }

    /// The margin a user's working orders and positions use.
    fn used_margin(&self, user_id: &str) -> Decimal {
        let orders = self.blocked.get(user_id).copied().unwrap_or_default();
        let positions = self
            .portfolios
            .get(user_id)
            .map_or(Decimal::ZERO, |portfolio| {
                portfolio.position_margin(&self.market)
            });
        orders + positions
    }

    /// `GET /user/margins`: cash, and the margin used.
    pub(super) fn funds(&mut self, user_id: &str) -> WireFundsBySegment {
        let used = self.used_margin(user_id);
        self.portfolio(user_id).funds(used)
    }

    /// Why the user cannot afford `body` (Kite's margin and holding messages), if so.
    pub(super) fn check_funds(&self, body: &PlaceOrderBody, user_id: &str) -> Result<(), Refusal> {
        let order = WireOrder {
            exchange: body.exchange.clone(),
            tradingsymbol: body.tradingsymbol.clone(),
            transaction_type: body.transaction_type.clone(),
            order_type: body.order_type.clone(),
            product: body.product.clone(),
            price: body.price.unwrap_or_default(),
            trigger_price: body.trigger_price.unwrap_or_default(),
            pending_quantity: body.quantity,
            ..WireOrder::default()
        };
        let portfolio = self.portfolios.get(user_id);
        if order.product == "CNC" && order.transaction_type == "SELL" {
            let selling: u64 = self
                .working
                .iter()
                .map(|&at| &self.entries[at])
                .filter(|entry| entry.user_id == user_id)
                .map(|entry| entry.current())
                .filter(|open| {
                    open.product == "CNC"
                        && open.transaction_type == "SELL"
                        && key_of(open) == key_of(&order)
                })
                .map(|open| u64::from(open.pending_quantity))
                .sum();
            let sellable = portfolio.map_or(0, |portfolio| {
                portfolio.sellable(&order.exchange, &order.tradingsymbol)
            });
            if u64::from(body.quantity) + selling > sellable {
                let free = sellable.saturating_sub(selling);
                return Err(Refusal {
                    message: format!(
                        "Insufficient holdings. You can sell at most {free} {} for delivery.",
                        order.tradingsymbol
                    ),
                    status_message: format!(
                        "Insufficient holdings. You can sell at most {free} {} for delivery.",
                        order.tradingsymbol
                    ),
                    raw: format!(
                        "RMS:Rule: Check holding, {} held free {free}, ordered {}",
                        order.tradingsymbol, body.quantity
                    ),
                });
            }
            return Ok(());
        }
        let required = self.order_margin(user_id, &order).round_dp(2);
        let cash = portfolio.map_or(Decimal::ZERO, Portfolio::cash);
        let available = (cash - self.used_margin(user_id)).round_dp(2);
        if required > available {
            let message = format!(
                "Insufficient funds. Required margin is {required:.2} but available margin is {available:.2}."
            );
            return Err(Refusal {
                status_message: format!("{message} Check the orderbook for open orders."),
                raw: format!(
                    "RMS:Margin Exceeds,Required:{required:.2}, Available:{available:.2} for entity account-{user_id} across exchange across segment across product "
                ),
                message,
            });
        }
        Ok(())
    }
}
