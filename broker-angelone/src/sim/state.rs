//! The simulator's accounts, sessions, orders and faults.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rand::Rng;
use rand::distr::Alphanumeric;
use rust_decimal::Decimal;
use secrecy::ExposeSecret;

use super::{AcceptedOrder, Fault, SimAccount};
use crate::http::endpoint::Endpoint;
use crate::http::models::{
    ModifyOrderBody, PlaceOrderBody, WireOrder, WireOrderType, WirePosition, WireSide, WireTrade,
};
use crate::totp::TotpGenerator;

/// How long a simulated session lives unless expired on purpose.
const SESSION_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// One issued session.
struct Session {
    client_code: String,
    expires_at: Instant,
}

/// An order as the simulator keeps it.
pub(crate) struct SimOrder {
    pub client_code: String,
    pub wire: WireOrder,
}

#[derive(Default)]
struct Books {
    sessions: HashMap<String, Session>,
    refresh_tokens: HashMap<String, String>,
    orders: Vec<SimOrder>,
    trades: Vec<(String, WireTrade)>,
    accepted: Vec<AcceptedOrder>,
    faults: VecDeque<(Endpoint, Fault)>,
    logins: HashMap<String, usize>,
    next_order: u64,
}

/// A login attempt's outcome.
pub(crate) enum LoginOutcome {
    /// Tokens issued: (jwt, refresh, feed).
    Issued(String, String, String),
    /// Refused with a SmartAPI code and message.
    Refused(&'static str, &'static str),
}

/// Everything the simulator knows.
pub(crate) struct SimState {
    accounts: Vec<SimAccount>,
    books: Mutex<Books>,
    shutdown: tokio::sync::watch::Sender<bool>,
}

fn random_token(prefix: &str, length: usize) -> String {
    let tail: String = rand::rng()
        .sample_iter(Alphanumeric)
        .take(length)
        .map(char::from)
        .collect();
    format!("{prefix}{tail}")
}

impl SimState {
    pub fn new(accounts: Vec<SimAccount>) -> Self {
        Self {
            accounts,
            books: Mutex::new(Books::default()),
            shutdown: tokio::sync::watch::channel(false).0,
        }
    }

    fn books(&self) -> MutexGuard<'_, Books> {
        self.books.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn account_by_key(&self, api_key: &str) -> Option<&SimAccount> {
        self.accounts
            .iter()
            .find(|account| account.api_key.expose_secret() == api_key)
    }

    pub fn inject(&self, endpoint: Endpoint, fault: Fault) {
        self.books().faults.push_back((endpoint, fault));
    }

    pub fn take_fault(&self, endpoint: Endpoint) -> Option<Fault> {
        let mut books = self.books();
        let position = books
            .faults
            .iter()
            .position(|(target, _)| *target == endpoint)?;
        books.faults.remove(position).map(|(_, fault)| fault)
    }

    pub fn accepted_orders(&self) -> Vec<AcceptedOrder> {
        self.books().accepted.clone()
    }

    pub fn logins(&self, client_code: &str) -> usize {
        self.books().logins.get(client_code).copied().unwrap_or(0)
    }

    pub fn expire_sessions(&self) {
        let now = Instant::now();
        for session in self.books().sessions.values_mut() {
            session.expires_at = now;
        }
    }

    pub fn shut_down(&self) {
        self.shutdown.send_replace(true);
    }

    /// Waits until the simulator stops.
    pub async fn stopped(&self) {
        let mut receiver = self.shutdown.subscribe();
        // An error means the sender is gone: stopped as well.
        let _ = receiver.wait_for(|stopped| *stopped).await;
    }

    pub fn login(
        &self,
        account: &SimAccount,
        client_code: &str,
        password: &str,
        totp: &str,
    ) -> LoginOutcome {
        if client_code != account.client_code {
            return LoginOutcome::Refused("AB1007", "Invalid clientcode or password");
        }
        if !password.bytes().all(|byte| byte.is_ascii_digit()) {
            return LoginOutcome::Refused(
                "AB7001",
                "LoginbyPassword is not allowed. Please switch to Login by MPIN now.",
            );
        }
        if password != account.mpin.expose_secret() {
            return LoginOutcome::Refused("AB1007", "Invalid clientcode or password");
        }
        let totp_ok = TotpGenerator::from_base32(&account.totp_secret)
            .ok()
            .zip(crate::totp::now_unix_seconds().ok())
            .is_some_and(|(generator, now)| generator.check(totp.trim(), now));
        if !totp_ok {
            return LoginOutcome::Refused("AB1050", "Invalid totp");
        }
        let issued = self.issue(client_code);
        *self
            .books()
            .logins
            .entry(client_code.to_owned())
            .or_default() += 1;
        issued
    }

    fn issue(&self, client_code: &str) -> LoginOutcome {
        let jwt = random_token("eyJsim.", 48);
        let refresh = random_token("refsim.", 40);
        let feed = random_token("feedsim.", 24);
        let mut books = self.books();
        books.sessions.insert(
            jwt.clone(),
            Session {
                client_code: client_code.to_owned(),
                expires_at: Instant::now() + SESSION_LIFETIME,
            },
        );
        books
            .refresh_tokens
            .insert(refresh.clone(), client_code.to_owned());
        LoginOutcome::Issued(jwt, refresh, feed)
    }

    /// New tokens for a refresh token issued to this client.
    pub fn refresh(&self, client_code: &str, refresh_token: &str) -> Option<LoginOutcome> {
        let owner = self.books().refresh_tokens.remove(refresh_token)?;
        (owner == client_code).then(|| self.issue(client_code))
    }

    /// The client code a live session token belongs to.
    pub fn session_owner(&self, jwt: &str) -> Option<String> {
        let books = self.books();
        let session = books.sessions.get(jwt)?;
        (session.expires_at > Instant::now()).then(|| session.client_code.clone())
    }

    pub fn logout(&self, jwt: &str) {
        self.books().sessions.remove(jwt);
    }

    /// Accepts a placed order; `reject_with` makes it end rejected.
    pub fn place(
        &self,
        client_code: &str,
        peer_ip: IpAddr,
        body: PlaceOrderBody,
        reject_with: Option<String>,
    ) -> WireOrder {
        let mut books = self.books();
        books.next_order += 1;
        let today = chrono::Utc::now().with_timezone(&broker_core::session::ist());
        let order_id = format!("{}{:09}", today.format("%y%m%d"), books.next_order);
        let unique_order_id = random_token("", 32).to_lowercase();
        let (status, text) = match reject_with {
            Some(reason) => ("rejected", reason),
            None if matches!(
                body.ordertype,
                WireOrderType::StoplossLimit | WireOrderType::StoplossMarket
            ) =>
            {
                ("trigger pending", String::new())
            }
            None => ("open", String::new()),
        };
        let wire = WireOrder {
            orderid: order_id.clone(),
            uniqueorderid: Some(unique_order_id),
            exchangeorderid: None,
            variety: body.variety.as_str().to_owned(),
            ordertype: body.ordertype.as_str().to_owned(),
            producttype: body.producttype.as_str().to_owned(),
            duration: body.duration.as_str().to_owned(),
            price: body.price,
            triggerprice: body.triggerprice.unwrap_or_default(),
            quantity: body.quantity,
            disclosedquantity: body.disclosedquantity.unwrap_or(0),
            tradingsymbol: body.tradingsymbol.clone(),
            transactiontype: body.transactiontype.as_str().to_owned(),
            exchange: body.exchange.as_str().to_owned(),
            symboltoken: body.symboltoken.clone(),
            ordertag: body.ordertag.clone(),
            averageprice: Decimal::ZERO,
            filledshares: 0,
            unfilledshares: body.quantity,
            status: status.to_owned(),
            orderstatus: status.to_owned(),
            text,
            updatetime: Some(today.format("%d-%b-%Y %H:%M:%S").to_string()),
        };
        books.orders.push(SimOrder {
            client_code: client_code.to_owned(),
            wire: wire.clone(),
        });
        books.accepted.push(AcceptedOrder {
            order_id,
            client_code: client_code.to_owned(),
            peer_ip,
            body,
        });
        wire
    }

    /// Applies `change` to a working order of this client.
    pub fn modify(
        &self,
        client_code: &str,
        change: &ModifyOrderBody,
    ) -> Result<WireOrder, OrderRefusal> {
        self.with_working_order(client_code, &change.orderid, |order| {
            order.ordertype = change.ordertype.as_str().to_owned();
            order.price = change.price;
            order.quantity = change.quantity;
            order.unfilledshares = change.quantity.saturating_sub(order.filledshares);
            order.triggerprice = change.triggerprice.unwrap_or_default();
        })
    }

    /// Cancels a working order of this client.
    pub fn cancel(&self, client_code: &str, order_id: &str) -> Result<WireOrder, OrderRefusal> {
        self.with_working_order(client_code, order_id, |order| {
            order.status = "cancelled".to_owned();
            order.orderstatus = "cancelled".to_owned();
        })
    }

    fn with_working_order(
        &self,
        client_code: &str,
        order_id: &str,
        change: impl FnOnce(&mut WireOrder),
    ) -> Result<WireOrder, OrderRefusal> {
        let mut books = self.books();
        let order = books
            .orders
            .iter_mut()
            .find(|order| order.client_code == client_code && order.wire.orderid == order_id)
            .ok_or(OrderRefusal::NotFound)?;
        if !matches!(order.wire.status.as_str(), "open" | "trigger pending") {
            return Err(OrderRefusal::NotWorking);
        }
        change(&mut order.wire);
        Ok(order.wire.clone())
    }

    pub fn fill(&self, order_id: &str, price: Decimal) -> bool {
        let mut books = self.books();
        let fill_number = books.trades.len() + 1;
        let Some(order) = books
            .orders
            .iter_mut()
            .find(|order| order.wire.orderid == order_id)
            .filter(|order| matches!(order.wire.status.as_str(), "open" | "trigger pending"))
        else {
            return false;
        };
        let wire = &mut order.wire;
        wire.status = "complete".to_owned();
        wire.orderstatus = "complete".to_owned();
        wire.averageprice = price;
        wire.filledshares = wire.quantity;
        wire.unfilledshares = 0;
        let trade = WireTrade {
            exchange: wire.exchange.clone(),
            producttype: wire.producttype.clone(),
            tradingsymbol: wire.tradingsymbol.clone(),
            transactiontype: wire.transactiontype.clone(),
            fillprice: price,
            fillsize: wire.quantity,
            orderid: wire.orderid.clone(),
            fillid: format!("{fill_number}"),
            filltime: Some(
                chrono::Utc::now()
                    .with_timezone(&broker_core::session::ist())
                    .format("%H:%M:%S")
                    .to_string(),
            ),
        };
        let client_code = order.client_code.clone();
        books.trades.push((client_code, trade));
        true
    }

    pub fn orders_of(&self, client_code: &str) -> Vec<WireOrder> {
        self.books()
            .orders
            .iter()
            .filter(|order| order.client_code == client_code)
            .map(|order| order.wire.clone())
            .collect()
    }

    pub fn order_by_unique_id(
        &self,
        client_code: &str,
        unique_order_id: &str,
    ) -> Option<WireOrder> {
        self.books()
            .orders
            .iter()
            .find(|order| {
                order.client_code == client_code
                    && order.wire.uniqueorderid.as_deref() == Some(unique_order_id)
            })
            .map(|order| order.wire.clone())
    }

    pub fn trades_of(&self, client_code: &str) -> Vec<WireTrade> {
        self.books()
            .trades
            .iter()
            .filter(|(owner, _)| owner == client_code)
            .map(|(_, trade)| trade.clone())
            .collect()
    }

    /// Net positions built from the client's fills, per symbol and product.
    pub fn positions_of(&self, client_code: &str) -> Vec<WirePosition> {
        let mut positions: Vec<WirePosition> = Vec::new();
        for trade in self.trades_of(client_code) {
            let index = positions.iter().position(|position| {
                position.tradingsymbol == trade.tradingsymbol
                    && position.exchange == trade.exchange
                    && position.producttype == trade.producttype
            });
            let position = match index {
                Some(index) => &mut positions[index],
                None => {
                    positions.push(WirePosition {
                        exchange: trade.exchange.clone(),
                        symboltoken: String::new(),
                        producttype: trade.producttype.clone(),
                        tradingsymbol: trade.tradingsymbol.clone(),
                        buyqty: 0,
                        sellqty: 0,
                        buyamount: Decimal::ZERO,
                        sellamount: Decimal::ZERO,
                        netqty: 0,
                        avgnetprice: Decimal::ZERO,
                        ltp: None,
                        pnl: None,
                    });
                    let last = positions.len() - 1;
                    &mut positions[last]
                }
            };
            let quantity = i64::from(trade.fillsize);
            let value = trade.fillprice * Decimal::from(trade.fillsize);
            if trade.transactiontype == WireSide::Buy.as_str() {
                position.buyqty += quantity;
                position.buyamount += value;
            } else {
                position.sellqty += quantity;
                position.sellamount += value;
            }
            position.netqty = position.buyqty - position.sellqty;
            position.avgnetprice = if position.netqty == 0 {
                Decimal::ZERO
            } else {
                ((position.buyamount - position.sellamount) / Decimal::from(position.netqty))
                    .round_dp(2)
            };
        }
        positions
    }
}

/// Why a modify or cancel was refused.
pub(crate) enum OrderRefusal {
    /// No such order for this client.
    NotFound,
    /// The order is complete, cancelled or rejected.
    NotWorking,
}
