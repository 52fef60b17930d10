//! [`Zerodha`]: the `broker_core::Broker` and `broker_core::BrokerSession` implementation on
//! top of the raw client, and `connect`, the one way to build it.

use async_trait::async_trait;
use secrecy::SecretString;

use broker_core::{
    Broker, BrokerError, BrokerKind, BrokerSession, ConnectError, ConnectOptions, Funds, Holding,
    InstrumentRef, LastPrice, Order, OrderHistory, OrderId, OrderModification, OrderRequest,
    OrderTag, Placement, Position, PreTradePolicy, Profile, Quote, Result, SessionTokens,
    SharedInstruments, Trade, Variety, ZerodhaCredentials,
};
use url::Url;

use crate::http::models::PlaceOrderBody;
use crate::http::{KITE_API_URL, MarginSegment, ZerodhaHttpClient, default_quota_rules};
use crate::login::KITE_LOGIN_URL;
use crate::mapping;
use crate::session::{Authorization, LiveSession};

/// What Kite did with an autosliced placement ([`Zerodha::place_autoslice_order`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AutoslicePlacement {
    /// The id Kite gave the whole request; each slice is tagged `autoslice:<this id>` in
    /// the order book.
    pub order_id: OrderId,
    /// Each slice, in order: its order id, or why Kite refused it (such as
    /// [`BrokerError::OrderRejected`] for a slice over the margin). Slices before and after a
    /// refused one may have been placed.
    pub slices: Vec<Result<OrderId>>,
}

/// A Kite Connect session of one account.
///
/// Built with [`Zerodha::connect`]. Every order passes the pre-trade policy (by default
/// Zerodha's: market and SL-M orders need market protection) and the broker's instrument
/// master (`InstrumentIndex::check`: a known instrument, whole lots, whole ticks) before any
/// request leaves, so the master must be loaded first ([`Zerodha::refresh_instruments`], or a
/// `SharedInstruments` filled elsewhere). Placements are paced by the account's rate limiter,
/// which includes the policy's orders-per-second cap.
///
/// Nothing here logs in: Kite logins are made by the account holder in a browser
/// ([`Zerodha::login_url`], [`Zerodha::complete_login`]), so an expired session gives
/// [`BrokerError::SessionExpired`] and the caller asks the account holder to log in again.
pub struct Zerodha {
    pub(crate) client: ZerodhaHttpClient,
    pub(crate) session: LiveSession,
    pub(crate) api_secret: SecretString,
    pub(crate) user_id: Option<String>,
    pub(crate) login_page: Url,
    pub(crate) instruments: SharedInstruments,
    policy: PreTradePolicy,
}

impl std::fmt::Debug for Zerodha {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Zerodha")
            .field("client", &self.client)
            .field("user_id", &self.user_id)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Zerodha {
    /// The session of the account with these credentials: `session` when the account holder
    /// logged in earlier (tokens stored from [`Zerodha::complete_login`]), else none until
    /// they log in. Everything shared comes from `options`: the HTTP client of the account's
    /// egress address, the API and login URLs (production unless set), the rate limiter
    /// (Kite's quotas and the policy's pacing unless set), the instrument index, the policy,
    /// the clock and the session listener.
    ///
    /// # Errors
    /// [`ConnectError::BadUrl`] for an unusable API or login URL,
    /// [`ConnectError::Session`] when the stored session expired already or its token cannot
    /// be sent.
    pub fn connect(
        credentials: &ZerodhaCredentials,
        session: Option<SessionTokens>,
        options: &ConnectOptions,
    ) -> std::result::Result<Self, ConnectError> {
        let api_url = options.api_url_or(KITE_API_URL)?;
        let login_page = options.login_url_or(KITE_LOGIN_URL)?;
        let limiter = options.rate_limiter_or(BrokerKind::Zerodha, default_quota_rules());
        let client = ZerodhaHttpClient::new(
            &options.http,
            api_url,
            credentials.api_key().clone(),
            limiter,
        );
        let live = LiveSession::new(options.clock.clone(), options.session_listener.clone());
        if let Some(tokens) = session {
            let authorization = client
                .authorization(tokens.access_token())
                .map_err(ConnectError::Session)?;
            live.resume(tokens, authorization)
                .map_err(ConnectError::Session)?;
        }
        Ok(Self {
            client,
            session: live,
            api_secret: credentials.api_secret().clone(),
            user_id: credentials.user_id().map(str::to_owned),
            login_page,
            instruments: options.instruments.clone(),
            policy: options.policy_for(BrokerKind::Zerodha),
        })
    }

    /// The raw client, for endpoints the [`Broker`] trait does not cover; pair it with
    /// [`Zerodha::authorization`].
    pub fn client(&self) -> &ZerodhaHttpClient {
        &self.client
    }

    /// The current session's `Authorization`, for calls through [`Zerodha::client`].
    ///
    /// # Errors
    /// [`BrokerError::SessionExpired`] when there is no session or it expired.
    pub fn authorization(&self) -> Result<Authorization> {
        self.session
            .authorization()
            .map(|(authorization, _)| authorization)
    }

    /// The instrument index orders are checked against (shared with every session built
    /// from the same `ConnectOptions`).
    pub fn instruments(&self) -> &SharedInstruments {
        &self.instruments
    }

    /// Places `request` with `autoslice=true`: Kite slices a quantity above the exchange's
    /// freeze limit into several orders. Checked as [`Broker::place_order`] checks (policy,
    /// instrument master) before anything is sent; never repeated.
    ///
    /// # Errors
    /// As for [`Broker::place_order`]; a refused slice is in
    /// [`AutoslicePlacement::slices`], not an error of the call.
    pub async fn place_autoslice_order(
        &self,
        request: &OrderRequest,
    ) -> Result<AutoslicePlacement> {
        let body = self.checked_body(request)?;
        let (session, generation) = self.session.authorization()?;
        let wire = self.session.checked(
            generation,
            self.client
                .place_autoslice_order(&session, request.variety(), &body)
                .await,
        )?;
        mapping::autoslice(&wire, self.client.egress_ip())
    }

    /// The form of `request`, once the policy and the instrument master accept it.
    fn checked_body(&self, request: &OrderRequest) -> Result<PlaceOrderBody> {
        self.policy.check(request)?;
        let index = self.instruments.current();
        let instrument = index.check(BrokerKind::Zerodha, request)?;
        mapping::place_order_body(request, instrument.lot_size)
    }

    fn instrument_keys(instruments: &[InstrumentRef]) -> Vec<String> {
        instruments.iter().map(mapping::instrument_key).collect()
    }
}

fn convert_all<W, D>(wire: &[W], convert: impl Fn(&W) -> Result<D>) -> Result<Vec<D>> {
    wire.iter().map(convert).collect()
}

#[async_trait]
impl Broker for Zerodha {
    fn kind(&self) -> BrokerKind {
        BrokerKind::Zerodha
    }

    async fn profile(&self) -> Result<Profile> {
        let (session, generation) = self.session.authorization()?;
        let wire = self
            .session
            .checked(generation, self.client.profile(&session).await)?;
        Ok(mapping::profile(&wire))
    }

    async fn funds(&self) -> Result<Funds> {
        let (session, generation) = self.session.authorization()?;
        let wire = self.session.checked(
            generation,
            self.client
                .segment_funds(&session, MarginSegment::Equity)
                .await,
        )?;
        Ok(mapping::funds(&wire))
    }

    async fn place_order(&self, request: &OrderRequest) -> Result<Placement> {
        let body = self.checked_body(request)?;
        let (session, generation) = self.session.authorization()?;
        let order_id = self.session.checked(
            generation,
            self.client
                .place_order(&session, request.variety(), &body)
                .await,
        )?;
        Ok(Placement::new(order_id))
    }

    async fn modify_order(
        &self,
        order_id: &OrderId,
        change: &OrderModification,
    ) -> Result<OrderId> {
        let body = mapping::modify_order_body(change);
        let (session, generation) = self.session.authorization()?;
        self.session.checked(
            generation,
            self.client
                .modify_order(&session, change.variety(), order_id, &body)
                .await,
        )
    }

    async fn cancel_order(&self, order_id: &OrderId, variety: Variety) -> Result<OrderId> {
        let (session, generation) = self.session.authorization()?;
        self.session.checked(
            generation,
            self.client.cancel_order(&session, variety, order_id).await,
        )
    }

    async fn orders(&self) -> Result<Vec<Order>> {
        let (session, generation) = self.session.authorization()?;
        let wire = self
            .session
            .checked(generation, self.client.order_book(&session).await)?;
        convert_all(&wire, mapping::order)
    }

    /// Kite has no filter by tag, so this reads the order book; it matches the tag an order
    /// was placed with and the `tags` Kite reports, ignoring ASCII case.
    async fn orders_with_tag(&self, tag: &OrderTag) -> Result<Vec<Order>> {
        let (session, generation) = self.session.authorization()?;
        let wire = self
            .session
            .checked(generation, self.client.order_book(&session).await)?;
        wire.iter()
            .filter(|order| {
                order
                    .tag
                    .iter()
                    .chain(order.tags.iter().flatten())
                    .any(|seen| tag.matches(seen))
            })
            .map(mapping::order)
            .collect()
    }

    async fn order(&self, order_id: &OrderId) -> Result<OrderHistory> {
        let (session, generation) = self.session.authorization()?;
        let wire = self.session.checked(
            generation,
            self.client.order_history(&session, order_id).await,
        )?;
        let mut states = convert_all(&wire, mapping::order)?;
        let current = states.pop().ok_or_else(|| BrokerError::OrderNotFound {
            order_id: order_id.clone(),
        })?;
        Ok(OrderHistory {
            current,
            earlier: states,
        })
    }

    async fn trades(&self) -> Result<Vec<Trade>> {
        let (session, generation) = self.session.authorization()?;
        let wire = self
            .session
            .checked(generation, self.client.trade_book(&session).await)?;
        convert_all(&wire, mapping::trade)
    }

    async fn positions(&self) -> Result<Vec<Position>> {
        let (session, generation) = self.session.authorization()?;
        let wire = self
            .session
            .checked(generation, self.client.positions(&session).await)?;
        convert_all(&wire.net, mapping::position)
    }

    async fn holdings(&self) -> Result<Vec<Holding>> {
        let (session, generation) = self.session.authorization()?;
        let wire = self
            .session
            .checked(generation, self.client.holdings(&session).await)?;
        convert_all(&wire, mapping::holding)
    }

    async fn quotes(&self, instruments: &[InstrumentRef]) -> Result<Vec<Quote>> {
        if instruments.is_empty() {
            return Ok(Vec::new());
        }
        let keys = Self::instrument_keys(instruments);
        let (session, generation) = self.session.authorization()?;
        let quotes = self
            .session
            .checked(generation, self.client.quote(&session, &keys).await)?;
        keys.iter()
            .filter_map(|key| quotes.get(key).map(|quote| mapping::quote(key, quote)))
            .collect()
    }

    async fn last_prices(&self, instruments: &[InstrumentRef]) -> Result<Vec<LastPrice>> {
        if instruments.is_empty() {
            return Ok(Vec::new());
        }
        let keys = Self::instrument_keys(instruments);
        let (session, generation) = self.session.authorization()?;
        let prices = self
            .session
            .checked(generation, self.client.ltp(&session, &keys).await)?;
        keys.iter()
            .filter_map(|key| prices.get(key).map(|price| mapping::last_price(key, price)))
            .collect()
    }

    /// Ends the session at Kite (`DELETE /session/token`) and here, and reports its end; a
    /// session Kite already refuses is ended here all the same.
    async fn logout(&self) -> Result<()> {
        let tokens = self
            .session
            .tokens()
            .ok_or_else(|| BrokerError::SessionExpired {
                message: "no Kite session to end".into(),
            })?;
        match self
            .client
            .invalidate_access_token(tokens.access_token())
            .await
        {
            // A session Kite no longer knows is over all the same.
            Ok(()) | Err(BrokerError::SessionExpired { .. }) => {
                self.session.end();
                Ok(())
            }
            Err(error) => Err(error),
        }
    }
}

#[async_trait]
impl BrokerSession for Zerodha {
    /// Kite logins are made by the account holder in a browser and never automated.
    async fn login(&self) -> Result<SessionTokens> {
        Err(BrokerError::Unsupported {
            broker: BrokerKind::Zerodha,
            operation: "logging in without the account holder (Kite logins are made in a browser: use Zerodha::login_url and Zerodha::complete_login)",
        })
    }

    async fn resume(&self, tokens: SessionTokens) -> Result<()> {
        let authorization = self.client.authorization(tokens.access_token())?;
        self.session.resume(tokens, authorization)
    }

    async fn session_tokens(&self) -> Option<SessionTokens> {
        self.session.tokens()
    }
}
