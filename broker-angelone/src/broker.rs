//! [`AngelOne`]: the [`Broker`] and [`BrokerSession`] of one Angel One account, over the raw
//! client.
//!
//! It logs in by itself (MPIN and TOTP) when it has no valid session, and logs in again once
//! and repeats a call answered "session expired" (see `session.rs`). Orders pass the
//! pre-trade policy and [`InstrumentIndex::check`] (known instrument, symbol token matching
//! the symbol, whole lots and ticks) before anything leaves; an order call whose outcome is
//! unknown is never repeated.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use broker_core::{
    AngelOneCredentials, Broker, BrokerError, BrokerKind, BrokerSession, ConnectError,
    ConnectOptions, Exchange, Funds, Holding, InstrumentIndex, InstrumentRef, LastPrice, Order,
    OrderHistory, OrderId, OrderModification, OrderRequest, OrderTag, Placement, Position,
    PreTradePolicy, Profile, Quote, SessionTokens, SharedClock, SharedInstruments, Trade,
    ValidationError, Variety,
};
use secrecy::SecretString;

use crate::http::models::{
    CancelOrderBody, ConvertPositionBody, LogoutBody, QuoteBody, QuoteMode, SearchScripBody,
    WireOrder, WireQuote,
};
use crate::http::{AngelOneHttpClient, SMARTAPI_URL, default_quota_rules, order_id_param};
use crate::login::Login;
use crate::mapping::{self, OrderIdentity};
use crate::session::{Session, expired_tokens};

/// A [`Broker`] for one Angel One account.
pub struct AngelOne {
    client: AngelOneHttpClient,
    session: Session,
    instruments: SharedInstruments,
    policy: PreTradePolicy,
    clock: SharedClock,
    placed: Mutex<HashMap<OrderId, OrderIdentity>>,
}

impl std::fmt::Debug for AngelOne {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AngelOne")
            .field("client", &self.client)
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl AngelOne {
    /// The account with these credentials, resuming `tokens` when given (stored from an
    /// earlier session), built from the shared pieces in `options`: the HTTP client of the
    /// account's egress address, the API URL (SmartAPI's production one unless set), the
    /// rate limiter (Angel One's published quotas plus the policy's pacing of placements
    /// unless one is shared), the instrument index, the policy, the clock and the session
    /// listener. Nothing is sent: the first call logs in when there is no session.
    ///
    /// # Errors
    /// [`ConnectError::BadUrl`] for an unusable API URL, [`ConnectError::Credentials`] for
    /// a key that cannot be sent or a TOTP secret that does not decode,
    /// [`ConnectError::Session`] for stored tokens that have expired.
    pub fn connect(
        credentials: AngelOneCredentials,
        tokens: Option<SessionTokens>,
        options: &ConnectOptions,
    ) -> Result<Self, ConnectError> {
        let api_url = options.api_url_or(SMARTAPI_URL)?;
        let limiter = options.rate_limiter_or(BrokerKind::AngelOne, default_quota_rules());
        let client = AngelOneHttpClient::new(
            options.http.clone(),
            api_url.as_str(),
            credentials.api_key(),
        )?
        .with_rate_limiter(limiter);
        if tokens
            .as_ref()
            .is_some_and(|tokens| !tokens.is_valid_at(options.clock.now()))
        {
            return Err(ConnectError::Session(expired_tokens()));
        }
        let login = Login::new(&credentials, options.clock.clone())?;
        Ok(Self {
            client,
            session: Session::new(login, tokens, options),
            instruments: options.instruments.clone(),
            policy: options.policy_for(BrokerKind::AngelOne),
            clock: options.clock.clone(),
            placed: Mutex::new(HashMap::new()),
        })
    }

    /// The raw client, for endpoints the [`Broker`] trait does not cover (it needs a session
    /// token: see [`BrokerSession::session_tokens`]).
    pub fn client(&self) -> &AngelOneHttpClient {
        &self.client
    }

    /// The instrument index orders are checked against (shared with every session built from
    /// the same `ConnectOptions`).
    pub fn instruments(&self) -> &SharedInstruments {
        &self.instruments
    }

    /// Renews the session with its refresh token (`generateTokens`) and reports the new
    /// tokens to the session listener.
    ///
    /// # Errors
    /// [`BrokerError::SessionExpired`] when there is no session or the refresh token is no
    /// longer accepted (log in instead), or any other.
    pub async fn refresh(&self) -> Result<SessionTokens, BrokerError> {
        self.session.refresh(&self.client).await
    }

    /// Converts a position to another product (`convertPosition`), logging in as needed.
    ///
    /// # Errors
    /// Any [`BrokerError`] the broker reports.
    pub async fn convert_position(&self, body: &ConvertPositionBody) -> Result<(), BrokerError> {
        self.secure(|token| async move { self.client.convert_position(&token, body).await })
            .await
    }

    /// Instruments of `exchange` whose trading symbol contains `text` (`searchScrip`).
    ///
    /// # Errors
    /// Any [`BrokerError`] the broker reports.
    pub async fn search_scrip(
        &self,
        exchange: Exchange,
        text: &str,
    ) -> Result<Vec<InstrumentRef>, BrokerError> {
        let body = SearchScripBody {
            exchange,
            searchscrip: text.to_owned(),
        };
        let matches = self
            .secure(|token| {
                let body = &body;
                async move { self.client.search_scrip(&token, body).await }
            })
            .await?;
        Ok(matches
            .into_iter()
            .map(|found| {
                InstrumentRef::new(exchange, found.tradingsymbol)
                    .with_broker_token(found.symboltoken)
            })
            .collect())
    }

    /// Runs a call with the session's token; on a session-expired answer logs in again once
    /// (shared with concurrent callers) and repeats it.
    async fn secure<T, F, Fut>(&self, call: F) -> Result<T, BrokerError>
    where
        F: Fn(SecretString) -> Fut,
        Fut: Future<Output = Result<T, BrokerError>>,
    {
        let (token, generation) = self.session.current(&self.client).await?;
        match call(token).await {
            Err(error) if error.needs_login() => {
                let token = self
                    .session
                    .renew_after_expiry(&self.client, generation)
                    .await?;
                call(token).await
            }
            other => other,
        }
    }

    fn remember(&self, order_id: &OrderId, identity: OrderIdentity) {
        self.placed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(order_id.clone(), identity);
    }

    fn remembered(&self, order_id: &OrderId) -> Option<OrderIdentity> {
        self.placed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(order_id)
            .cloned()
    }

    async fn order_book(&self) -> Result<Vec<WireOrder>, BrokerError> {
        self.secure(|token| async move { self.client.order_book(&token).await })
            .await
    }

    async fn find_in_order_book(&self, order_id: &OrderId) -> Result<WireOrder, BrokerError> {
        self.order_book()
            .await?
            .into_iter()
            .find(|order| order.orderid == order_id.as_str())
            .ok_or_else(|| BrokerError::OrderNotFound {
                order_id: order_id.clone(),
            })
    }

    /// The identity of an order placed through this session, or looked up in the book.
    async fn identity(&self, order_id: &OrderId) -> Result<OrderIdentity, BrokerError> {
        match self.remembered(order_id) {
            Some(identity) => Ok(identity),
            None => OrderIdentity::from_wire(&self.find_in_order_book(order_id).await?),
        }
    }

    /// The symbol token of a reference for market data: the master's, or its own.
    fn symbol_token(index: &InstrumentIndex, instrument: &InstrumentRef) -> Option<String> {
        index
            .resolve(instrument)
            .filter(|found| found.trading_symbol == instrument.trading_symbol)
            .map(|found| found.broker_token.clone())
            .or_else(|| instrument.broker_token.clone())
    }

    async fn quote_rows(
        &self,
        instruments: &[InstrumentRef],
        mode: QuoteMode,
    ) -> Result<Vec<WireQuote>, BrokerError> {
        let index = self.instruments.current();
        let mut exchange_tokens: BTreeMap<_, Vec<String>> = BTreeMap::new();
        for instrument in instruments {
            if let Some(token) = Self::symbol_token(&index, instrument) {
                exchange_tokens
                    .entry(instrument.exchange)
                    .or_default()
                    .push(token);
            }
        }
        if exchange_tokens.is_empty() {
            return Ok(Vec::new());
        }
        let body = QuoteBody {
            mode,
            exchange_tokens,
        };
        let data = self
            .secure(|token| {
                let body = &body;
                async move { self.client.quote(&token, body).await }
            })
            .await?;
        Ok(data.fetched)
    }
}

fn collect<W, T>(
    rows: &[W],
    map: impl Fn(&W) -> Result<T, BrokerError>,
) -> Result<Vec<T>, BrokerError> {
    rows.iter().map(map).collect()
}

#[async_trait]
impl Broker for AngelOne {
    fn kind(&self) -> BrokerKind {
        BrokerKind::AngelOne
    }

    async fn profile(&self) -> broker_core::Result<Profile> {
        let data = self
            .secure(|token| async move { self.client.profile(&token).await })
            .await?;
        Ok(mapping::profile(&data))
    }

    async fn funds(&self) -> broker_core::Result<Funds> {
        let data = self
            .secure(|token| async move { self.client.funds(&token).await })
            .await?;
        Ok(mapping::funds(&data))
    }

    async fn place_order(&self, request: &OrderRequest) -> broker_core::Result<Placement> {
        self.policy.check(request)?;
        let body = {
            let index = self.instruments.current();
            let instrument = index.check(BrokerKind::AngelOne, request)?;
            mapping::place_order_body(request, &instrument.broker_token)?
        };
        let ack = self
            .secure(|token| {
                let body = &body;
                async move { self.client.place_order(&token, body).await }
            })
            .await?;
        let order_id = OrderId::new(ack.orderid);
        self.remember(
            &order_id,
            OrderIdentity {
                exchange: body.exchange,
                trading_symbol: body.tradingsymbol,
                symbol_token: body.symboltoken,
                product: body.producttype,
                variety: body.variety,
                unique_order_id: ack.uniqueorderid.clone(),
            },
        );
        let placement = Placement::new(order_id);
        Ok(match ack.uniqueorderid {
            Some(unique) => placement.with_broker_reference(unique),
            None => placement,
        })
    }

    async fn modify_order(
        &self,
        order_id: &OrderId,
        change: &OrderModification,
    ) -> broker_core::Result<OrderId> {
        self.policy.check_modification(change)?;
        order_id_param(order_id.as_str())?;
        let identity = self.identity(order_id).await?;
        {
            let index = self.instruments.current();
            let instrument = index
                .by_broker_token(identity.exchange, &identity.symbol_token)
                .filter(|found| found.trading_symbol == identity.trading_symbol)
                .ok_or_else(|| ValidationError::UnknownInstrument {
                    broker: BrokerKind::AngelOne,
                    exchange: identity.exchange,
                    trading_symbol: identity.trading_symbol.clone(),
                })?;
            InstrumentIndex::check_modification(instrument, change)?;
        }
        let body = mapping::modify_order_body(order_id, change, &identity)?;
        let ack = self
            .secure(|token| {
                let body = &body;
                async move { self.client.modify_order(&token, body).await }
            })
            .await?;
        Ok(OrderId::new(ack.orderid))
    }

    /// SmartAPI wants the order's own variety (`NORMAL` or `STOPLOSS` for a regular order):
    /// an order this session did not place is looked up in the order book for it. One that is
    /// not there, or a book that cannot be read now, leaves the variety `variety` names (the
    /// broker then answers for the order).
    async fn cancel_order(
        &self,
        order_id: &OrderId,
        variety: Variety,
    ) -> broker_core::Result<OrderId> {
        order_id_param(order_id.as_str())?;
        let named = || mapping::wire_variety(variety, broker_core::OrderType::Limit);
        let wire_variety = match self.remembered(order_id) {
            Some(identity) => identity.variety,
            None => match self.find_in_order_book(order_id).await {
                Ok(row) => OrderIdentity::from_wire(&row)
                    .map(|identity| identity.variety)
                    .or_else(|_| named())?,
                Err(error) => {
                    if !matches!(error, BrokerError::OrderNotFound { .. }) {
                        tracing::debug!(kind = %error.kind(), "the order book could not be read for the order's variety");
                    }
                    named()?
                }
            },
        };
        let body = CancelOrderBody {
            variety: wire_variety,
            orderid: order_id.as_str().to_owned(),
        };
        let ack = self
            .secure(|token| {
                let body = &body;
                async move { self.client.cancel_order(&token, body).await }
            })
            .await?;
        Ok(OrderId::new(ack.orderid))
    }

    async fn orders(&self) -> broker_core::Result<Vec<Order>> {
        collect(&self.order_book().await?, mapping::order)
    }

    /// SmartAPI has no search by tag: this reads the order book, but maps only the rows that
    /// carry the tag (compared ignoring case), so one row this crate cannot read does not hide
    /// the order being reconciled.
    async fn orders_with_tag(&self, tag: &OrderTag) -> broker_core::Result<Vec<Order>> {
        let rows = self.order_book().await?;
        rows.iter()
            .filter(|row| {
                row.ordertag
                    .as_deref()
                    .is_some_and(|found| tag.matches(found))
            })
            .map(mapping::order)
            .collect()
    }

    async fn order(&self, order_id: &OrderId) -> broker_core::Result<OrderHistory> {
        let unique_order_id = self
            .remembered(order_id)
            .and_then(|identity| identity.unique_order_id);
        let wire = match unique_order_id {
            Some(unique) => self
                .secure(|token| {
                    let unique = &unique;
                    async move { self.client.order_details(&token, unique).await }
                })
                .await
                .map_err(|error| match error {
                    BrokerError::OrderNotFound { .. } => BrokerError::OrderNotFound {
                        order_id: order_id.clone(),
                    },
                    other => other,
                })?,
            None => self.find_in_order_book(order_id).await?,
        };
        Ok(OrderHistory {
            current: mapping::order(&wire)?,
            earlier: Vec::new(),
        })
    }

    async fn trades(&self) -> broker_core::Result<Vec<Trade>> {
        let rows = self
            .secure(|token| async move { self.client.trade_book(&token).await })
            .await?;
        let today = broker_core::ist::date_of(self.clock.now());
        collect(&rows, |row| mapping::trade(row, today))
    }

    async fn positions(&self) -> broker_core::Result<Vec<Position>> {
        let rows = self
            .secure(|token| async move { self.client.positions(&token).await })
            .await?;
        collect(&rows, mapping::position)
    }

    async fn holdings(&self) -> broker_core::Result<Vec<Holding>> {
        let rows = self
            .secure(|token| async move { self.client.holdings(&token).await })
            .await?;
        collect(&rows, mapping::holding)
    }

    async fn quotes(&self, instruments: &[InstrumentRef]) -> broker_core::Result<Vec<Quote>> {
        collect(
            &self.quote_rows(instruments, QuoteMode::Full).await?,
            mapping::quote,
        )
    }

    async fn last_prices(
        &self,
        instruments: &[InstrumentRef],
    ) -> broker_core::Result<Vec<LastPrice>> {
        collect(
            &self.quote_rows(instruments, QuoteMode::Ltp).await?,
            mapping::last_price,
        )
    }

    async fn logout(&self) -> broker_core::Result<()> {
        let body = LogoutBody {
            clientcode: self.session.client_code().to_owned(),
        };
        self.session
            .end(|token| {
                let body = &body;
                async move { self.client.logout(&token, body).await }
            })
            .await
    }
}

#[async_trait]
impl BrokerSession for AngelOne {
    async fn login(&self) -> broker_core::Result<SessionTokens> {
        self.session.log_in_now(&self.client).await
    }

    async fn resume(&self, tokens: SessionTokens) -> broker_core::Result<()> {
        self.session.resume(tokens).await
    }

    async fn session_tokens(&self) -> Option<SessionTokens> {
        self.session.tokens().await
    }
}
