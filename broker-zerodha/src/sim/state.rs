//! The simulator's state: accounts, sessions, faults, quotas, the clock, the request log,
//! and the book (orders, portfolios and the market, in [`super::book`]) behind one lock.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use rand::Rng;
use rand::distr::Alphanumeric;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use broker_core::sim::{FaultQueue, SimRateLimits};
use broker_core::{BrokerKind, Clock};

use super::book::Book;
use super::market::{Market, SimClock, kite_time};
use super::responses::KiteError;
use super::rules::{EXCHANGES, ORDER_TYPES, PRODUCTS};
use super::{SimAccount, SimConfig, SimRequest};
use crate::http::Endpoint;
use crate::http::models::{WireOrder, WireProfile, WireProfileMeta};
use crate::login::{checksum, checksum_matches};

/// One account, by its position in the configuration.
pub(super) type AccountId = usize;

#[derive(Default)]
struct Sessions {
    request_tokens: HashMap<String, AccountId>,
    access_tokens: HashMap<String, (AccountId, DateTime<Utc>)>,
    refresh_tokens: HashMap<String, AccountId>,
    logins: HashMap<AccountId, usize>,
}

/// Shared state behind every handler.
pub(super) struct SimState {
    pub(super) accounts: Vec<SimAccount>,
    /// IPs whitelisted while running (account, address), as in the developer console.
    allowed_later: Mutex<Vec<(AccountId, IpAddr)>>,
    pub(super) clock: SimClock,
    pub(super) faults: FaultQueue<Endpoint>,
    pub(super) limits: SimRateLimits,
    /// Whether regular orders outside the session are refused.
    pub(super) market_hours: bool,
    /// The secret of the `/_sim` routes (none: they are off).
    pub(super) admin_token: Option<SecretString>,
    sessions: Mutex<Sessions>,
    book: Mutex<Book>,
    requests: Mutex<Vec<SimRequest>>,
    postbacks: reqwest::Client,
    /// The runtime the simulator started on, which delivers postbacks even when a change
    /// comes from the owner's thread ([`super::Simulator::set_price`]).
    runtime: Option<tokio::runtime::Handle>,
}

fn random_token(length: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(length)
        .map(char::from)
        .collect()
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SimState {
    pub(super) fn new(config: SimConfig) -> Self {
        let market = Market::new(config.prices, config.freeze_quantities);
        let book = Book::new(market, &config.accounts);
        Self {
            accounts: config.accounts,
            allowed_later: Mutex::new(Vec::new()),
            clock: SimClock::new(config.clock),
            faults: FaultQueue::default(),
            limits: SimRateLimits::new(config.quotas),
            market_hours: config.market_hours,
            admin_token: config.admin_token,
            sessions: Mutex::new(Sessions::default()),
            book: Mutex::new(book),
            requests: Mutex::new(Vec::new()),
            postbacks: reqwest::Client::new(),
            runtime: tokio::runtime::Handle::try_current().ok(),
        }
    }

    pub(super) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub(super) fn record_request(&self, request: SimRequest) {
        lock(&self.requests).push(request);
    }

    pub(super) fn requests(&self) -> Vec<SimRequest> {
        lock(&self.requests).clone()
    }

    pub(super) fn account(&self, id: AccountId) -> &SimAccount {
        &self.accounts[id]
    }

    /// Whitelists `ip` for the app with `api_key`; `false` when no app has that key.
    pub(super) fn allow_ip(&self, api_key: &str, ip: IpAddr) -> bool {
        let Some(account) = self.account_by_key(api_key) else {
            return false;
        };
        lock(&self.allowed_later).push((account, ip));
        true
    }

    pub(super) fn account_by_key(&self, api_key: &str) -> Option<AccountId> {
        self.accounts
            .iter()
            .position(|account| account.api_key.expose_secret() == api_key)
    }

    pub(super) fn logins(&self, user_id: &str) -> usize {
        let sessions = lock(&self.sessions);
        self.accounts
            .iter()
            .enumerate()
            .filter(|(_, account)| account.user_id == user_id)
            .map(|(id, _)| sessions.logins.get(&id).copied().unwrap_or(0))
            .sum()
    }

    pub(super) fn expire_sessions(&self) {
        let mut sessions = lock(&self.sessions);
        sessions.access_tokens.clear();
        sessions.refresh_tokens.clear();
    }

    // --- sessions -------------------------------------------------------------------------

    pub(super) fn mint_request_token(&self, account: AccountId) -> String {
        let token = random_token(32);
        lock(&self.sessions)
            .request_tokens
            .insert(token.clone(), account);
        token
    }

    /// Checks the key and `checksum = SHA-256(api_key + token + api_secret)`.
    fn check_token_checksum(
        &self,
        api_key: &str,
        token: &str,
        received_checksum: &str,
    ) -> Result<AccountId, KiteError> {
        let account = self
            .account_by_key(api_key)
            .ok_or_else(|| KiteError::input("Invalid `api_key`."))?;
        let secret = self.account(account).api_secret.expose_secret();
        if checksum_matches(received_checksum, &[api_key, token, secret]) {
            Ok(account)
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
        let account = self.check_token_checksum(api_key, request_token, received_checksum)?;
        let issued_for = lock(&self.sessions).request_tokens.remove(request_token);
        if issued_for != Some(account) {
            return Err(KiteError::token("Token is invalid or has expired."));
        }
        Ok(self.open_session(account))
    }

    /// `POST /session/refresh_token`.
    pub(super) fn renew_session(
        &self,
        api_key: &str,
        refresh_token: &str,
        received_checksum: &str,
    ) -> Result<Value, KiteError> {
        let account = self.check_token_checksum(api_key, refresh_token, received_checksum)?;
        if lock(&self.sessions).refresh_tokens.get(refresh_token) != Some(&account) {
            return Err(KiteError::token("Token is invalid or has expired."));
        }
        Ok(self.open_session(account))
    }

    fn open_session(&self, account_id: AccountId) -> Value {
        let account = self.account(account_id);
        let now = self.now();
        let access_token = random_token(32);
        let refresh_token = if account.issue_refresh_tokens {
            random_token(32)
        } else {
            String::new()
        };
        let expires_at = BrokerKind::Zerodha.session_expires_at(now).unwrap_or(now);
        {
            let mut sessions = lock(&self.sessions);
            sessions
                .access_tokens
                .insert(access_token.clone(), (account_id, expires_at));
            if !refresh_token.is_empty() {
                sessions
                    .refresh_tokens
                    .insert(refresh_token.clone(), account_id);
            }
            *sessions.logins.entry(account_id).or_default() += 1;
        }
        let mut session =
            serde_json::to_value(self.profile(account_id)).unwrap_or_else(|_| json!({}));
        if let Some(fields) = session.as_object_mut() {
            for (name, value) in [
                ("api_key", json!(account.api_key.expose_secret())),
                ("access_token", json!(access_token)),
                ("public_token", json!(random_token(32))),
                ("refresh_token", json!(refresh_token)),
                ("silo", json!("")),
                ("login_time", json!(kite_time(now))),
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
        let account = self
            .account_by_key(api_key)
            .ok_or_else(|| KiteError::input("Invalid `api_key`."))?;
        let mut sessions = lock(&self.sessions);
        if let Some(token) = access_token
            && sessions.access_tokens.get(token).map(|(owner, _)| *owner) == Some(account)
        {
            sessions.access_tokens.remove(token);
        }
        if let Some(token) = refresh_token
            && sessions.refresh_tokens.get(token) == Some(&account)
        {
            sessions.refresh_tokens.remove(token);
        }
        Ok(())
    }

    /// The API key and access token of `Authorization: token api_key:access_token`.
    pub(super) fn credentials(authorization: Option<&str>) -> Option<(&str, &str)> {
        authorization
            .and_then(|value| value.strip_prefix("token "))
            .and_then(|credentials| credentials.split_once(':'))
    }

    /// Ends the session of the access token in this header.
    pub(super) fn revoke(&self, authorization: Option<&str>) {
        if let Some((_, access_token)) = Self::credentials(authorization) {
            lock(&self.sessions).access_tokens.remove(access_token);
        }
    }

    /// Checks `Authorization: token api_key:access_token` against live sessions and returns
    /// the account.
    pub(super) fn authorize(&self, authorization: Option<&str>) -> Result<AccountId, KiteError> {
        let refused = || KiteError::token("Incorrect `api_key` or `access_token`.");
        let (api_key, access_token) = Self::credentials(authorization).ok_or_else(refused)?;
        let now = self.now();
        let sessions = lock(&self.sessions);
        match sessions.access_tokens.get(access_token) {
            Some((account, expires_at))
                if now < *expires_at
                    && self.account(*account).api_key.expose_secret() == api_key =>
            {
                Ok(*account)
            }
            _ => Err(refused()),
        }
    }

    /// Refuses order requests from peers the account has not whitelisted.
    pub(super) fn check_peer(&self, account: AccountId, peer: IpAddr) -> Result<(), KiteError> {
        let allowed_later = lock(&self.allowed_later).contains(&(account, peer));
        if allowed_later || self.account(account).allowed_ips.contains(&peer) {
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

    pub(super) fn profile(&self, account: AccountId) -> WireProfile {
        let account = self.account(account);
        let short = account
            .user_name
            .split_whitespace()
            .next()
            .unwrap_or_default();
        WireProfile {
            user_id: account.user_id.clone(),
            user_type: Some("individual".into()),
            email: Some(format!("{}@example.com", account.user_id.to_lowercase())),
            user_name: account.user_name.clone(),
            user_shortname: short.to_owned(),
            broker: Some("ZERODHA".into()),
            exchanges: EXCHANGES.iter().map(|code| (*code).to_owned()).collect(),
            products: PRODUCTS.iter().map(|code| (*code).to_owned()).collect(),
            order_types: ORDER_TYPES.iter().map(|code| (*code).to_owned()).collect(),
            avatar_url: None,
            meta: WireProfileMeta {
                demat_consent: Some("physical".into()),
            },
        }
    }

    /// The postback body of an order: the order plus `user_id`, `app_id`, `unfilled_quantity`
    /// and `checksum`, with the order's decimals written exactly.
    pub(super) fn postback_body(&self, account: AccountId, order: &WireOrder) -> String {
        #[derive(serde::Serialize)]
        struct Postback<'a> {
            #[serde(flatten)]
            order: &'a WireOrder,
            user_id: &'a str,
            app_id: u64,
            unfilled_quantity: u32,
            checksum: String,
        }
        let account = self.account(account);
        let timestamp = order.order_timestamp.clone().unwrap_or_default();
        let postback = Postback {
            order,
            user_id: &account.user_id,
            app_id: 1,
            unfilled_quantity: order.pending_quantity,
            checksum: checksum(&[
                &order.order_id,
                &timestamp,
                account.api_secret.expose_secret(),
            ]),
        };
        serde_json::to_string(&postback).unwrap_or_default()
    }

    /// Sends a postback for each changed order to its account's postback URL, if any.
    fn deliver(&self, updates: Vec<(String, WireOrder)>) {
        for (user_id, order) in updates {
            let Some(account) = self
                .accounts
                .iter()
                .position(|account| account.user_id == user_id)
            else {
                continue;
            };
            let Some(url) = self.account(account).postback_url.clone() else {
                continue;
            };
            let Some(runtime) = &self.runtime else {
                tracing::warn!("kite simulator has no runtime to deliver postbacks on");
                return;
            };
            let body = self.postback_body(account, &order);
            let client = self.postbacks.clone();
            runtime.spawn(async move {
                let sent = client
                    .post(url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body)
                    .send()
                    .await;
                if let Err(error) = sent {
                    tracing::warn!(%error, "kite simulator could not deliver a postback");
                }
            });
        }
    }

    // --- the book -------------------------------------------------------------------------

    /// Runs `action` on the book brought up to now (day changes, after-market orders
    /// reaching the session, TTL expiries), then sends the postbacks of what changed.
    pub(super) fn with_book<T>(&self, action: impl FnOnce(&mut Book, DateTime<Utc>) -> T) -> T {
        let now = self.now();
        let (result, updates) = {
            let mut book = lock(&self.book);
            book.catch_up(now);
            let result = action(&mut book, now);
            (result, book.take_updates())
        };
        self.deliver(updates);
        result
    }

    /// The timestamp of an answer.
    pub(super) fn kite_now(&self) -> String {
        kite_time(self.now())
    }
}
