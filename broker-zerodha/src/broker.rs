//! [`Zerodha`]: the [`Broker`] implementation on top of the raw client.

use async_trait::async_trait;

use broker_core::{
    Broker, BrokerError, BrokerKind, Funds, Holding, HttpClientConfig, InstrumentRef, LastPrice,
    Order, OrderHistory, OrderId, OrderModification, OrderRequest, Position, PreTradePolicy,
    Profile, Quote, Result, SessionTokens, Trade, Variety, ZerodhaCredentials,
};

use crate::http::{ClientBuildError, KiteHttpClient, MarginSegment, parse};

/// A live Kite Connect session of one account.
///
/// Every order passes the account's [`PreTradePolicy`] (by default Zerodha's: market and SL-M
/// orders need market protection, tags at most 20 characters) before any request leaves.
/// Nothing here logs in: Kite logins are made by the user, so an expired session gives
/// [`BrokerError::SessionExpired`] and the caller asks the user to log in again.
#[derive(Debug)]
pub struct Zerodha {
    client: KiteHttpClient,
    policy: PreTradePolicy,
}

impl Zerodha {
    /// Wraps a client that holds (or will hold) a session, with Zerodha's pre-trade policy.
    pub fn new(client: KiteHttpClient) -> Self {
        Self {
            client,
            policy: PreTradePolicy::for_broker(BrokerKind::Zerodha),
        }
    }

    /// The session of an account whose user logged in earlier today: production Kite, the
    /// account's egress binding and timeouts from `http`, Kite's rate limits.
    ///
    /// # Errors
    /// [`ClientBuildError`] when the egress address is not on this machine or the stored
    /// tokens cannot be sent.
    pub fn from_session(
        credentials: &ZerodhaCredentials,
        session: &SessionTokens,
        http: HttpClientConfig,
    ) -> std::result::Result<Self, ClientBuildError> {
        let client = KiteHttpClient::builder(credentials.api_key().clone())
            .http_config(http)
            .build()?;
        client
            .set_session(session)
            .map_err(ClientBuildError::Session)?;
        Ok(Self::new(client))
    }

    /// Uses a stricter (or operator-configured) pre-trade policy.
    #[must_use]
    pub fn with_policy(mut self, policy: PreTradePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The raw client, for endpoints the [`Broker`] trait does not cover.
    pub fn client(&self) -> &KiteHttpClient {
        &self.client
    }

    fn instrument_keys(instruments: &[InstrumentRef]) -> Vec<String> {
        instruments.iter().map(parse::instrument_key).collect()
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
        Ok(parse::profile(&self.client.profile().await?))
    }

    async fn funds(&self) -> Result<Funds> {
        Ok(parse::funds(
            &self.client.segment_margins(MarginSegment::Equity).await?,
        ))
    }

    async fn place_order(&self, request: &OrderRequest) -> Result<OrderId> {
        self.policy.check(request)?;
        let params = parse::place_params(request)?;
        self.client.place_order(request.variety(), &params).await
    }

    async fn modify_order(
        &self,
        order_id: &OrderId,
        change: &OrderModification,
    ) -> Result<OrderId> {
        self.client
            .modify_order(change.variety(), order_id, &parse::modify_params(change))
            .await
    }

    async fn cancel_order(&self, order_id: &OrderId, variety: Variety) -> Result<OrderId> {
        self.client.cancel_order(variety, order_id).await
    }

    async fn orders(&self) -> Result<Vec<Order>> {
        convert_all(&self.client.orders().await?, parse::order)
    }

    async fn order(&self, order_id: &OrderId) -> Result<OrderHistory> {
        let mut states = convert_all(&self.client.order_history(order_id).await?, parse::order)?;
        let current = states.pop().ok_or_else(|| BrokerError::OrderNotFound {
            order_id: order_id.clone(),
        })?;
        Ok(OrderHistory {
            current,
            earlier: states,
        })
    }

    async fn trades(&self) -> Result<Vec<Trade>> {
        convert_all(&self.client.trades().await?, parse::trade)
    }

    async fn positions(&self) -> Result<Vec<Position>> {
        convert_all(&self.client.positions().await?.net, parse::position)
    }

    async fn holdings(&self) -> Result<Vec<Holding>> {
        convert_all(&self.client.holdings().await?, parse::holding)
    }

    async fn quotes(&self, instruments: &[InstrumentRef]) -> Result<Vec<Quote>> {
        if instruments.is_empty() {
            return Ok(Vec::new());
        }
        let keys = Self::instrument_keys(instruments);
        let quotes = self.client.quote(&keys).await?;
        keys.iter()
            .filter_map(|key| quotes.get(key).map(|quote| parse::quote(key, quote)))
            .collect()
    }

    async fn last_prices(&self, instruments: &[InstrumentRef]) -> Result<Vec<LastPrice>> {
        if instruments.is_empty() {
            return Ok(Vec::new());
        }
        let keys = Self::instrument_keys(instruments);
        let prices = self.client.ltp(&keys).await?;
        keys.iter()
            .filter_map(|key| prices.get(key).map(|price| parse::last_price(key, price)))
            .collect()
    }

    async fn logout(&self) -> Result<()> {
        self.client.invalidate_access_token().await
    }
}
