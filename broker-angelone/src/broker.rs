//! [`AngelOne`]: the [`Broker`] implementation over the raw client.
//!
//! It logs in with MPIN and TOTP when it needs a session, keeps the session until 05:00 IST
//! the next day, and when a call answers with a session-expired code it logs in again once
//! and repeats that call. A session-expired answer means the broker executed nothing, so the
//! repeat is safe even for order calls; an order call whose outcome is unknown is never
//! repeated. Orders pass the pre-trade policy and the instrument master before leaving.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use async_trait::async_trait;
use broker_core::{
    AngelOneCredentials, Broker, BrokerError, BrokerKind, Exchange, Funds, Holding,
    InstrumentIndex, InstrumentRef, LastPrice, Order, OrderHistory, OrderId, OrderModification,
    OrderRequest, Position, PreTradePolicy, Profile, Quote, SessionTokens, Trade, ValidationError,
    Variety,
};
use chrono::{NaiveTime, Utc};
use rust_decimal::Decimal;
use secrecy::SecretString;

use crate::http::client::{AngelOneConfig, AngelOneHttpClient};
use crate::http::models::{
    CancelOrderBody, ConvertPositionBody, LoginBody, LogoutBody, QuoteBody, QuoteMode, RefreshBody,
    SearchScripBody, WireOrder, WireQuote,
};
use crate::mapping::{self, OrderIdentity};
use crate::totp::TotpGenerator;

/// SmartAPI sessions end at this IST time (the next day when logged in after it).
pub fn session_expiry_time() -> NaiveTime {
    NaiveTime::from_hms_opt(5, 0, 0).unwrap_or(NaiveTime::MIN)
}

/// A live session and a counter telling sessions apart.
struct LiveSession {
    tokens: SessionTokens,
    generation: u64,
}

/// A [`Broker`] for one Angel One account.
pub struct AngelOne {
    client: AngelOneHttpClient,
    credentials: AngelOneCredentials,
    totp: TotpGenerator,
    instruments: RwLock<Arc<InstrumentIndex>>,
    policy: PreTradePolicy,
    session: tokio::sync::Mutex<Option<LiveSession>>,
    generations: std::sync::atomic::AtomicU64,
    placed: Mutex<HashMap<OrderId, OrderIdentity>>,
}

impl std::fmt::Debug for AngelOne {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AngelOne")
            .field("client", &self.client)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

/// The account could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The HTTP client could not be built (egress address, header values).
    #[error(transparent)]
    Http(#[from] broker_core::HttpClientError),
    /// The TOTP secret cannot be used.
    #[error(transparent)]
    Totp(#[from] crate::totp::TotpError),
}

impl AngelOne {
    /// An account with these credentials, reached as `config` says, resolving symbols through
    /// `instruments`. Nothing is sent until the first call (or [`AngelOne::login`]).
    ///
    /// # Errors
    /// [`SetupError`] when the client cannot be built or the TOTP secret is unusable.
    pub fn new(
        credentials: AngelOneCredentials,
        config: &AngelOneConfig,
        instruments: Arc<InstrumentIndex>,
    ) -> Result<Self, SetupError> {
        Ok(Self {
            client: AngelOneHttpClient::new(config, credentials.api_key())?,
            totp: TotpGenerator::from_base32(credentials.totp_secret())?,
            credentials,
            instruments: RwLock::new(instruments),
            policy: PreTradePolicy::for_broker(BrokerKind::AngelOne),
            session: tokio::sync::Mutex::new(None),
            generations: std::sync::atomic::AtomicU64::new(0),
            placed: Mutex::new(HashMap::new()),
        })
    }

    /// Uses a stricter (or operator-configured) pre-trade policy.
    #[must_use]
    pub fn with_policy(mut self, policy: PreTradePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The raw client (it needs a session token: see [`AngelOne::session_tokens`]).
    pub fn client(&self) -> &AngelOneHttpClient {
        &self.client
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
                InstrumentRef::new(exchange, found.tradingsymbol).with_token(found.symboltoken)
            })
            .collect())
    }

    /// Replaces the instrument index (after the daily refresh of the master).
    pub fn set_instruments(&self, instruments: Arc<InstrumentIndex>) {
        *self
            .instruments
            .write()
            .unwrap_or_else(PoisonError::into_inner) = instruments;
    }

    fn instruments(&self) -> Arc<InstrumentIndex> {
        Arc::clone(
            &self
                .instruments
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Resumes a stored session instead of logging in.
    pub async fn resume(&self, tokens: SessionTokens) {
        let generation = self.next_generation();
        *self.session.lock().await = Some(LiveSession { tokens, generation });
    }

    /// The current session's tokens, to store them (encrypted) for reuse.
    pub async fn session_tokens(&self) -> Option<SessionTokens> {
        self.session
            .lock()
            .await
            .as_ref()
            .map(|session| session.tokens.clone())
    }

    fn next_generation(&self) -> u64 {
        self.generations
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1
    }

    /// Logs in now with the MPIN and a fresh TOTP code, replacing any session.
    ///
    /// # Errors
    /// [`BrokerError::InvalidCredentials`], [`BrokerError::InvalidTotp`], or any other.
    pub async fn login(&self) -> Result<(), BrokerError> {
        let mut session = self.session.lock().await;
        *session = Some(self.log_in().await?);
        Ok(())
    }

    /// Renews the session with its refresh token (`generateTokens`).
    ///
    /// # Errors
    /// [`BrokerError::SessionExpired`] when there is no session or the refresh token is no
    /// longer accepted (log in instead), or any other.
    pub async fn refresh(&self) -> Result<(), BrokerError> {
        let mut guard = self.session.lock().await;
        let current = guard.as_ref().ok_or_else(|| BrokerError::SessionExpired {
            message: "there is no session to refresh; log in".to_owned(),
        })?;
        let refresh_token =
            current
                .tokens
                .refresh_token()
                .ok_or_else(|| BrokerError::SessionExpired {
                    message: "the session has no refresh token; log in".to_owned(),
                })?;
        let data = self
            .client
            .generate_tokens(
                current.tokens.access_token(),
                &RefreshBody { refresh_token },
            )
            .await?;
        *guard = Some(self.session_from(data)?);
        tracing::info!("Angel One session refreshed");
        Ok(())
    }

    async fn log_in(&self) -> Result<LiveSession, BrokerError> {
        let code = self
            .totp
            .current_code()
            .map_err(|error| BrokerError::InvalidTotp {
                message: error.to_string(),
            })?;
        let data = self
            .client
            .login(&LoginBody {
                clientcode: self.credentials.client_code(),
                password: self.credentials.mpin(),
                totp: &code,
            })
            .await?;
        let session = self.session_from(data)?;
        tracing::info!("logged in to Angel One");
        Ok(session)
    }

    fn session_from(
        &self,
        data: crate::http::models::TokenData,
    ) -> Result<LiveSession, BrokerError> {
        let now = Utc::now();
        let expires_at = broker_core::session::next_ist_time(now, session_expiry_time());
        let tokens = SessionTokens::new(data.jwt_token, expires_at)
            .map_err(|_| BrokerError::Decode {
                message: "login answered without a session token".to_owned(),
            })?
            .with_refresh_token(data.refresh_token)
            .with_feed_token(data.feed_token);
        Ok(LiveSession {
            tokens,
            generation: self.next_generation(),
        })
    }

    /// The session token to use, logging in when there is none or it has expired.
    async fn current_session(&self) -> Result<(SecretString, u64), BrokerError> {
        let mut guard = self.session.lock().await;
        match guard.as_ref() {
            Some(session) if session.tokens.is_valid_at(Utc::now()) => {}
            _ => *guard = Some(self.log_in().await?),
        }
        let session = guard.as_ref().ok_or_else(|| BrokerError::SessionExpired {
            message: "no session after logging in".to_owned(),
        })?;
        Ok((session.tokens.access_token().clone(), session.generation))
    }

    /// Logs in again unless another task already did after `failed_generation` failed.
    async fn session_after_expiry(
        &self,
        failed_generation: u64,
    ) -> Result<SecretString, BrokerError> {
        let mut guard = self.session.lock().await;
        let still_failed = guard
            .as_ref()
            .is_none_or(|session| session.generation == failed_generation);
        if still_failed {
            tracing::info!("Angel One session expired; logging in again");
            *guard = Some(self.log_in().await?);
        }
        guard
            .as_ref()
            .map(|session| session.tokens.access_token().clone())
            .ok_or_else(|| BrokerError::SessionExpired {
                message: "no session after logging in".to_owned(),
            })
    }

    /// Runs a secure call; on a session-expired answer logs in again once and repeats it.
    async fn secure<T, F, Fut>(&self, call: F) -> Result<T, BrokerError>
    where
        F: Fn(SecretString) -> Fut,
        Fut: Future<Output = Result<T, BrokerError>>,
    {
        let (token, generation) = self.current_session().await?;
        match call(token).await {
            Err(BrokerError::SessionExpired { .. }) => {
                let token = self.session_after_expiry(generation).await?;
                call(token).await
            }
            other => other,
        }
    }

    /// The symbol token of a reference: its own, or the instrument master's.
    fn resolve(&self, instrument: &InstrumentRef) -> Option<(String, Option<Decimal>)> {
        let index = self.instruments();
        match (&instrument.token, index.resolve(instrument)) {
            (_, Some(found)) => Some((found.token.clone(), Some(found.tick_size))),
            (Some(token), None) => Some((token.clone(), None)),
            (None, None) => None,
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

    async fn quote_rows(
        &self,
        instruments: &[InstrumentRef],
        mode: QuoteMode,
    ) -> Result<Vec<WireQuote>, BrokerError> {
        let mut exchange_tokens: BTreeMap<_, Vec<String>> = BTreeMap::new();
        for instrument in instruments {
            if let Some((token, _)) = self.resolve(instrument) {
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

/// Maps an order-call rejection saying the order does not exist.
fn not_found_as_such(error: BrokerError, order_id: &OrderId) -> BrokerError {
    match error {
        BrokerError::OrderRejected {
            code: Some(code), ..
        } if code == ORDER_NOT_FOUND_CODE => BrokerError::OrderNotFound {
            order_id: order_id.clone(),
        },
        other => other,
    }
}

/// SmartAPI's "Order not found" code.
pub const ORDER_NOT_FOUND_CODE: &str = "AB1013";

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

    async fn place_order(&self, request: &OrderRequest) -> broker_core::Result<OrderId> {
        let instrument = request.instrument();
        let (symbol_token, tick_size) =
            self.resolve(instrument)
                .ok_or_else(|| ValidationError::UnknownInstrument {
                    broker: BrokerKind::AngelOne,
                    exchange: instrument.exchange,
                    trading_symbol: instrument.trading_symbol.clone(),
                })?;
        if let Some(tick_size) = tick_size.filter(|tick| *tick > Decimal::ZERO) {
            request.to_builder().tick_size(tick_size).build()?;
        }
        let body = mapping::place_order_body(request, &symbol_token)?;
        self.policy.check(request)?;
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
                unique_order_id: ack.uniqueorderid,
            },
        );
        Ok(order_id)
    }

    async fn modify_order(
        &self,
        order_id: &OrderId,
        change: &OrderModification,
    ) -> broker_core::Result<OrderId> {
        let identity = self.identity(order_id).await?;
        let body = mapping::modify_order_body(order_id, change, &identity)?;
        let ack = self
            .secure(|token| {
                let body = &body;
                async move { self.client.modify_order(&token, body).await }
            })
            .await
            .map_err(|error| not_found_as_such(error, order_id))?;
        Ok(OrderId::new(ack.orderid))
    }

    async fn cancel_order(
        &self,
        order_id: &OrderId,
        variety: Variety,
    ) -> broker_core::Result<OrderId> {
        let wire_variety = match self.remembered(order_id) {
            Some(identity) => identity.variety,
            None => mapping::wire_variety(variety, broker_core::OrderType::Limit)?,
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
            .await
            .map_err(|error| not_found_as_such(error, order_id))?;
        Ok(OrderId::new(ack.orderid))
    }

    async fn orders(&self) -> broker_core::Result<Vec<Order>> {
        collect(&self.order_book().await?, mapping::order)
    }

    async fn order(&self, order_id: &OrderId) -> broker_core::Result<OrderHistory> {
        let unique_order_id = self
            .remembered(order_id)
            .and_then(|identity| identity.unique_order_id);
        let wire = match unique_order_id {
            Some(unique) => {
                self.secure(|token| {
                    let unique = &unique;
                    async move { self.client.order_details(&token, unique).await }
                })
                .await?
            }
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
        collect(&rows, mapping::trade)
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
        let mut guard = self.session.lock().await;
        if let Some(session) = guard.as_ref() {
            let body = LogoutBody {
                clientcode: self.credentials.client_code().to_owned(),
            };
            match self
                .client
                .logout(session.tokens.access_token(), &body)
                .await
            {
                // A session the broker no longer knows is as good as logged out.
                Ok(()) | Err(BrokerError::SessionExpired { .. }) => {}
                Err(error) => return Err(error),
            }
        }
        *guard = None;
        Ok(())
    }
}
