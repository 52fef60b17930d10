//! Matching and time in the simulator's book: the last price against working orders
//! (limits, stops, market orders, fills and the trades and positions they make, iceberg
//! legs), and what the clock does to the book (a new trading day, after-market orders
//! reaching the session, TTL orders expiring).

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;

use super::book::{Book, key_of};
use super::market::{self, kite_time};
use crate::http::models::{WireIcebergMeta, WireOrder, WireOrderMeta, WireTrade};

/// Whether a limit at `price` trades at `last`.
fn crosses(order: &WireOrder, price: Decimal, last: Decimal) -> bool {
    if order.transaction_type == "BUY" {
        last <= price
    } else {
        last >= price
    }
}

/// Whether the last price reached a stop's trigger.
fn triggered(order: &WireOrder, last: Decimal) -> bool {
    if order.transaction_type == "BUY" {
        last >= order.trigger_price
    } else {
        last <= order.trigger_price
    }
}

impl Book {
    /// Matches one working order against the last price; `arriving` when it has just reached
    /// the exchange (it then fills at the last price, a resting limit at its own price).
    pub(super) fn match_order(&mut self, at: usize, now: DateTime<Utc>, arriving: bool) {
        let current = self.entries[at].current().clone();
        let Some(last) = self.market.price(&key_of(&current)) else {
            return;
        };
        match current.status.as_str() {
            "TRIGGER PENDING" if triggered(&current, last) => {
                let order_type = if current.order_type == "SL" {
                    "LIMIT"
                } else {
                    "MARKET"
                };
                self.entries[at].push("OPEN", |order| {
                    order.exchange_update_timestamp = Some(kite_time(now));
                    order.order_type = order_type.to_owned();
                });
                self.track(at);
                self.match_order(at, now, true);
            }
            "OPEN" if current.order_type == "MARKET" => {
                self.fill_at(at, last, now);
            }
            "OPEN" if crosses(&current, current.price, last) => {
                let price = if arriving { last } else { current.price };
                self.fill_at(at, price, now);
            }
            _ => {}
        }
    }

    /// Matches every working order of `key` against its last price, oldest first (legs an
    /// iceberg places on the way are matched when they arrive).
    fn match_instrument(&mut self, key: &str, now: DateTime<Utc>) {
        let working: Vec<usize> = self.working.iter().copied().collect();
        for at in working {
            let current = self.entries[at].current();
            if key_of(current) == key
                && matches!(current.status.as_str(), "OPEN" | "TRIGGER PENDING")
            {
                self.match_order(at, now, false);
            }
        }
    }

    /// Moves the last price of `key` and fills what it reaches.
    pub(super) fn set_price(&mut self, key: &str, price: Decimal, now: DateTime<Utc>) {
        self.market.set_price(key, price);
        self.match_instrument(key, now);
    }

    /// Fills a working order completely at `price`. Returns whether it was working.
    pub(super) fn fill(&mut self, order_id: &str, price: Decimal, now: DateTime<Utc>) -> bool {
        let Some(&at) = self.by_id.get(order_id) else {
            return false;
        };
        if !matches!(
            self.entries[at].current().status.as_str(),
            "OPEN" | "TRIGGER PENDING"
        ) {
            return false;
        }
        self.fill_at(at, price, now);
        true
    }

    pub(super) fn fill_at(&mut self, at: usize, price: Decimal, now: DateTime<Utc>) {
        let timestamp = kite_time(now);
        let filled = self.entries[at].push("COMPLETE", |order| {
            order.filled_quantity = order.quantity;
            order.pending_quantity = 0;
            order.average_price = price;
            order.exchange_update_timestamp = Some(timestamp.clone());
        });
        self.next_trade += 1;
        let trade = WireTrade {
            trade_id: format!("{:08}", self.next_trade),
            order_id: filled.order_id.clone(),
            exchange_order_id: filled.exchange_order_id.clone(),
            exchange: filled.exchange.clone(),
            tradingsymbol: filled.tradingsymbol.clone(),
            instrument_token: filled.instrument_token,
            product: filled.product.clone(),
            average_price: price,
            quantity: filled.quantity,
            transaction_type: filled.transaction_type.clone(),
            fill_timestamp: Some(timestamp.clone()),
            // Kite gives the order's time of day only here.
            order_timestamp: filled
                .order_timestamp
                .as_deref()
                .and_then(|time| time.get(11..))
                .map(str::to_owned),
            exchange_timestamp: Some(timestamp),
        };
        let user = self.entries[at].user_id.clone();
        self.track(at);
        self.portfolio(&user).record_fill(&filled, trade);
        self.updates.push((user, filled));
        self.next_leg(at, now);
    }

    /// After an iceberg leg fills, places the next one (with the first leg as its parent).
    fn next_leg(&mut self, at: usize, now: DateTime<Utc>) {
        let entry = &self.entries[at];
        let Some(plan) = entry.iceberg.clone() else {
            return;
        };
        let leg = entry
            .current()
            .meta
            .iceberg
            .as_ref()
            .map_or(1, |meta| meta.leg);
        let placed = plan.leg_quantity.saturating_mul(u32::from(leg));
        if leg >= plan.legs || placed >= plan.total {
            return;
        }
        let quantity = plan.leg_quantity.min(plan.total - placed);
        let template = entry.history[0].clone();
        let user_id = entry.user_id.clone();
        let order_id = self.next_id(now);
        let mut meta = WireIcebergMeta::new(leg + 1, plan.legs, plan.leg_quantity, plan.total);
        meta.remaining_quantity = plan.total.saturating_sub(placed + quantity);
        let order = WireOrder {
            order_id: order_id.clone(),
            parent_order_id: Some(plan.first.clone()),
            order_timestamp: Some(kite_time(now)),
            quantity,
            pending_quantity: quantity,
            meta: WireOrderMeta {
                iceberg: Some(meta),
            },
            ..template
        };
        self.open(order, &user_id, now, Some(plan), None);
    }

    /// Brings the book to `now`: a new trading day (the day's orders and trades are gone,
    /// portfolios roll, today's closes are set), after-market orders reaching the exchange
    /// at the session's opening, TTL orders expiring.
    pub(super) fn catch_up(&mut self, now: DateTime<Utc>) {
        let today = market::trading_date(now);
        let mut date = *self.date.get_or_insert(today);
        while date < today {
            date = date.succ_opt().unwrap_or(today);
            if market::is_trading_day(date) {
                self.roll_day();
            }
        }
        self.date = Some(today);
        let released: Vec<usize> = self
            .timed
            .iter()
            .copied()
            .filter(|&at| {
                let entry = &self.entries[at];
                entry.current().status == "AMO REQ RECEIVED"
                    && entry.release_at.is_some_and(|release| release <= now)
            })
            .collect();
        for at in released {
            let release = self.entries[at].release_at.unwrap_or(now);
            self.entries[at].release_at = None;
            self.reach_exchange(at, release);
        }
        let expired: Vec<usize> = self
            .timed
            .iter()
            .copied()
            .filter(|&at| {
                let entry = &self.entries[at];
                let order = entry.current();
                order.validity == "TTL"
                    && matches!(order.status.as_str(), "OPEN" | "TRIGGER PENDING")
                    && entry.placed_at
                        + Duration::minutes(i64::from(order.validity_ttl.unwrap_or(0)))
                        <= now
            })
            .collect();
        for at in expired {
            self.cancel_at(at, now, Some("TTL expired"));
        }
    }

    /// A new trading day: portfolios roll, the last prices become the closes, and the order
    /// book keeps only the after-market orders still waiting for the session (Kite's order
    /// book and trades are the day's).
    fn roll_day(&mut self) {
        for portfolio in self.portfolios.values_mut() {
            portfolio.roll_day(&self.market);
        }
        self.market.close_day();
        self.entries
            .retain(|entry| entry.current().status == "AMO REQ RECEIVED");
        self.by_id = self
            .entries
            .iter()
            .enumerate()
            .map(|(at, entry)| (entry.current().order_id.clone(), at))
            .collect();
        self.working.clear();
        self.timed.clear();
        self.blocked.clear();
        for at in 0..self.entries.len() {
            self.track(at);
        }
    }
}
