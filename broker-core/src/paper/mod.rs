//! An in-memory broker for dry runs and tests.
//!
//! [`PaperBroker`] fills orders against a price table that the caller sets: market orders and
//! marketable limit orders fill at once at the last price, other limit orders rest until a
//! price update makes them marketable, and stop orders wait for their trigger. Buy orders
//! block cash when placed and are rejected when it does not suffice. It keeps the order book
//! with each order's history, the trades, net positions and funds, and can apply a broker's
//! [`PreTradePolicy`] so that a dry run refuses what the real broker would.

mod state;

use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use chrono::{Duration, Utc};
use rust_decimal::Decimal;

use self::state::{PaperOrder, PaperState, key_of};
use crate::ist;
use crate::policy::{OrderRateGuard, PreTradePolicy};
use crate::session::{BrokerSession, SessionTokens};
use crate::{
    Broker, BrokerError, BrokerKind, Exchange, Funds, Holding, InstrumentRef, LastPrice, Order,
    OrderHistory, OrderId, OrderModification, OrderRequest, OrderStatus, Placement, Position,
    Profile, Quote, Result, Trade, Variety,
};

/// The client id the paper broker reports and rate-limits under.
const PAPER_CLIENT_ID: &str = "PAPER";

/// An in-memory [`Broker`]; see the module docs.
///
/// ```
/// use broker_core::paper::PaperBroker;
/// use broker_core::{Broker, Exchange, InstrumentRef, OrderRequest, OrderStatus, OrderType, Product, Side};
/// use rust_decimal::Decimal;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let broker = PaperBroker::new(Decimal::new(100_000, 0));
/// let sbin = InstrumentRef::new(Exchange::Nse, "SBIN-EQ");
/// broker.set_price(&sbin, Decimal::new(800, 0));
/// let request = OrderRequest::builder()
///     .instrument(sbin)
///     .side(Side::Buy)
///     .order_type(OrderType::Limit)
///     .product(Product::Delivery)
///     .quantity(10)
///     .price(Decimal::new(801, 0))
///     .build()?;
/// let placed = broker.place_order(&request).await?;
/// assert_eq!(broker.order(&placed.order_id).await?.current.status, OrderStatus::Complete);
/// # Ok::<(), broker_core::BrokerError>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct PaperBroker {
    state: Mutex<PaperState>,
    guard: Option<OrderRateGuard>,
}

impl PaperBroker {
    /// A paper account holding this much cash.
    pub fn new(cash: Decimal) -> Self {
        Self {
            state: Mutex::new(PaperState {
                cash,
                ..PaperState::default()
            }),
            guard: None,
        }
    }

    /// Applies a broker's pre-trade policy (order types, validities, market protection, tag
    /// length and orders per second) to every order, as that broker would.
    #[must_use]
    pub fn with_policy(mut self, policy: PreTradePolicy) -> Self {
        self.guard = Some(OrderRateGuard::new(policy));
        self
    }

    /// Sets an instrument's last price and fills or triggers the orders it makes marketable.
    pub fn set_price(&self, instrument: &InstrumentRef, price: Decimal) {
        let mut state = self.lock();
        state.prices.insert(key_of(instrument), price);
        let working: Vec<OrderId> = state
            .order_ids
            .iter()
            .filter(|id| {
                state.orders.get(*id).is_some_and(|order| {
                    order.current().status.is_working()
                        && key_of(&order.current().instrument) == key_of(instrument)
                })
            })
            .cloned()
            .collect();
        for order_id in working {
            state.match_order(&order_id);
        }
    }

    /// Adds a holding to the demat account.
    pub fn add_holding(&self, holding: Holding) {
        self.lock().holdings.push(holding);
    }

    fn lock(&self) -> MutexGuard<'_, PaperState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The state, once the session is known to be live.
    fn session(&self) -> Result<MutexGuard<'_, PaperState>> {
        let state = self.lock();
        if state.logged_out {
            return Err(BrokerError::SessionExpired {
                message: "the paper session was logged out".into(),
            });
        }
        Ok(state)
    }
}

#[async_trait]
impl Broker for PaperBroker {
    fn kind(&self) -> BrokerKind {
        BrokerKind::Paper
    }

    async fn profile(&self) -> Result<Profile> {
        drop(self.session()?);
        Ok(Profile {
            broker: BrokerKind::Paper,
            user_id: PAPER_CLIENT_ID.into(),
            name: "Paper trader".into(),
            email: None,
            exchanges: Exchange::ALL.to_vec(),
        })
    }

    async fn funds(&self) -> Result<Funds> {
        let state = self.session()?;
        let available_cash = state.available_cash();
        Ok(Funds {
            net: available_cash,
            available_cash,
            utilised: state.blocked_cash(),
        })
    }

    async fn place_order(&self, request: &OrderRequest) -> Result<Placement> {
        if let Some(guard) = &self.guard {
            guard.admit(PAPER_CLIENT_ID, request)?;
        }
        let mut state = self.session()?;
        state.next_order_number += 1;
        let order_id = OrderId::new(format!("PAPER{:010}", state.next_order_number));
        let order = Order {
            order_id: order_id.clone(),
            exchange_order_id: None,
            instrument: request.instrument().clone(),
            side: request.side(),
            order_type: request.order_type(),
            product: request.product(),
            validity: request.validity(),
            variety: request.variety(),
            quantity: request.quantity(),
            filled_quantity: 0,
            price: request.price(),
            trigger_price: request.trigger_price(),
            average_price: None,
            status: OrderStatus::Pending,
            tag: request.tag().map(|tag| tag.as_str().to_owned()),
            updated_at: Some(Utc::now().with_timezone(&ist::offset())),
        };
        state.order_ids.push(order_id.clone());
        state.orders.insert(
            order_id.clone(),
            PaperOrder {
                current: order,
                earlier: Vec::new(),
                blocked: Decimal::ZERO,
                triggered: false,
            },
        );
        if state.block_cash(&order_id) {
            state.match_order(&order_id);
            state.expire_if_ioc(&order_id);
        }
        Ok(Placement::new(order_id))
    }

    async fn modify_order(
        &self,
        order_id: &OrderId,
        change: &OrderModification,
    ) -> Result<OrderId> {
        let mut state = self.session()?;
        let order = state.order_mut(order_id)?;
        if !order.current().status.is_working() {
            return Err(BrokerError::OrderRejected {
                code: None,
                message: format!("order {order_id} is no longer open and cannot be modified"),
            });
        }
        let retriggers = order.current().trigger_price != change.trigger_price();
        order.record(|state| {
            state.order_type = change.order_type();
            state.quantity = change.quantity();
            state.price = change.price();
            state.trigger_price = change.trigger_price();
            state.validity = change.validity();
        });
        if retriggers {
            order.triggered = false;
        }
        if state.block_cash(order_id) {
            state.match_order(order_id);
            state.expire_if_ioc(order_id);
        }
        Ok(order_id.clone())
    }

    async fn cancel_order(&self, order_id: &OrderId, _variety: Variety) -> Result<OrderId> {
        let mut state = self.session()?;
        let order = state.order_mut(order_id)?;
        if !order.current().status.is_working() {
            return Err(BrokerError::OrderRejected {
                code: None,
                message: format!("order {order_id} is no longer open and cannot be cancelled"),
            });
        }
        order.blocked = Decimal::ZERO;
        order.record(|state| state.status = OrderStatus::Cancelled);
        Ok(order_id.clone())
    }

    async fn orders(&self) -> Result<Vec<Order>> {
        let state = self.session()?;
        Ok(state
            .order_ids
            .iter()
            .filter_map(|id| state.orders.get(id))
            .map(|order| order.current().clone())
            .collect())
    }

    async fn order(&self, order_id: &OrderId) -> Result<OrderHistory> {
        let state = self.session()?;
        let order = state
            .orders
            .get(order_id)
            .ok_or_else(|| BrokerError::OrderNotFound {
                order_id: order_id.clone(),
            })?;
        Ok(OrderHistory {
            current: order.current.clone(),
            earlier: order.earlier.clone(),
        })
    }

    async fn trades(&self) -> Result<Vec<Trade>> {
        Ok(self.session()?.trades.clone())
    }

    async fn positions(&self) -> Result<Vec<Position>> {
        let state = self.session()?;
        Ok(state
            .positions
            .iter()
            .map(|book| state.position_of(book))
            .collect())
    }

    async fn holdings(&self) -> Result<Vec<Holding>> {
        Ok(self.session()?.holdings.clone())
    }

    async fn quotes(&self, instruments: &[InstrumentRef]) -> Result<Vec<Quote>> {
        let state = self.session()?;
        Ok(instruments
            .iter()
            .filter_map(|instrument| {
                let last_price = state.last_price(instrument)?;
                Some(Quote {
                    instrument: instrument.clone(),
                    last_price,
                    ohlc: None,
                    volume: None,
                    last_trade_at: None,
                })
            })
            .collect())
    }

    async fn last_prices(&self, instruments: &[InstrumentRef]) -> Result<Vec<LastPrice>> {
        let state = self.session()?;
        Ok(instruments
            .iter()
            .filter_map(|instrument| {
                Some(LastPrice {
                    instrument: instrument.clone(),
                    last_price: state.last_price(instrument)?,
                })
            })
            .collect())
    }

    async fn logout(&self) -> Result<()> {
        self.session()?.logged_out = true;
        Ok(())
    }
}

/// The paper broker's sessions are make-believe: logging in always works and lasts a day.
#[async_trait]
impl BrokerSession for PaperBroker {
    async fn login(&self) -> Result<SessionTokens> {
        self.lock().logged_out = false;
        Ok(paper_session())
    }

    async fn resume(&self, tokens: SessionTokens) -> Result<()> {
        if !tokens.is_valid_at(Utc::now()) {
            return Err(BrokerError::SessionExpired {
                message: "the paper session to resume has expired".into(),
            });
        }
        self.lock().logged_out = false;
        Ok(())
    }

    async fn session_tokens(&self) -> Option<SessionTokens> {
        (!self.lock().logged_out).then(paper_session)
    }
}

fn paper_session() -> SessionTokens {
    SessionTokens::new("paper-session".into(), Utc::now() + Duration::days(1))
        .unwrap_or_else(|_| unreachable!("the paper token is not empty"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        MarketProtection, OrderType, PolicyRule, Product, Side, ValidationError, Validity,
    };
    use rust_decimal_macros::dec;

    fn sbin() -> InstrumentRef {
        InstrumentRef::new(Exchange::Nse, "SBIN-EQ")
    }

    fn broker_with_sbin_at(price: Decimal) -> PaperBroker {
        let broker = PaperBroker::new(dec!(100000));
        broker.set_price(&sbin(), price);
        broker
    }

    fn request(side: Side, order_type: OrderType, quantity: u32) -> crate::OrderRequestBuilder {
        OrderRequest::builder()
            .instrument(sbin())
            .side(side)
            .order_type(order_type)
            .product(Product::Intraday)
            .quantity(quantity)
    }

    async fn status(broker: &PaperBroker, order_id: &OrderId) -> OrderStatus {
        broker.order(order_id).await.unwrap().current.status
    }

    #[tokio::test]
    async fn market_order_fills_at_the_last_price_and_moves_cash_position_and_trades() {
        let broker = broker_with_sbin_at(dec!(800));
        let id = broker
            .place_order(&request(Side::Buy, OrderType::Market, 10).build().unwrap())
            .await
            .unwrap()
            .order_id;

        let history = broker.order(&id).await.unwrap();
        assert_eq!(history.current.status, OrderStatus::Complete);
        assert_eq!(history.current.average_price, Some(dec!(800)));
        assert_eq!(
            history.earlier.first().unwrap().status,
            OrderStatus::Pending
        );

        let trades = broker.trades().await.unwrap();
        assert_eq!(
            (trades.len(), trades[0].quantity, trades[0].price),
            (1, 10, dec!(800))
        );
        let funds = broker.funds().await.unwrap();
        assert_eq!(funds.available_cash, dec!(92000));
        assert_eq!(funds.utilised, dec!(0));

        broker.set_price(&sbin(), dec!(810));
        let position = &broker.positions().await.unwrap()[0];
        assert_eq!((position.quantity, position.average_price), (10, dec!(800)));
        assert_eq!(position.pnl, Some(dec!(100)));
    }

    #[tokio::test]
    async fn market_order_without_a_price_is_rejected() {
        let broker = PaperBroker::new(dec!(1000));
        let id = broker
            .place_order(&request(Side::Buy, OrderType::Market, 1).build().unwrap())
            .await
            .unwrap()
            .order_id;
        assert!(
            matches!(status(&broker, &id).await, OrderStatus::Rejected { reason } if reason.contains("no last price"))
        );
    }

    #[tokio::test]
    async fn marketable_limit_fills_at_once_and_others_rest_until_the_price_comes() {
        let broker = broker_with_sbin_at(dec!(800));
        let marketable = request(Side::Buy, OrderType::Limit, 1)
            .price(dec!(805))
            .build()
            .unwrap();
        let id = broker.place_order(&marketable).await.unwrap().order_id;
        assert_eq!(status(&broker, &id).await, OrderStatus::Complete);
        assert_eq!(
            broker.trades().await.unwrap()[0].price,
            dec!(800),
            "fills at the better last price"
        );

        let resting = request(Side::Sell, OrderType::Limit, 1)
            .price(dec!(820))
            .build()
            .unwrap();
        let id = broker.place_order(&resting).await.unwrap().order_id;
        assert_eq!(status(&broker, &id).await, OrderStatus::Open);
        broker.set_price(&sbin(), dec!(819));
        assert_eq!(status(&broker, &id).await, OrderStatus::Open);
        broker.set_price(&sbin(), dec!(821));
        assert_eq!(status(&broker, &id).await, OrderStatus::Complete);
    }

    #[tokio::test]
    async fn stop_orders_wait_for_their_trigger() {
        let broker = broker_with_sbin_at(dec!(800));
        let stop_loss = request(Side::Sell, OrderType::StopMarket, 1)
            .trigger_price(dec!(790))
            .build()
            .unwrap();
        let id = broker.place_order(&stop_loss).await.unwrap().order_id;
        assert_eq!(status(&broker, &id).await, OrderStatus::TriggerPending);
        broker.set_price(&sbin(), dec!(789));
        assert_eq!(status(&broker, &id).await, OrderStatus::Complete);

        let stop_limit = request(Side::Buy, OrderType::StopLimit, 1)
            .trigger_price(dec!(795))
            .price(dec!(796))
            .build()
            .unwrap();
        let id = broker.place_order(&stop_limit).await.unwrap().order_id;
        assert_eq!(status(&broker, &id).await, OrderStatus::TriggerPending);
        broker.set_price(&sbin(), dec!(800));
        assert_eq!(
            status(&broker, &id).await,
            OrderStatus::Open,
            "triggered above the limit"
        );
        broker.set_price(&sbin(), dec!(796));
        assert_eq!(status(&broker, &id).await, OrderStatus::Complete);
    }

    #[tokio::test]
    async fn buy_orders_block_cash_and_are_rejected_beyond_it() {
        let broker = PaperBroker::new(dec!(1000));
        broker.set_price(&sbin(), dec!(100));
        let resting = request(Side::Buy, OrderType::Limit, 8)
            .price(dec!(90))
            .build()
            .unwrap();
        let id = broker.place_order(&resting).await.unwrap().order_id;
        assert_eq!(broker.funds().await.unwrap().utilised, dec!(720));

        let too_big = request(Side::Buy, OrderType::Limit, 5)
            .price(dec!(90))
            .build()
            .unwrap();
        let rejected = broker.place_order(&too_big).await.unwrap().order_id;
        assert!(
            matches!(status(&broker, &rejected).await, OrderStatus::Rejected { reason } if reason.contains("insufficient funds"))
        );

        broker.cancel_order(&id, Variety::Regular).await.unwrap();
        assert_eq!(broker.funds().await.unwrap().available_cash, dec!(1000));
    }

    #[tokio::test]
    async fn ioc_order_that_cannot_fill_is_cancelled() {
        let broker = broker_with_sbin_at(dec!(800));
        let ioc = request(Side::Buy, OrderType::Limit, 1)
            .price(dec!(700))
            .validity(Validity::Ioc)
            .build()
            .unwrap();
        let id = broker.place_order(&ioc).await.unwrap().order_id;
        assert_eq!(status(&broker, &id).await, OrderStatus::Cancelled);
        assert_eq!(broker.funds().await.unwrap().utilised, dec!(0));
    }

    #[tokio::test]
    async fn modify_reprices_an_open_order_and_can_make_it_fill() {
        let broker = broker_with_sbin_at(dec!(800));
        let id = broker
            .place_order(
                &request(Side::Buy, OrderType::Limit, 2)
                    .price(dec!(790))
                    .build()
                    .unwrap(),
            )
            .await
            .unwrap()
            .order_id;
        let change = OrderModification::builder(OrderType::Limit, 2)
            .price(dec!(801))
            .build()
            .unwrap();
        broker.modify_order(&id, &change).await.unwrap();
        let history = broker.order(&id).await.unwrap();
        assert_eq!(history.current.status, OrderStatus::Complete);
        assert!(
            history
                .earlier
                .iter()
                .any(|state| state.price == Some(dec!(790)))
        );
        let again = broker.modify_order(&id, &change).await.unwrap_err();
        assert!(
            matches!(again, BrokerError::OrderRejected { .. }),
            "{again}"
        );
    }

    #[tokio::test]
    async fn cancelling_unknown_or_finished_orders_fails_clearly() {
        let broker = broker_with_sbin_at(dec!(800));
        let missing = broker
            .cancel_order(&OrderId::from("nope"), Variety::Regular)
            .await
            .unwrap_err();
        assert_eq!(
            missing,
            BrokerError::OrderNotFound {
                order_id: OrderId::from("nope")
            }
        );
        let id = broker
            .place_order(&request(Side::Buy, OrderType::Market, 1).build().unwrap())
            .await
            .unwrap()
            .order_id;
        assert!(matches!(
            broker.cancel_order(&id, Variety::Regular).await,
            Err(BrokerError::OrderRejected { .. })
        ));
    }

    #[tokio::test]
    async fn round_trip_leaves_a_flat_position_with_realised_pnl() {
        let broker = broker_with_sbin_at(dec!(800));
        broker
            .place_order(&request(Side::Buy, OrderType::Market, 5).build().unwrap())
            .await
            .unwrap();
        broker.set_price(&sbin(), dec!(812.5));
        broker
            .place_order(&request(Side::Sell, OrderType::Market, 5).build().unwrap())
            .await
            .unwrap();
        let position = &broker.positions().await.unwrap()[0];
        assert_eq!((position.quantity, position.pnl), (0, Some(dec!(62.5))));
        assert_eq!(broker.funds().await.unwrap().available_cash, dec!(100062.5));
        let orders = broker.orders().await.unwrap();
        assert_eq!(orders.len(), 2);
        assert!(
            orders[0].order_id < orders[1].order_id,
            "order book keeps placement order"
        );
    }

    #[tokio::test]
    async fn tags_quotes_and_holdings_are_reported() {
        let broker = broker_with_sbin_at(dec!(800));
        let id = broker
            .place_order(
                &request(Side::Buy, OrderType::Market, 1)
                    .tag("run42")
                    .build()
                    .unwrap(),
            )
            .await
            .unwrap()
            .order_id;
        assert_eq!(
            broker.order(&id).await.unwrap().current.tag.as_deref(),
            Some("run42")
        );
        let infy = InstrumentRef::new(Exchange::Nse, "INFY");
        let quotes = broker.quotes(&[sbin(), infy.clone()]).await.unwrap();
        assert_eq!((quotes.len(), quotes[0].last_price), (1, dec!(800)));
        assert_eq!(
            broker.last_prices(&[sbin()]).await.unwrap()[0].last_price,
            dec!(800)
        );
        broker.add_holding(Holding {
            instrument: infy,
            isin: Some("INE009A01021".into()),
            quantity: 3,
            average_price: dec!(1500),
            last_price: None,
            pnl: None,
        });
        assert_eq!(broker.holdings().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_broker_policy_refuses_what_that_broker_would() {
        let broker = broker_with_sbin_at(dec!(800))
            .with_policy(PreTradePolicy::for_broker(BrokerKind::Zerodha));
        let bare_market = request(Side::Buy, OrderType::Market, 1).build().unwrap();
        let error = broker.place_order(&bare_market).await.unwrap_err();
        assert!(matches!(
            error,
            BrokerError::Validation(ValidationError::Policy {
                rule: PolicyRule::MarketProtectionRequired,
                ..
            })
        ));
        assert!(
            broker.orders().await.unwrap().is_empty(),
            "nothing was placed"
        );
        let protected = request(Side::Buy, OrderType::Market, 1)
            .market_protection(MarketProtection::Automatic)
            .build()
            .unwrap();
        assert!(broker.place_order(&protected).await.is_ok());
    }

    #[tokio::test]
    async fn after_logout_every_call_reports_an_expired_session() {
        let broker = broker_with_sbin_at(dec!(800));
        broker.logout().await.unwrap();
        assert!(broker.profile().await.unwrap_err().needs_login());
        assert!(
            broker
                .place_order(&request(Side::Buy, OrderType::Market, 1).build().unwrap())
                .await
                .unwrap_err()
                .needs_login()
        );
    }

    #[tokio::test]
    async fn usable_as_a_shared_trait_object() {
        let broker: std::sync::Arc<dyn Broker> =
            std::sync::Arc::new(broker_with_sbin_at(dec!(800)));
        assert_eq!(broker.kind(), BrokerKind::Paper);
        assert_eq!(broker.profile().await.unwrap().user_id, PAPER_CLIENT_ID);
    }
}
