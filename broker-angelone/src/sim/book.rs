//! The simulator's order book and matching: placing (after SmartAPI's refusals and the risk
//! system's and exchange's rejections, see `checks.rs`), modifying, cancelling, and filling
//! orders against the price feed: marketable limit orders fill at the last price when
//! placed, resting ones when the price reaches them, stop-losses trigger when the price
//! crosses their trigger. Fills go to the portfolio (trade book, positions, holdings, funds).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};

use broker_core::{Exchange, Instrument, InstrumentKind};
use chrono::{DateTime, Utc};
use rand::Rng;
use rust_decimal::Decimal;

use super::AcceptedOrder;
use super::checks::{self, Terms};
use super::market::{Market, ist_text};
use super::portfolio::{Fill, Portfolio};
use super::responses::Refusal;
use crate::http::models::{
    CancelOrderBody, ModifyOrderBody, PlaceOrderBody, WireOrder, WireOrderType, WireProduct,
    WireSide, WireVariety,
};

const OPEN: &str = "open";
const TRIGGER_PENDING: &str = "trigger pending";
const COMPLETE: &str = "complete";
const CANCELLED: &str = "cancelled";
const REJECTED: &str = "rejected";

/// The time format of order rows.
const ROW_TIME: &str = "%d-%b-%Y %H:%M:%S";

/// An order as the simulator keeps it.
struct SimOrder {
    client_code: String,
    exchange: Exchange,
    variety: WireVariety,
    product: WireProduct,
    terms: Terms,
    wire: WireOrder,
}

impl SimOrder {
    fn is_working(&self) -> bool {
        matches!(self.wire.status.as_str(), OPEN | TRIGGER_PENDING)
    }

    fn set_status(&mut self, status: &str, now: DateTime<Utc>) {
        self.wire.status = status.to_owned();
        self.wire.orderstatus = status.to_owned();
        let time = ist_text(now, ROW_TIME);
        self.wire.updatetime = Some(time.clone());
        if self.wire.exchangeorderid.is_some() {
            self.wire.exchorderupdatetime = Some(time);
        }
    }

    /// The price the order fills at when the last price is `last`, triggering a stop-loss
    /// whose trigger `last` reached.
    fn match_at(&mut self, last: Decimal, now: DateTime<Utc>) -> Option<Decimal> {
        if self.wire.status == TRIGGER_PENDING {
            let trigger = self.terms.trigger.unwrap_or_default();
            let triggered = match self.terms.side {
                WireSide::Buy => last >= trigger,
                WireSide::Sell => last <= trigger,
            };
            if !triggered {
                return None;
            }
            self.set_status(OPEN, now);
        }
        if self.wire.status != OPEN {
            return None;
        }
        let marketable = match self.terms.side {
            WireSide::Buy => self.terms.price >= last,
            WireSide::Sell => self.terms.price <= last,
        };
        marketable.then_some(last)
    }
}

/// What an account starts with.
pub(crate) struct Opening<'a> {
    pub client_code: &'a str,
    pub cash: Decimal,
    pub holdings: Vec<(&'a Instrument, u32, Decimal)>,
}

#[derive(Default)]
struct Ledger {
    orders: Vec<SimOrder>,
    by_id: HashMap<String, usize>,
    accepted: Vec<AcceptedOrder>,
    next_order: u64,
    next_fill: u64,
    next_exchange_order: u64,
    portfolio: Portfolio,
}

/// Every account's orders and what their fills left.
#[derive(Default)]
pub(crate) struct Book {
    ledger: Mutex<Ledger>,
}

/// A placement as received.
pub(crate) struct Placement {
    pub client_code: String,
    pub peer: IpAddr,
    pub body: PlaceOrderBody,
    /// A rejection injected by a fault.
    pub reject_with: Option<String>,
}

/// A unique order id in SmartAPI's form (a UUID).
fn unique_order_id() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// `CE`/`PE` of an option, empty otherwise.
fn option_type(instrument: &Instrument) -> &'static str {
    match instrument.kind {
        InstrumentKind::CallOption => "CE",
        InstrumentKind::PutOption => "PE",
        _ => "",
    }
}

impl Ledger {
    fn fill(&mut self, index: usize, price: Decimal, market: &Market, now: DateTime<Utc>) {
        self.next_fill += 1;
        let fill_id = format!("{}", 50_000_000 + self.next_fill);
        let time = ist_text(now, "%H:%M:%S");
        let order = &mut self.orders[index];
        let quantity = order.terms.quantity;
        order.wire.averageprice = price;
        order.wire.filledshares = quantity;
        order.wire.unfilledshares = 0;
        order.wire.fillid = Some(fill_id.clone());
        order.wire.filltime = Some(time.clone());
        order.set_status(COMPLETE, now);
        let Some(instrument) = market.instrument(order.exchange, &order.wire.symboltoken) else {
            return;
        };
        market.record_trade(order.exchange, &instrument.broker_token, quantity, now);
        self.portfolio.apply(&Fill {
            client_code: &order.client_code,
            instrument,
            instrumenttype: &order.wire.instrumenttype,
            isin: market.isin(order.exchange, &instrument.broker_token),
            side: order.terms.side,
            product: order.product,
            quantity,
            price,
            order_id: &order.wire.orderid,
            fill_id,
            time,
        });
    }

    /// Fills the order at `index` if the last price reaches it; whether it filled.
    fn match_order(&mut self, index: usize, market: &Market, now: DateTime<Utc>) -> bool {
        let order = &mut self.orders[index];
        let Some(last) = market.last_price(order.exchange, &order.wire.symboltoken) else {
            return false;
        };
        match order.match_at(last, now) {
            Some(price) => {
                self.fill(index, price, market, now);
                true
            }
            None => false,
        }
    }

    /// The working order `order_id`, whoever placed it.
    fn working_by_id(&self, order_id: &str) -> Option<usize> {
        self.by_id
            .get(order_id.trim())
            .copied()
            .filter(|index| self.orders[*index].is_working())
    }

    /// The working order `order_id` of `client_code`.
    fn working(&mut self, client_code: &str, order_id: &str) -> Result<usize, Refusal> {
        let index = self
            .by_id
            .get(order_id.trim())
            .copied()
            .filter(|index| self.orders[*index].client_code == client_code)
            .ok_or_else(|| Refusal::new(crate::http::ORDER_NOT_FOUND, "Order not found"))?;
        if self.orders[index].is_working() {
            Ok(index)
        } else {
            // SmartAPI's code for an order that is no longer open is not documented.
            Err(Refusal::uncoded(format!(
                "The order is {} and can no longer be modified or cancelled",
                self.orders[index].wire.status
            )))
        }
    }

    /// Why the risk system rejects the order: a delivery sale beyond the holdings, a
    /// cash-segment purchase beyond the funds (derivative margins are not simulated).
    fn risk_rejection(
        &self,
        client_code: &str,
        body: &PlaceOrderBody,
        instrument: &Instrument,
    ) -> Option<String> {
        let cash_segment = matches!(instrument.exchange, Exchange::Nse | Exchange::Bse);
        let quantity = i64::from(body.quantity);
        match body.transactiontype {
            WireSide::Sell if body.producttype == WireProduct::Delivery => {
                let held = self.portfolio.sellable(client_code, instrument);
                (held < quantity).then(|| {
                    format!(
                        "RMS: insufficient holdings: {quantity} {} to sell for delivery, {held} held",
                        instrument.trading_symbol
                    )
                })
            }
            WireSide::Buy if cash_segment => {
                let value = body.price * Decimal::from(body.quantity);
                let available = self.portfolio.available(client_code);
                (value > available).then(|| {
                    format!(
                        "RMS: insufficient funds: the order needs {value}, {available} is available"
                    )
                })
            }
            _ => None,
        }
    }
}

impl Book {
    fn lock(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Opens an account with its cash and the holdings it starts with.
    pub(crate) fn open(&self, opening: Opening<'_>, market: &Market) {
        let mut ledger = self.lock();
        ledger.portfolio.open(opening.client_code, opening.cash);
        for (instrument, quantity, average) in opening.holdings {
            let isin = market.isin(instrument.exchange, &instrument.broker_token);
            ledger
                .portfolio
                .hold(opening.client_code, instrument, isin, quantity, average);
        }
    }

    pub(crate) fn accepted(&self) -> Vec<AcceptedOrder> {
        self.lock().accepted.clone()
    }

    /// Places an order: refused as SmartAPI refuses, else accepted (and possibly rejected by
    /// the risk system or the exchange, or filled at once when `matching`).
    ///
    /// # Errors
    /// SmartAPI's refusal; nothing is placed then.
    pub(crate) fn place(
        &self,
        placement: Placement,
        market: &Market,
        now: DateTime<Utc>,
        matching: bool,
    ) -> Result<WireOrder, Refusal> {
        let body = &placement.body;
        let instrument = checks::instrument(
            market.instrument(body.exchange, &body.symboltoken),
            &body.tradingsymbol,
        )?;
        checks::placement(body, instrument)?;
        let last = market
            .last_price(instrument.exchange, &instrument.broker_token)
            .unwrap_or_default();
        let terms = Terms {
            side: body.transactiontype,
            order_type: body.ordertype,
            duration: body.duration,
            price: body.price,
            trigger: body.triggerprice,
            quantity: body.quantity,
        };
        let mut ledger = self.lock();
        let rejection = placement
            .reject_with
            .clone()
            .or_else(|| checks::exchange_rules(&terms, instrument, last))
            .or_else(|| ledger.risk_rejection(&placement.client_code, body, instrument));
        ledger.next_order += 1;
        let order_id = format!("{}{:09}", ist_text(now, "%y%m%d"), ledger.next_order);
        let time = ist_text(now, ROW_TIME);
        let facts = market.facts(instrument.exchange, &instrument.broker_token);
        let (status, text, exchange_order_id) = match rejection {
            Some(reason) => (REJECTED, reason, None),
            None => {
                ledger.next_exchange_order += 1;
                let status = if body.ordertype == WireOrderType::StoplossLimit {
                    TRIGGER_PENDING
                } else {
                    OPEN
                };
                let exchange_id = format!("1100{:012}", ledger.next_exchange_order);
                (status, String::new(), Some(exchange_id))
            }
        };
        let wire = WireOrder {
            variety: body.variety.as_str().to_owned(),
            ordertype: body.ordertype.as_str().to_owned(),
            producttype: body.producttype.as_str().to_owned(),
            duration: body.duration.as_str().to_owned(),
            price: body.price,
            triggerprice: body.triggerprice.unwrap_or_default(),
            quantity: body.quantity,
            disclosedquantity: body.disclosedquantity.unwrap_or(0),
            squareoff: body.squareoff,
            stoploss: body.stoploss,
            trailingstoploss: Decimal::ZERO,
            tradingsymbol: instrument.trading_symbol.clone(),
            transactiontype: body.transactiontype.as_str().to_owned(),
            exchange: instrument.exchange.as_str().to_owned(),
            symboltoken: instrument.broker_token.clone(),
            ordertag: body.ordertag.clone(),
            instrumenttype: facts.instrumenttype,
            strikeprice: instrument.strike.unwrap_or(Decimal::NEGATIVE_ONE),
            optiontype: option_type(instrument).to_owned(),
            expirydate: facts.expiry,
            lotsize: instrument.lot_size,
            cancelsize: 0,
            averageprice: Decimal::ZERO,
            filledshares: 0,
            unfilledshares: body.quantity,
            orderid: order_id.clone(),
            text,
            status: status.to_owned(),
            orderstatus: status.to_owned(),
            updatetime: Some(time.clone()),
            exchtime: exchange_order_id.as_ref().map(|_| time.clone()),
            exchorderupdatetime: exchange_order_id.as_ref().map(|_| time),
            fillid: None,
            filltime: None,
            parentorderid: None,
            uniqueorderid: Some(unique_order_id()),
            exchangeorderid: exchange_order_id,
        };
        let index = ledger.orders.len();
        ledger.orders.push(SimOrder {
            client_code: placement.client_code.clone(),
            exchange: instrument.exchange,
            variety: body.variety,
            product: body.producttype,
            terms,
            wire,
        });
        ledger.by_id.insert(order_id.clone(), index);
        ledger.accepted.push(AcceptedOrder {
            order_id,
            client_code: placement.client_code,
            peer: placement.peer,
            body: placement.body,
        });
        if matching {
            ledger.match_order(index, market, now);
        }
        Ok(ledger.orders[index].wire.clone())
    }

    /// Modifies a working order. SmartAPI's `modifyOrder` changes the order type, price,
    /// trigger, quantity and validity; it never changes the product (that is
    /// `convertPosition`), so a different product is refused rather than ignored.
    ///
    /// # Errors
    /// AB1013 for an unknown order, AB1008 for another variety (or an order type that does
    /// not fit it), AB1012 for another product, AB4006 for another instrument; an uncoded
    /// refusal (SmartAPI's code is not documented) for an order no longer open or new terms
    /// the exchange would reject. The order is unchanged then.
    pub(crate) fn modify(
        &self,
        client_code: &str,
        change: &ModifyOrderBody,
        market: &Market,
        now: DateTime<Utc>,
        matching: bool,
    ) -> Result<WireOrder, Refusal> {
        let mut ledger = self.lock();
        let index = ledger.working(client_code, &change.orderid)?;
        let order = &ledger.orders[index];
        if change.variety != order.variety {
            return Err(Refusal::new("AB1008", "Invalid Order Variety"));
        }
        checks::variety_fits(order.variety, change.ordertype)?;
        if change.producttype != order.product {
            return Err(Refusal::new("AB1012", "Invalid Product Type"));
        }
        let instrument = checks::instrument(
            market
                .instrument(change.exchange, &change.symboltoken)
                .filter(|found| found.broker_token == order.wire.symboltoken),
            &change.tradingsymbol,
        )?;
        let terms = Terms {
            side: order.terms.side,
            order_type: change.ordertype,
            duration: change.duration,
            price: change.price,
            trigger: change.triggerprice,
            quantity: change.quantity,
        };
        let last = market
            .last_price(instrument.exchange, &instrument.broker_token)
            .unwrap_or_default();
        if let Some(reason) = checks::exchange_rules(&terms, instrument, last) {
            return Err(Refusal::uncoded(reason));
        }
        let order = &mut ledger.orders[index];
        order.terms = terms;
        let wire = &mut order.wire;
        wire.ordertype = change.ordertype.as_str().to_owned();
        wire.duration = change.duration.as_str().to_owned();
        wire.price = change.price;
        wire.triggerprice = change.triggerprice.unwrap_or_default();
        wire.quantity = change.quantity;
        wire.unfilledshares = change.quantity.saturating_sub(wire.filledshares);
        // A stop-loss waits for its trigger again (and triggers at once if the price is past it).
        let status = if change.ordertype == WireOrderType::StoplossLimit {
            TRIGGER_PENDING
        } else {
            OPEN
        };
        order.set_status(status, now);
        if matching {
            ledger.match_order(index, market, now);
        }
        Ok(ledger.orders[index].wire.clone())
    }

    /// Cancels a working order.
    ///
    /// # Errors
    /// AB1013 for an unknown order, AB1008 for another variety, an uncoded refusal for an
    /// order no longer open.
    pub(crate) fn cancel(
        &self,
        client_code: &str,
        body: &CancelOrderBody,
        now: DateTime<Utc>,
    ) -> Result<WireOrder, Refusal> {
        let mut ledger = self.lock();
        let index = ledger.working(client_code, &body.orderid)?;
        let order = &mut ledger.orders[index];
        if body.variety != order.variety {
            return Err(Refusal::new("AB1008", "Invalid Order Variety"));
        }
        order.wire.cancelsize = order.wire.unfilledshares;
        order.set_status(CANCELLED, now);
        Ok(order.wire.clone())
    }

    /// Fills a working order completely at `price` (the last price when `None`); whether it
    /// was working.
    pub(crate) fn fill(
        &self,
        order_id: &str,
        price: Option<Decimal>,
        market: &Market,
        now: DateTime<Utc>,
    ) -> bool {
        let mut ledger = self.lock();
        let Some(index) = ledger.working_by_id(order_id) else {
            return false;
        };
        let order = &ledger.orders[index];
        let Some(price) =
            price.or_else(|| market.last_price(order.exchange, &order.wire.symboltoken))
        else {
            return false;
        };
        ledger.fill(index, price, market, now);
        true
    }

    /// Rejects a working order with `reason` (as the exchange can, after accepting it);
    /// whether it was working.
    pub(crate) fn reject(&self, order_id: &str, reason: &str, now: DateTime<Utc>) -> bool {
        let mut ledger = self.lock();
        let Some(index) = ledger.working_by_id(order_id) else {
            return false;
        };
        let order = &mut ledger.orders[index];
        order.wire.text = reason.to_owned();
        order.set_status(REJECTED, now);
        true
    }

    /// After the price of an instrument moved: triggers and fills what it reached. Returns
    /// the order ids filled.
    pub(crate) fn price_moved(
        &self,
        exchange: Exchange,
        token: &str,
        market: &Market,
        now: DateTime<Utc>,
    ) -> Vec<String> {
        let mut ledger = self.lock();
        let candidates: Vec<usize> = ledger
            .orders
            .iter()
            .enumerate()
            .filter(|(_, order)| {
                order.is_working() && order.exchange == exchange && order.wire.symboltoken == token
            })
            .map(|(index, _)| index)
            .collect();
        let mut filled = Vec::new();
        for index in candidates {
            if ledger.match_order(index, market, now) {
                filled.push(ledger.orders[index].wire.orderid.clone());
            }
        }
        filled
    }

    pub(crate) fn orders_of(&self, client_code: &str) -> Vec<WireOrder> {
        self.lock()
            .orders
            .iter()
            .filter(|order| order.client_code == client_code)
            .map(|order| order.wire.clone())
            .collect()
    }

    pub(crate) fn order_by_unique_id(
        &self,
        client_code: &str,
        unique_order_id: &str,
    ) -> Option<WireOrder> {
        self.lock()
            .orders
            .iter()
            .find(|order| {
                order.client_code == client_code
                    && order.wire.uniqueorderid.as_deref() == Some(unique_order_id)
            })
            .map(|order| order.wire.clone())
    }

    /// Runs `read` on the portfolio.
    pub(crate) fn portfolio<T>(&self, read: impl FnOnce(&mut Portfolio) -> T) -> T {
        read(&mut self.lock().portfolio)
    }
}
