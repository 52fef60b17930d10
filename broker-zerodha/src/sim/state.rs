//! The simulator's state: sessions, order book, trades, positions, faults and logs.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use rand::Rng;
use rand::distr::Alphanumeric;
use rust_decimal::Decimal;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use broker_core::session::{ist, next_ist_time};

use super::respond::KiteError;
use super::{AcceptedOrder, Fault, SimConfig};
use crate::auth::{SESSION_EXPIRY_IST, checksum, checksum_matches};
use crate::http::models::{
    AllMargins, AvailableMargins, ConvertPositionParams, KiteHolding, KiteLtp, KiteOhlc,
    KiteOhlcQuote, KiteOrder, KitePosition, KitePositions, KiteQuote, KiteTrade, ModifyOrderParams,
    PlaceOrderParams, SegmentMargins, UserProfile,
};

const EXCHANGES: [&str; 7] = ["NSE", "BSE", "NFO", "CDS", "BFO", "MCX", "BCD"];
const PRODUCTS: [&str; 4] = ["CNC", "NRML", "MIS", "MTF"];
const ORDER_TYPES: [&str; 4] = ["MARKET", "LIMIT", "SL", "SL-M"];
const VARIETIES: [&str; 5] = ["regular", "amo", "co", "iceberg", "auction"];
const MAX_TAG_LEN: usize = 20;
const KITE_TIME: &str = "%Y-%m-%d %H:%M:%S";

#[derive(Default)]
struct Book {
    request_tokens: HashSet<String>,
    access_tokens: HashMap<String, DateTime<Utc>>,
    refresh_tokens: HashSet<String>,
    histories: Vec<Vec<KiteOrder>>,
    by_id: HashMap<String, usize>,
    trades: Vec<KiteTrade>,
    positions: Vec<KitePosition>,
    accepted: Vec<AcceptedOrder>,
    requests: Vec<(String, String)>,
    faults: VecDeque<Fault>,
    clock: Option<DateTime<Utc>>,
    next_order: u64,
    next_trade: u64,
}

/// Shared state behind every handler.
pub(super) struct SimState {
    pub(super) config: SimConfig,
    book: Mutex<Book>,
    pub(super) postbacks: reqwest::Client,
}

fn random_token(length: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(length)
        .map(char::from)
        .collect()
}

fn require<'a>(value: &'a str, field: &str, allowed: &[&str]) -> Result<&'a str, KiteError> {
    if allowed.contains(&value) {
        Ok(value)
    } else {
        Err(KiteError::input(format!("Invalid `{field}`.")))
    }
}

impl SimState {
    pub(super) fn new(config: SimConfig) -> Self {
        Self {
            config,
            book: Mutex::new(Book::default()),
            postbacks: reqwest::Client::new(),
        }
    }

    fn book(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn now(&self) -> DateTime<Utc> {
        self.book().clock.unwrap_or_else(Utc::now)
    }

    fn kite_time(now: DateTime<Utc>) -> String {
        now.with_timezone(&ist()).format(KITE_TIME).to_string()
    }

    pub(super) fn set_clock(&self, now: Option<DateTime<Utc>>) {
        self.book().clock = now;
    }

    pub(super) fn inject(&self, fault: Fault) {
        self.book().faults.push_back(fault);
    }

    pub(super) fn take_fault(&self) -> Option<Fault> {
        self.book().faults.pop_front()
    }

    pub(super) fn record_request(&self, method: &str, path: &str) {
        self.book()
            .requests
            .push((method.to_owned(), path.to_owned()));
    }

    pub(super) fn requests_to(&self, method: &str, path_prefix: &str) -> usize {
        self.book()
            .requests
            .iter()
            .filter(|(m, path)| m == method && path.starts_with(path_prefix))
            .count()
    }

    pub(super) fn accepted_orders(&self) -> Vec<AcceptedOrder> {
        self.book().accepted.clone()
    }

    pub(super) fn current_orders(&self) -> Vec<KiteOrder> {
        self.book()
            .histories
            .iter()
            .filter_map(|history| history.last().cloned())
            .collect()
    }

    // --- sessions -------------------------------------------------------------------------

    pub(super) fn mint_request_token(&self) -> String {
        let token = random_token(32);
        self.book().request_tokens.insert(token.clone());
        token
    }

    fn check_api_key(&self, api_key: &str) -> Result<(), KiteError> {
        if api_key == self.config.api_key {
            Ok(())
        } else {
            Err(KiteError::input("Invalid `api_key`."))
        }
    }

    /// Checks the api key and `checksum = SHA-256(api_key + token + api_secret)`.
    fn check_token_checksum(
        &self,
        api_key: &str,
        token: &str,
        received_checksum: &str,
    ) -> Result<(), KiteError> {
        self.check_api_key(api_key)?;
        let secret = self.config.api_secret.expose_secret();
        if checksum_matches(received_checksum, &[api_key, token, secret]) {
            Ok(())
        } else {
            Err(KiteError::token("Invalid `checksum`."))
        }
    }

    /// `POST /session/token`: the checksum is checked before the token is used up, so a
    /// forged attempt does not burn the user's login.
    pub(super) fn exchange_request_token(
        &self,
        api_key: &str,
        request_token: &str,
        received_checksum: &str,
    ) -> Result<Value, KiteError> {
        self.check_token_checksum(api_key, request_token, received_checksum)?;
        if !self.book().request_tokens.remove(request_token) {
            return Err(KiteError::token("Token is invalid or has expired."));
        }
        Ok(self.open_session())
    }

    /// `POST /session/refresh_token`.
    pub(super) fn renew_session(
        &self,
        api_key: &str,
        refresh_token: &str,
        received_checksum: &str,
    ) -> Result<Value, KiteError> {
        self.check_token_checksum(api_key, refresh_token, received_checksum)?;
        if !self.book().refresh_tokens.contains(refresh_token) {
            return Err(KiteError::token("Token is invalid or has expired."));
        }
        Ok(self.open_session())
    }

    fn open_session(&self) -> Value {
        let now = self.now();
        let access_token = random_token(32);
        let refresh_token = if self.config.issue_refresh_tokens {
            random_token(32)
        } else {
            String::new()
        };
        {
            let mut book = self.book();
            book.access_tokens
                .insert(access_token.clone(), next_ist_time(now, SESSION_EXPIRY_IST));
            if !refresh_token.is_empty() {
                book.refresh_tokens.insert(refresh_token.clone());
            }
        }
        let mut session = serde_json::to_value(self.profile()).unwrap_or_else(|_| json!({}));
        if let Some(fields) = session.as_object_mut() {
            for (name, value) in [
                ("avatar_url", Value::Null),
                ("api_key", json!(self.config.api_key)),
                ("access_token", json!(access_token)),
                ("public_token", json!(random_token(32))),
                ("refresh_token", json!(refresh_token)),
                ("silo", json!("")),
                ("login_time", json!(Self::kite_time(now))),
                ("meta", json!({ "demat_consent": "physical" })),
            ] {
                fields.insert(name.to_owned(), value);
            }
        }
        session
    }

    /// `DELETE /session/token`.
    pub(super) fn invalidate(
        &self,
        api_key: &str,
        access_token: Option<&str>,
        refresh_token: Option<&str>,
    ) -> Result<(), KiteError> {
        self.check_api_key(api_key)?;
        let mut book = self.book();
        if let Some(token) = access_token {
            book.access_tokens.remove(token);
        }
        if let Some(token) = refresh_token {
            book.refresh_tokens.remove(token);
        }
        Ok(())
    }

    pub(super) fn revoke_access_tokens(&self) {
        self.book().access_tokens.clear();
    }

    /// Checks `Authorization: token api_key:access_token` against live sessions.
    pub(super) fn authorize(&self, authorization: Option<&str>) -> Result<(), KiteError> {
        let refused = || KiteError::token("Incorrect `api_key` or `access_token`.");
        let (api_key, access_token) = authorization
            .and_then(|value| value.strip_prefix("token "))
            .and_then(|credentials| credentials.split_once(':'))
            .ok_or_else(refused)?;
        if api_key != self.config.api_key {
            return Err(refused());
        }
        let now = self.now();
        let book = self.book();
        match book.access_tokens.get(access_token) {
            Some(expires_at) if now < *expires_at => Ok(()),
            _ => Err(refused()),
        }
    }

    /// Refuses order requests from peers that are not whitelisted.
    pub(super) fn check_peer(&self, peer: IpAddr) -> Result<(), KiteError> {
        if self.config.allowed_ips.contains(&peer) {
            return Ok(());
        }
        Err(KiteError::new(
            axum::http::StatusCode::FORBIDDEN,
            "PermissionException",
            format!(
                "IP ({peer}) is not allowed to place orders for this app. Update allowed IPs on the Kite developer console."
            ),
        ))
    }

    // --- account --------------------------------------------------------------------------

    pub(super) fn profile(&self) -> UserProfile {
        let short = self
            .config
            .user_name
            .split_whitespace()
            .next()
            .unwrap_or_default();
        UserProfile {
            user_id: self.config.user_id.clone(),
            user_type: Some("individual".into()),
            email: Some(format!(
                "{}@example.com",
                self.config.user_id.to_lowercase()
            )),
            user_name: self.config.user_name.clone(),
            user_shortname: short.to_owned(),
            broker: Some("ZERODHA".into()),
            exchanges: EXCHANGES.iter().map(|code| (*code).to_owned()).collect(),
            products: PRODUCTS.iter().map(|code| (*code).to_owned()).collect(),
            order_types: ORDER_TYPES.iter().map(|code| (*code).to_owned()).collect(),
        }
    }

    pub(super) fn equity_margins(&self) -> SegmentMargins {
        let cash = self.config.cash;
        SegmentMargins {
            enabled: true,
            net: cash,
            available: AvailableMargins {
                cash,
                opening_balance: cash,
                live_balance: cash,
                ..AvailableMargins::default()
            },
            utilised: Default::default(),
        }
    }

    pub(super) fn all_margins(&self) -> AllMargins {
        AllMargins {
            equity: Some(self.equity_margins()),
            commodity: Some(SegmentMargins {
                enabled: true,
                ..SegmentMargins::default()
            }),
        }
    }

    pub(super) fn holdings(&self) -> Vec<KiteHolding> {
        let price = self.price("NSE:SBIN").unwrap_or_default();
        vec![KiteHolding {
            tradingsymbol: "SBIN".into(),
            exchange: "NSE".into(),
            instrument_token: 779_521,
            isin: Some("INE062A01020".into()),
            product: "CNC".into(),
            quantity: 16,
            average_price: Decimal::new(80_178, 2),
            last_price: price,
            close_price: price,
            pnl: (price - Decimal::new(80_178, 2)) * Decimal::from(16),
            ..KiteHolding::default()
        }]
    }

    // --- market data ----------------------------------------------------------------------

    fn price(&self, key: &str) -> Option<Decimal> {
        self.config.prices.get(key).copied()
    }

    fn token_of(key: &str) -> u64 {
        key.bytes().fold(17u64, |hash, byte| {
            hash.wrapping_mul(31).wrapping_add(u64::from(byte)) % 100_000_000
        })
    }

    fn ohlc_of(price: Decimal) -> KiteOhlc {
        KiteOhlc {
            open: price,
            high: price,
            low: price,
            close: price,
        }
    }

    pub(super) fn quotes(&self, keys: &[String]) -> HashMap<String, KiteQuote> {
        let now = Self::kite_time(self.now());
        keys.iter()
            .filter_map(|key| {
                let price = self.price(key)?;
                Some((
                    key.clone(),
                    KiteQuote {
                        instrument_token: Self::token_of(key),
                        timestamp: Some(now.clone()),
                        last_trade_time: Some(now.clone()),
                        last_price: price,
                        last_quantity: 1,
                        volume: 1_000,
                        average_price: price,
                        ohlc: Self::ohlc_of(price),
                        ..KiteQuote::default()
                    },
                ))
            })
            .collect()
    }

    pub(super) fn ohlc(&self, keys: &[String]) -> HashMap<String, KiteOhlcQuote> {
        keys.iter()
            .filter_map(|key| {
                let price = self.price(key)?;
                Some((
                    key.clone(),
                    KiteOhlcQuote {
                        instrument_token: Self::token_of(key),
                        last_price: price,
                        ohlc: Self::ohlc_of(price),
                    },
                ))
            })
            .collect()
    }

    pub(super) fn ltp(&self, keys: &[String]) -> HashMap<String, KiteLtp> {
        keys.iter()
            .filter_map(|key| {
                let price = self.price(key)?;
                Some((
                    key.clone(),
                    KiteLtp {
                        instrument_token: Self::token_of(key),
                        last_price: price,
                    },
                ))
            })
            .collect()
    }

    pub(super) fn instruments_csv(&self) -> String {
        let mut csv = String::from(
            "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,instrument_type,segment,exchange\n",
        );
        let mut keys: Vec<&String> = self.config.prices.keys().collect();
        keys.sort();
        for key in keys {
            let Some((exchange, symbol)) = key.split_once(':') else {
                continue;
            };
            let token = Self::token_of(key);
            let price = self.price(key).unwrap_or_default();
            let (kind, segment) = if symbol.ends_with("FUT") {
                ("FUT", format!("{exchange}-FUT"))
            } else {
                ("EQ", exchange.to_owned())
            };
            csv.push_str(&format!(
                "{token},{},{symbol},{symbol},{price},,0.0,0.05,1,{kind},{segment},{exchange}\n",
                token / 256
            ));
        }
        csv
    }

    // --- orders ---------------------------------------------------------------------------

    fn validate(params: &PlaceOrderParams, variety: &str) -> Result<(), KiteError> {
        require(variety, "variety", &VARIETIES)?;
        require(&params.exchange, "exchange", &EXCHANGES)?;
        require(
            &params.transaction_type,
            "transaction_type",
            &["BUY", "SELL"],
        )?;
        require(&params.order_type, "order_type", &ORDER_TYPES)?;
        require(&params.product, "product", &PRODUCTS)?;
        let validity = params.validity.as_deref().unwrap_or("DAY");
        require(validity, "validity", &["DAY", "IOC", "TTL"])?;
        if validity == "TTL" && params.validity_ttl.unwrap_or(0) == 0 {
            return Err(KiteError::input(
                "`validity_ttl` is required for TTL orders.",
            ));
        }
        if params.quantity == 0 {
            return Err(KiteError::input("Quantity should be greater than zero."));
        }
        let needs_price = matches!(params.order_type.as_str(), "LIMIT" | "SL");
        if needs_price && params.price.is_none_or(|price| price <= Decimal::ZERO) {
            return Err(KiteError::input("Price should be greater than zero."));
        }
        let needs_trigger = matches!(params.order_type.as_str(), "SL" | "SL-M");
        if needs_trigger
            && params
                .trigger_price
                .is_none_or(|price| price <= Decimal::ZERO)
        {
            return Err(KiteError::input(
                "Trigger price should be greater than zero.",
            ));
        }
        let at_market = matches!(params.order_type.as_str(), "MARKET" | "SL-M");
        let protected = params
            .market_protection
            .is_some_and(|protection| protection == -1 || (1..=100).contains(&protection));
        if at_market && !protected {
            return Err(KiteError::input(
                "Market orders without market protection are not allowed via API. Set `market_protection`.",
            ));
        }
        if params
            .tag
            .as_deref()
            .is_some_and(|tag| tag.len() > MAX_TAG_LEN)
        {
            return Err(KiteError::input(
                "Tag length should not exceed 20 characters.",
            ));
        }
        Ok(())
    }

    /// `POST /orders/{variety}`: validates, records, and settles the order's first states.
    pub(super) fn place(
        &self,
        variety: &str,
        params: PlaceOrderParams,
        peer: IpAddr,
        reject_with: Option<String>,
    ) -> Result<KiteOrder, KiteError> {
        Self::validate(&params, variety)?;
        let key = format!("{}:{}", params.exchange, params.tradingsymbol);
        let Some(last_price) = self.price(&key) else {
            return Err(KiteError::input("Invalid `tradingsymbol`."));
        };
        let now = self.now();
        let timestamp = Self::kite_time(now);
        let mut book = self.book();
        book.next_order += 1;
        let order_id = format!(
            "{}{:09}",
            now.with_timezone(&ist()).format("%y%m%d"),
            book.next_order
        );
        let received = KiteOrder {
            order_id: order_id.clone(),
            placed_by: Some(self.config.user_id.clone()),
            status: "PUT ORDER REQ RECEIVED".into(),
            order_timestamp: Some(timestamp.clone()),
            variety: variety.to_owned(),
            modified: Some(false),
            exchange: params.exchange.clone(),
            tradingsymbol: params.tradingsymbol.clone(),
            instrument_token: Self::token_of(&key),
            order_type: params.order_type.clone(),
            transaction_type: params.transaction_type.clone(),
            validity: params.validity.clone().unwrap_or_else(|| "DAY".into()),
            validity_ttl: params.validity_ttl,
            product: params.product.clone(),
            quantity: params.quantity,
            disclosed_quantity: params.disclosed_quantity.unwrap_or(0),
            price: params.price.unwrap_or_default(),
            trigger_price: params.trigger_price.unwrap_or_default(),
            pending_quantity: params.quantity,
            market_protection: Decimal::from(params.market_protection.unwrap_or(0)),
            tag: params.tag.clone(),
            ..KiteOrder::default()
        };
        let mut history = vec![received.clone()];
        let validated = KiteOrder {
            status: "VALIDATION PENDING".into(),
            ..received.clone()
        };
        history.push(validated.clone());
        let mut settled = KiteOrder {
            exchange_order_id: Some(format!("1{order_id}")),
            exchange_timestamp: Some(timestamp.clone()),
            exchange_update_timestamp: Some(timestamp),
            ..validated
        };
        let buying = params.transaction_type == "BUY";
        let marketable = match params.order_type.as_str() {
            "MARKET" => true,
            "LIMIT" => params.price.is_some_and(|limit| {
                if buying {
                    limit >= last_price
                } else {
                    limit <= last_price
                }
            }),
            _ => false,
        };
        if let Some(reason) = reject_with {
            settled.status = "REJECTED".into();
            settled.status_message = Some(reason.clone());
            settled.status_message_raw = Some(reason);
            settled.pending_quantity = 0;
        } else if variety == "amo" {
            settled.status = "AMO REQ RECEIVED".into();
        } else if matches!(params.order_type.as_str(), "SL" | "SL-M") {
            settled.status = "TRIGGER PENDING".into();
        } else if marketable {
            settled.status = "COMPLETE".into();
            settled.filled_quantity = params.quantity;
            settled.pending_quantity = 0;
            settled.average_price = last_price;
            Self::fill(&mut book, &settled, last_price);
        } else {
            settled.status = "OPEN".into();
        }
        history.push(settled.clone());
        let position = book.histories.len();
        book.histories.push(history);
        book.by_id.insert(order_id.clone(), position);
        book.accepted.push(AcceptedOrder {
            order_id,
            variety: variety.to_owned(),
            params,
            peer,
        });
        Ok(settled)
    }

    fn fill(book: &mut Book, order: &KiteOrder, price: Decimal) {
        book.next_trade += 1;
        let quantity = order.quantity;
        book.trades.push(KiteTrade {
            trade_id: format!("{:08}", book.next_trade),
            order_id: order.order_id.clone(),
            exchange_order_id: order.exchange_order_id.clone(),
            exchange: order.exchange.clone(),
            tradingsymbol: order.tradingsymbol.clone(),
            instrument_token: order.instrument_token,
            product: order.product.clone(),
            average_price: price,
            quantity,
            transaction_type: order.transaction_type.clone(),
            fill_timestamp: order.exchange_timestamp.clone(),
            order_timestamp: order.order_timestamp.clone(),
            exchange_timestamp: order.exchange_timestamp.clone(),
        });
        let existing = book.positions.iter_mut().find(|position| {
            position.exchange == order.exchange
                && position.tradingsymbol == order.tradingsymbol
                && position.product == order.product
        });
        let position = match existing {
            Some(position) => position,
            None => {
                book.positions.push(KitePosition {
                    tradingsymbol: order.tradingsymbol.clone(),
                    exchange: order.exchange.clone(),
                    instrument_token: order.instrument_token,
                    product: order.product.clone(),
                    multiplier: Decimal::ONE,
                    ..KitePosition::default()
                });
                let last = book.positions.len() - 1;
                &mut book.positions[last]
            }
        };
        let value = price * Decimal::from(quantity);
        if order.transaction_type == "BUY" {
            position.buy_quantity += u64::from(quantity);
            position.buy_value += value;
            position.buy_price = position.buy_value / Decimal::from(position.buy_quantity);
        } else {
            position.sell_quantity += u64::from(quantity);
            position.sell_value += value;
            position.sell_price = position.sell_value / Decimal::from(position.sell_quantity);
        }
        position.quantity = position.buy_quantity as i64 - position.sell_quantity as i64;
        position.last_price = price;
        position.value = position.sell_value - position.buy_value;
        position.average_price = match position.quantity {
            0 => Decimal::ZERO,
            q if q > 0 => position.buy_price,
            _ => position.sell_price,
        };
        position.pnl = position.value + Decimal::from(position.quantity) * price;
        position.m2m = position.pnl;
    }

    fn working(book: &Book, order_id: &str) -> Result<(usize, KiteOrder), KiteError> {
        let position = *book
            .by_id
            .get(order_id)
            .ok_or_else(KiteError::order_not_found)?;
        let current = book.histories[position]
            .last()
            .cloned()
            .ok_or_else(KiteError::order_not_found)?;
        if !matches!(
            current.status.as_str(),
            "OPEN" | "TRIGGER PENDING" | "AMO REQ RECEIVED"
        ) {
            return Err(KiteError::input(format!(
                "Order cannot be modified or cancelled: it is {}.",
                current.status.to_lowercase()
            )));
        }
        Ok((position, current))
    }

    /// `PUT /orders/{variety}/{order_id}`.
    pub(super) fn modify(
        &self,
        order_id: &str,
        change: ModifyOrderParams,
    ) -> Result<KiteOrder, KiteError> {
        let mut book = self.book();
        let (position, current) = Self::working(&book, order_id)?;
        if change.quantity == Some(0) {
            return Err(KiteError::input("Quantity should be greater than zero."));
        }
        if let Some(order_type) = change.order_type.as_deref() {
            require(order_type, "order_type", &ORDER_TYPES)?;
        }
        let quantity = change.quantity.unwrap_or(current.quantity);
        let modified = KiteOrder {
            order_type: change.order_type.unwrap_or(current.order_type.clone()),
            quantity,
            pending_quantity: quantity.saturating_sub(current.filled_quantity),
            price: change.price.unwrap_or(current.price),
            trigger_price: change.trigger_price.unwrap_or(current.trigger_price),
            validity: change.validity.unwrap_or(current.validity.clone()),
            disclosed_quantity: change
                .disclosed_quantity
                .unwrap_or(current.disclosed_quantity),
            modified: Some(true),
            exchange_update_timestamp: Some(Self::kite_time(book.clock.unwrap_or_else(Utc::now))),
            ..current
        };
        book.histories[position].push(modified.clone());
        Ok(modified)
    }

    /// `DELETE /orders/{variety}/{order_id}`.
    pub(super) fn cancel(&self, order_id: &str) -> Result<KiteOrder, KiteError> {
        let mut book = self.book();
        let (position, current) = Self::working(&book, order_id)?;
        let cancelled = KiteOrder {
            status: "CANCELLED".into(),
            cancelled_quantity: current.pending_quantity,
            pending_quantity: 0,
            exchange_update_timestamp: Some(Self::kite_time(book.clock.unwrap_or_else(Utc::now))),
            ..current
        };
        book.histories[position].push(cancelled.clone());
        Ok(cancelled)
    }

    pub(super) fn history(&self, order_id: &str) -> Result<Vec<KiteOrder>, KiteError> {
        let book = self.book();
        let position = *book
            .by_id
            .get(order_id)
            .ok_or_else(KiteError::order_not_found)?;
        Ok(book.histories[position].clone())
    }

    pub(super) fn trades(&self, order_id: Option<&str>) -> Result<Vec<KiteTrade>, KiteError> {
        let book = self.book();
        if let Some(order_id) = order_id
            && !book.by_id.contains_key(order_id)
        {
            return Err(KiteError::order_not_found());
        }
        Ok(book
            .trades
            .iter()
            .filter(|trade| order_id.is_none_or(|id| trade.order_id == id))
            .cloned()
            .collect())
    }

    pub(super) fn positions(&self) -> KitePositions {
        let book = self.book();
        KitePositions {
            net: book.positions.clone(),
            day: book.positions.clone(),
        }
    }

    /// `PUT /portfolio/positions`.
    pub(super) fn convert(&self, params: &ConvertPositionParams) -> Result<(), KiteError> {
        require(&params.new_product, "new_product", &PRODUCTS)?;
        let mut book = self.book();
        let position = book
            .positions
            .iter_mut()
            .find(|position| {
                position.exchange == params.exchange
                    && position.tradingsymbol == params.tradingsymbol
                    && position.product == params.old_product
            })
            .ok_or_else(|| KiteError::input("Position not found for conversion."))?;
        if u64::from(params.quantity) > position.quantity.unsigned_abs() {
            return Err(KiteError::input("Quantity exceeds the open position."));
        }
        position.product.clone_from(&params.new_product);
        Ok(())
    }

    /// The postback body of an order: the order plus `user_id`, `app_id` and `checksum`.
    pub(super) fn postback_body(&self, order: &KiteOrder) -> Value {
        let timestamp = order.order_timestamp.clone().unwrap_or_default();
        let signature = checksum(&[
            &order.order_id,
            &timestamp,
            self.config.api_secret.expose_secret(),
        ]);
        let mut body = serde_json::to_value(order).unwrap_or_else(|_| json!({}));
        if let Some(fields) = body.as_object_mut() {
            fields.insert("user_id".into(), json!(self.config.user_id));
            fields.insert("app_id".into(), json!(1));
            fields.insert("unfilled_quantity".into(), json!(order.pending_quantity));
            fields.insert("checksum".into(), json!(signature));
        }
        body
    }
}
