//! The simulator's order book, for every user, with the market and the users' portfolios
//! behind the same lock: placing (checked by [`super::rules`] and [`super::risk`]),
//! modifying and cancelling orders, and what the order calls read. Matching and time are in
//! [`super::matching`].
//!
//! An order goes through Kite's states (`PUT ORDER REQ RECEIVED`, `VALIDATION PENDING`,
//! `OPEN PENDING`, then `OPEN` or `TRIGGER PENDING`; or `REJECTED` by the risk checks, without
//! an exchange order id; or `AMO REQ RECEIVED`, without exchange ids or timestamps, until the
//! session opens). A modification goes through `MODIFY VALIDATION PENDING`, `MODIFY
//! PENDING` and `MODIFIED`; a cancelled after-market order ends `CANCELLED AMO`.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use broker_core::ist;

use super::market::{self, Market, kite_time};
use super::portfolio::Portfolio;
use super::responses::KiteError;
use super::rules::{self, Listing};
use super::{AcceptedOrder, SimAccount};
use crate::http::models::{
    ConvertPositionBody, ModifyOrderBody, PlaceOrderBody, WireAutosliceChild, WireAutosliceError,
    WireAutoslicePlacement, WireHolding, WireIcebergMeta, WireOrder, WireOrderMeta, WirePositions,
    WireTrade,
};

/// An iceberg order's plan, carried by each of its legs.
#[derive(Debug, Clone)]
pub(super) struct Iceberg {
    pub(super) legs: u8,
    pub(super) leg_quantity: u32,
    pub(super) total: u32,
    /// The first leg's id, every later leg's `parent_order_id`.
    pub(super) first: String,
}

/// One order of one user, every state it went through.
pub(super) struct Entry {
    pub(super) user_id: String,
    pub(super) history: Vec<WireOrder>,
    pub(super) placed_at: DateTime<Utc>,
    /// When an after-market order reaches the exchange.
    pub(super) release_at: Option<DateTime<Utc>>,
    pub(super) modifications: u32,
    pub(super) iceberg: Option<Iceberg>,
    /// The margin it blocks while working.
    pub(super) blocked: Decimal,
}

/// Why the risk checks refuse an order: Kite's message, as an autoslice child's error and
/// as a rejected order's `status_message` and `status_message_raw`.
pub(super) struct Refusal {
    pub(super) message: String,
    pub(super) status_message: String,
    pub(super) raw: String,
}

impl Refusal {
    /// A refusal with the same text everywhere.
    pub(super) fn plain(reason: &str) -> Self {
        Self {
            message: reason.to_owned(),
            status_message: reason.to_owned(),
            raw: reason.to_owned(),
        }
    }
}

impl Entry {
    pub(super) fn current(&self) -> &WireOrder {
        // Every entry is created with its first state.
        &self.history[self.history.len() - 1]
    }

    pub(super) fn push(&mut self, status: &str, change: impl FnOnce(&mut WireOrder)) -> WireOrder {
        let mut next = self.current().clone();
        next.status = status.to_owned();
        change(&mut next);
        self.history.push(next.clone());
        next
    }
}

/// What an order is placed with, besides its form.
pub(super) struct Placing {
    pub(super) user_id: String,
    pub(super) variety: String,
    pub(super) peer: IpAddr,
    pub(super) now: DateTime<Utc>,
    /// The fault `RejectAfterAccept`: accepted, then rejected with this reason.
    pub(super) reject_with: Option<String>,
    /// Whether orders outside the session are refused.
    pub(super) market_hours: bool,
}

/// Every user's orders and portfolio, and the market they trade in.
pub(super) struct Book {
    pub(super) market: Market,
    pub(super) entries: Vec<Entry>,
    pub(super) by_id: HashMap<String, usize>,
    accepted: Vec<AcceptedOrder>,
    pub(super) portfolios: HashMap<String, Portfolio>,
    next_order: u64,
    pub(super) next_trade: u64,
    pub(super) date: Option<NaiveDate>,
    /// The positions of the working orders, oldest first.
    pub(super) working: BTreeSet<usize>,
    /// The working orders waiting for a time: after-market and TTL orders.
    pub(super) timed: BTreeSet<usize>,
    /// The margin each user's working orders block.
    pub(super) blocked: HashMap<String, Decimal>,
    /// Orders whose state changed since the last `take_updates` (for postbacks).
    pub(super) updates: Vec<(String, WireOrder)>,
}

/// Whether an order in this status can still fill, be modified or be cancelled.
pub(super) fn is_working(status: &str) -> bool {
    matches!(status, "OPEN" | "TRIGGER PENDING" | "AMO REQ RECEIVED")
}

/// `EXCHANGE:TRADINGSYMBOL` of an order.
pub(super) fn key_of(order: &WireOrder) -> String {
    format!("{}:{}", order.exchange, order.tradingsymbol)
}

impl Book {
    pub(super) fn new(market: Market, accounts: &[SimAccount]) -> Self {
        Self {
            market,
            entries: Vec::new(),
            by_id: HashMap::new(),
            accepted: Vec::new(),
            portfolios: accounts
                .iter()
                .map(|account| {
                    (
                        account.user_id.clone(),
                        Portfolio::new(account.cash, &account.holdings),
                    )
                })
                .collect(),
            next_order: 0,
            next_trade: 0,
            date: None,
            working: BTreeSet::new(),
            timed: BTreeSet::new(),
            blocked: HashMap::new(),
            updates: Vec::new(),
        }
    }

    pub(super) fn market(&self) -> &Market {
        &self.market
    }

    pub(super) fn accepted(&self) -> &[AcceptedOrder] {
        &self.accepted
    }

    pub(super) fn portfolio(&mut self, user_id: &str) -> &mut Portfolio {
        self.portfolios.entry(user_id.to_owned()).or_default()
    }

    /// The orders whose state changed since the last call, with their users.
    pub(super) fn take_updates(&mut self) -> Vec<(String, WireOrder)> {
        std::mem::take(&mut self.updates)
    }

    pub(super) fn orders_of(&self, user_id: &str) -> Vec<WireOrder> {
        self.entries
            .iter()
            .filter(|entry| entry.user_id == user_id)
            .map(|entry| entry.current().clone())
            .collect()
    }

    /// The position of one of `user_id`'s orders (another user's is "not found" too).
    fn find(&self, user_id: &str, order_id: &str) -> Result<usize, KiteError> {
        self.by_id
            .get(order_id)
            .copied()
            .filter(|&at| self.entries[at].user_id == user_id)
            .ok_or_else(KiteError::order_not_found)
    }

    /// What the market says about the order's instrument, once Kite's rules accept the
    /// order (`autoslice` when Kite is asked to slice it).
    fn checked(
        &self,
        body: &PlaceOrderBody,
        placing: &Placing,
        autoslice: bool,
    ) -> Result<Listing, KiteError> {
        let key = format!("{}:{}", body.exchange, body.tradingsymbol);
        if self.market.price(&key).is_none() {
            return Err(KiteError::input("Invalid `tradingsymbol`."));
        }
        let listing = Listing {
            freeze_quantity: self.market.freeze_quantity(&key),
            in_session: !placing.market_hours || market::in_session(placing.now),
        };
        rules::check_placement(body, &placing.variety, &listing, autoslice)?;
        Ok(listing)
    }

    pub(super) fn next_id(&mut self, now: DateTime<Utc>) -> String {
        self.next_order += 1;
        format!(
            "{}{:09}",
            now.with_timezone(&ist::offset()).format("%y%m%d"),
            self.next_order
        )
    }

    /// `POST /orders/{variety}`: checks, records, and settles the order's first states.
    pub(super) fn place(
        &mut self,
        body: PlaceOrderBody,
        placing: Placing,
    ) -> Result<WireOrder, KiteError> {
        self.checked(&body, &placing, false)?;
        let iceberg = body.iceberg_legs.filter(|_| placing.variety == "iceberg");
        let quantity = match iceberg {
            Some(legs) => rules::iceberg_leg_quantity(body.quantity, legs),
            None => body.quantity,
        };
        let order_id = self.next_id(placing.now);
        let mut order = self.new_order(&body, &placing, &order_id, quantity);
        let plan = iceberg.map(|legs| Iceberg {
            legs,
            leg_quantity: quantity,
            total: body.quantity,
            first: order_id.clone(),
        });
        if let Some(plan) = &plan {
            order.meta.iceberg = Some(WireIcebergMeta::new(
                1,
                plan.legs,
                plan.leg_quantity,
                plan.total,
            ));
        }
        self.record_accepted(&order_id, &body, &placing);
        let refusal = placing.reject_with.as_deref().map(Refusal::plain);
        let at = self.open(order, &placing.user_id, placing.now, plan, refusal);
        Ok(self.entries[at].current().clone())
    }

    /// `POST /orders/{variety}` with `autoslice=true`: one order per slice of at most the
    /// freeze quantity, each checked on its own (a slice the margin does not cover is
    /// refused in the answer and not placed).
    pub(super) fn place_autoslice(
        &mut self,
        body: PlaceOrderBody,
        placing: Placing,
    ) -> Result<WireAutoslicePlacement, KiteError> {
        let listing = self.checked(&body, &placing, true)?;
        let slice = listing.freeze_quantity.unwrap_or(body.quantity).max(1);
        let parent = self.next_id(placing.now);
        let mut children = Vec::new();
        let mut left = body.quantity;
        while left > 0 {
            let quantity = left.min(slice);
            left -= quantity;
            let mut tags: Vec<String> = body.tag.iter().cloned().collect();
            tags.extend(["autoslice".to_owned(), format!("autoslice:{parent}")]);
            let slice_body = PlaceOrderBody {
                quantity,
                autoslice: None,
                ..body.clone()
            };
            if let Err(refusal) = self.check_funds(&slice_body, &placing.user_id) {
                children.push(WireAutosliceChild::refused(WireAutosliceError::new(
                    400,
                    "MarginException",
                    refusal.message,
                )));
                continue;
            }
            let order_id = self.next_id(placing.now);
            let mut order = self.new_order(&slice_body, &placing, &order_id, quantity);
            order.tags = Some(tags);
            self.record_accepted(&order_id, &slice_body, &placing);
            self.open(order, &placing.user_id, placing.now, None, None);
            children.push(WireAutosliceChild::placed(order_id));
        }
        Ok(WireAutoslicePlacement {
            order_id: parent,
            children,
        })
    }

    fn record_accepted(&mut self, order_id: &str, body: &PlaceOrderBody, placing: &Placing) {
        self.accepted.push(AcceptedOrder {
            order_id: order_id.to_owned(),
            user_id: placing.user_id.clone(),
            variety: placing.variety.clone(),
            body: body.clone(),
            peer: placing.peer,
        });
    }

    fn new_order(
        &self,
        body: &PlaceOrderBody,
        placing: &Placing,
        order_id: &str,
        quantity: u32,
    ) -> WireOrder {
        let key = format!("{}:{}", body.exchange, body.tradingsymbol);
        WireOrder {
            order_id: order_id.to_owned(),
            placed_by: Some(placing.user_id.clone()),
            status: "PUT ORDER REQ RECEIVED".into(),
            order_timestamp: Some(kite_time(placing.now)),
            variety: placing.variety.clone(),
            modified: Some(false),
            exchange: body.exchange.clone(),
            tradingsymbol: body.tradingsymbol.clone(),
            instrument_token: Market::token_of(&key),
            order_type: body.order_type.clone(),
            transaction_type: body.transaction_type.clone(),
            validity: body.validity.clone().unwrap_or_else(|| "DAY".into()),
            validity_ttl: Some(body.validity_ttl.unwrap_or(0)),
            product: body.product.clone(),
            quantity,
            disclosed_quantity: body.disclosed_quantity.unwrap_or(0),
            price: body.price.unwrap_or_default(),
            trigger_price: body.trigger_price.unwrap_or_default(),
            pending_quantity: quantity,
            market_protection: Decimal::from(body.market_protection.unwrap_or(0)),
            tag: body.tag.clone(),
            tags: body.tag.clone().map(|tag| vec![tag]),
            auction_number: body
                .auction_number
                .clone()
                .filter(|_| placing.variety == "auction"),
            meta: WireOrderMeta::default(),
            ..WireOrder::default()
        }
    }

    /// Records a new order of `user_id` and takes it through its first states, the risk
    /// checks (unless `refusal` already refuses it) and matching. Returns its position.
    pub(super) fn open(
        &mut self,
        order: WireOrder,
        user_id: &str,
        now: DateTime<Utc>,
        iceberg: Option<Iceberg>,
        refusal: Option<Refusal>,
    ) -> usize {
        let at = self.entries.len();
        let order_id = order.order_id.clone();
        let body = PlaceOrderBody {
            exchange: order.exchange.clone(),
            tradingsymbol: order.tradingsymbol.clone(),
            transaction_type: order.transaction_type.clone(),
            order_type: order.order_type.clone(),
            quantity: order.quantity,
            product: order.product.clone(),
            price: Some(order.price),
            trigger_price: Some(order.trigger_price),
            ..PlaceOrderBody::default()
        };
        let amo = order.variety == "amo";
        let refusal = refusal.or_else(|| self.check_funds(&body, user_id).err());
        self.entries.push(Entry {
            user_id: user_id.to_owned(),
            history: vec![order],
            placed_at: now,
            release_at: None,
            modifications: 0,
            iceberg,
            blocked: Decimal::ZERO,
        });
        self.by_id.insert(order_id, at);
        self.entries[at].push("VALIDATION PENDING", |_| {});
        if let Some(refusal) = refusal {
            self.reject(at, refusal);
        } else if amo {
            let settled = self.entries[at].push("AMO REQ RECEIVED", |_| {});
            self.entries[at].release_at = Some(market::next_open(now));
            self.track(at);
            self.updates.push((user_id.to_owned(), settled));
        } else {
            self.reach_exchange(at, now);
        }
        at
    }

    fn reject(&mut self, at: usize, refusal: Refusal) {
        let rejected = self.entries[at].push("REJECTED", |order| {
            order.status_message = Some(refusal.status_message);
            order.status_message_raw = Some(refusal.raw);
            order.pending_quantity = 0;
        });
        let user = self.entries[at].user_id.clone();
        self.updates.push((user, rejected));
    }

    /// The order reaches the exchange: it gets its exchange id and timestamps, rests or
    /// waits for its trigger, and is matched against the last price.
    pub(super) fn reach_exchange(&mut self, at: usize, now: DateTime<Utc>) {
        let timestamp = kite_time(now);
        self.entries[at].push("OPEN PENDING", |_| {});
        let resting = if matches!(
            self.entries[at].current().order_type.as_str(),
            "SL" | "SL-M"
        ) {
            "TRIGGER PENDING"
        } else {
            "OPEN"
        };
        let settled = self.entries[at].push(resting, |order| {
            order.exchange_order_id = Some(format!("1{}", order.order_id));
            order.exchange_timestamp = Some(timestamp.clone());
            order.exchange_update_timestamp = Some(timestamp);
        });
        self.track(at);
        let user = self.entries[at].user_id.clone();
        self.updates.push((user, settled));
        self.match_order(at, now, true);
        let current = self.entries[at].current();
        if current.validity == "IOC" && current.status == "OPEN" {
            self.cancel_at(
                at,
                now,
                Some("IOC order cancelled: it did not fill at once."),
            );
        }
    }

    fn working(&self, user_id: &str, order_id: &str) -> Result<usize, KiteError> {
        let at = self.find(user_id, order_id)?;
        let status = &self.entries[at].current().status;
        if !is_working(status) {
            return Err(KiteError::input(format!(
                "Order cannot be modified or cancelled: it is {}.",
                status.to_lowercase()
            )));
        }
        Ok(at)
    }

    /// `PUT /orders/{variety}/{order_id}`.
    pub(super) fn modify(
        &mut self,
        user_id: &str,
        order_id: &str,
        variety: &str,
        change: &ModifyOrderBody,
        now: DateTime<Utc>,
    ) -> Result<WireOrder, KiteError> {
        let at = self.working(user_id, order_id)?;
        let entry = &self.entries[at];
        let current = entry.current().clone();
        let modified = rules::check_modification(&current, variety, change, entry.modifications)?;
        let timestamp = kite_time(now);
        let entry = &mut self.entries[at];
        entry.modifications += 1;
        for state in ["MODIFY VALIDATION PENDING", "MODIFY PENDING", "MODIFIED"] {
            entry.push(state, |_| {});
        }
        let resting = if current.status == "AMO REQ RECEIVED" {
            "AMO REQ RECEIVED"
        } else if matches!(modified.order_type.as_str(), "SL" | "SL-M") {
            "TRIGGER PENDING"
        } else {
            "OPEN"
        };
        let settled = entry.push(resting, |order| {
            *order = WireOrder {
                status: resting.to_owned(),
                exchange_update_timestamp: current
                    .exchange_order_id
                    .as_ref()
                    .map(|_| timestamp.clone()),
                ..modified
            };
        });
        self.track(at);
        self.updates.push((user_id.to_owned(), settled));
        if resting != "AMO REQ RECEIVED" {
            self.match_order(at, now, true);
        }
        Ok(self.entries[at].current().clone())
    }

    /// `DELETE /orders/{variety}/{order_id}`.
    pub(super) fn cancel(
        &mut self,
        user_id: &str,
        order_id: &str,
        variety: &str,
        now: DateTime<Utc>,
    ) -> Result<WireOrder, KiteError> {
        let at = self.working(user_id, order_id)?;
        if variety != self.entries[at].current().variety {
            return Err(KiteError::input("Invalid `variety`."));
        }
        self.cancel_at(at, now, None);
        Ok(self.entries[at].current().clone())
    }

    pub(super) fn cancel_at(&mut self, at: usize, now: DateTime<Utc>, reason: Option<&str>) {
        let amo = self.entries[at].current().status == "AMO REQ RECEIVED";
        let timestamp = kite_time(now);
        let cancelled =
            self.entries[at].push(if amo { "CANCELLED AMO" } else { "CANCELLED" }, |order| {
                order.cancelled_quantity = order.pending_quantity;
                order.pending_quantity = 0;
                order.status_message = reason.map(str::to_owned);
                if order.exchange_order_id.is_some() {
                    order.exchange_update_timestamp = Some(timestamp);
                }
            });
        self.track(at);
        let user = self.entries[at].user_id.clone();
        self.updates.push((user, cancelled));
    }

    pub(super) fn positions(&self, user_id: &str) -> WirePositions {
        self.portfolios
            .get(user_id)
            .map(|portfolio| portfolio.positions(&self.market))
            .unwrap_or_default()
    }

    pub(super) fn holdings(&self, user_id: &str) -> Vec<WireHolding> {
        self.portfolios
            .get(user_id)
            .map(|portfolio| portfolio.holdings(&self.market))
            .unwrap_or_default()
    }

    /// `PUT /portfolio/positions`.
    pub(super) fn convert(
        &mut self,
        user_id: &str,
        body: &ConvertPositionBody,
    ) -> Result<(), KiteError> {
        if !rules::PRODUCTS.contains(&body.new_product.as_str()) {
            return Err(KiteError::input("Invalid `new_product`."));
        }
        self.portfolio(user_id).convert(body)
    }

    pub(super) fn history(
        &self,
        user_id: &str,
        order_id: &str,
    ) -> Result<Vec<WireOrder>, KiteError> {
        let at = self.find(user_id, order_id)?;
        Ok(self.entries[at].history.clone())
    }

    pub(super) fn trades(
        &mut self,
        user_id: &str,
        order_id: Option<&str>,
    ) -> Result<Vec<WireTrade>, KiteError> {
        if let Some(order_id) = order_id {
            self.find(user_id, order_id)?;
        }
        Ok(self
            .portfolio(user_id)
            .trades()
            .iter()
            .filter(|trade| order_id.is_none_or(|id| trade.order_id == id))
            .cloned()
            .collect())
    }
}
