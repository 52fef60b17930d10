//! Shared test pieces: a fault-injecting wrapper around the paper broker, intents, accounts;
//! the simulators in `sims`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod processes;
pub mod sims;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use broker_core::paper::PaperBroker;
use broker_core::{
    Broker, BrokerError, BrokerKind, ConnectivityKind, Exchange, Funds, Holding, InstrumentRef,
    LastPrice, Order, OrderHistory, OrderId, OrderModification, OrderRequest, OrderTag, Placement,
    Position, Profile, Quote, Result, Trade, Variety,
};
use broker_worker::{Notification, Notifier, OrderIntent, Slot};
use rust_decimal::Decimal;
use serde_json::json;
use vault::{AccountStatus, BrokerAccount, UserId};

/// What the wrapper does to the next placement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Nothing: pass through.
    None,
    /// Place the order, then lose the answer (timeout after the broker acted).
    LoseAnswerAfterPlacing,
    /// Lose the request before the broker acted, but report the outcome unknown.
    LoseRequestUnknown,
}

/// A paper broker whose placements and look-ups can be made to fail.
pub struct FaultyBroker {
    pub inner: PaperBroker,
    fault: Mutex<Fault>,
    pub fail_lookups: AtomicBool,
    pub placement_calls: AtomicUsize,
}

impl FaultyBroker {
    pub fn new() -> Arc<Self> {
        Self::with_cash(1_000_000)
    }

    pub fn with_cash(cash: i64) -> Arc<Self> {
        let inner = PaperBroker::new(Decimal::new(cash, 0));
        inner.set_price(&sbin(), Decimal::new(800, 0));
        Arc::new(Self {
            inner,
            fault: Mutex::new(Fault::None),
            fail_lookups: AtomicBool::new(false),
            placement_calls: AtomicUsize::new(0),
        })
    }

    pub fn set_fault(&self, fault: Fault) {
        *self.fault.lock().unwrap() = fault;
    }

    /// Orders at the broker carrying this tag.
    pub async fn orders_tagged(&self, tag: &OrderTag) -> usize {
        self.inner.orders_with_tag(tag).await.unwrap().len()
    }

    pub async fn order_count(&self) -> usize {
        self.inner.orders().await.unwrap().len()
    }
}

fn lost() -> BrokerError {
    BrokerError::OrderOutcomeUnknown {
        kind: ConnectivityKind::Timeout,
    }
}

#[async_trait]
impl Broker for FaultyBroker {
    fn kind(&self) -> BrokerKind {
        self.inner.kind()
    }
    async fn profile(&self) -> Result<Profile> {
        self.inner.profile().await
    }
    async fn funds(&self) -> Result<Funds> {
        self.inner.funds().await
    }
    async fn place_order(&self, request: &OrderRequest) -> Result<Placement> {
        self.placement_calls.fetch_add(1, Ordering::SeqCst);
        let fault = std::mem::replace(&mut *self.fault.lock().unwrap(), Fault::None);
        match fault {
            Fault::None => self.inner.place_order(request).await,
            Fault::LoseAnswerAfterPlacing => {
                self.inner.place_order(request).await?;
                Err(lost())
            }
            Fault::LoseRequestUnknown => Err(lost()),
        }
    }
    async fn modify_order(&self, id: &OrderId, change: &OrderModification) -> Result<OrderId> {
        self.inner.modify_order(id, change).await
    }
    async fn cancel_order(&self, id: &OrderId, variety: Variety) -> Result<OrderId> {
        self.inner.cancel_order(id, variety).await
    }
    async fn orders(&self) -> Result<Vec<Order>> {
        if self.fail_lookups.load(Ordering::SeqCst) {
            return Err(BrokerError::Connectivity {
                kind: ConnectivityKind::Timeout,
                message: "order book timed out".into(),
            });
        }
        self.inner.orders().await
    }
    async fn order(&self, id: &OrderId) -> Result<OrderHistory> {
        self.inner.order(id).await
    }
    async fn trades(&self) -> Result<Vec<Trade>> {
        self.inner.trades().await
    }
    async fn positions(&self) -> Result<Vec<Position>> {
        self.inner.positions().await
    }
    async fn holdings(&self) -> Result<Vec<Holding>> {
        self.inner.holdings().await
    }
    async fn quotes(&self, instruments: &[InstrumentRef]) -> Result<Vec<Quote>> {
        self.inner.quotes(instruments).await
    }
    async fn last_prices(&self, instruments: &[InstrumentRef]) -> Result<Vec<LastPrice>> {
        self.inner.last_prices(instruments).await
    }
    async fn logout(&self) -> Result<()> {
        self.inner.logout().await
    }
}

pub fn sbin() -> InstrumentRef {
    InstrumentRef::new(Exchange::Nse, "SBIN-EQ")
}

/// A due account of a new user.
pub fn account(broker: BrokerKind) -> BrokerAccount {
    let mut account = BrokerAccount::new(UserId::new_random(), broker);
    account.auto_execute = true;
    account.status = AccountStatus::Active;
    account
}

pub fn limit_buy(quantity: u32) -> serde_json::Value {
    json!({
        "instrument": {"exchange": "NSE", "trading_symbol": "SBIN-EQ"},
        "side": "buy", "order_type": "limit", "product": "delivery",
        "quantity": quantity, "price": "801"
    })
}

pub fn market_buy() -> serde_json::Value {
    json!({
        "instrument": {"exchange": "NSE", "trading_symbol": "SBIN-EQ"},
        "side": "buy", "order_type": "market", "product": "delivery", "quantity": 1
    })
}

pub fn intent(id: &str, account: &BrokerAccount, order: serde_json::Value) -> OrderIntent {
    OrderIntent {
        id: id.into(),
        user_id: account.user_id,
        account_id: account.id,
        slot: Slot::DEFAULT,
        order: order.into(),
        enabled: true,
    }
}

/// Keeps every notification.
#[derive(Default)]
pub struct Captured(pub Mutex<Vec<Notification>>);

impl Notifier for Captured {
    fn notify(&self, notification: &Notification) {
        self.0.lock().unwrap().push(notification.clone());
    }
}

impl Captured {
    pub fn all(&self) -> Vec<Notification> {
        self.0.lock().unwrap().clone()
    }
}
