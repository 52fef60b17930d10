//! [`Connector`]: a stored account in, a live [`Broker`] out.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use broker_angelone::AngelOne;
use broker_core::{
    ApiRequest, Broker, BrokerCredentials, BrokerKind, BrokerSession, ConnectError, ConnectOptions,
    HttpClient, HttpClientConfig, RateLimiter, SessionChange, SessionTokens, SharedClock,
    SharedInstruments, TlsConfig, system_clock,
};
use broker_zerodha::Zerodha;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use vault::{AccountId, AccountStatus, BrokerAccount, ClaimOutcome, CredentialStore, UserId};

use crate::error::{BadState, ConnectorError, SettingsError};
use crate::gate::StoreLoginGate;
use crate::kite_state::{StateSigner, nonce_claim};
use crate::pool::{ADDRESS_CLAIM_PREFIX, EgressPool, address_claim};
use crate::settings::{BrokerEndpointSettings, ConnectorSettings, EgressScope};
use crate::verification::Verification;

/// The egress address an account (or a user's next account) uses.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct EgressAssignment {
    /// The local address its requests leave from.
    pub bind: IpAddr,
    /// The address the broker sees: the one to register at the broker.
    pub public: IpAddr,
    /// Who the address serves.
    pub scope: EgressScope,
}

/// A completed Kite login.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KiteLoginCompleted {
    /// The account's owner.
    pub user: UserId,
    /// The account.
    pub account: AccountId,
    /// What verifying the account with its new session found.
    pub verification: Verification,
}

/// A live broker of one account, with its concrete type for the session calls.
#[derive(Clone)]
enum LiveBroker {
    AngelOne(Arc<AngelOne>),
    Zerodha(Arc<Zerodha>),
}

impl LiveBroker {
    fn broker(&self) -> Arc<dyn Broker> {
        match self {
            Self::AngelOne(broker) => broker.clone(),
            Self::Zerodha(broker) => broker.clone(),
        }
    }
}

/// A cached live broker and the version of the account it was built from.
struct Live {
    updated_at: chrono::DateTime<chrono::Utc>,
    broker: LiveBroker,
}

/// One account's cache slot; its lock makes concurrent connects build once.
type Slot = Arc<tokio::sync::Mutex<Option<Live>>>;

struct Inner {
    store: Arc<dyn CredentialStore>,
    settings: ConnectorSettings,
    pool: EgressPool,
    /// The bind addresses this machine holds.
    owned: HashSet<IpAddr>,
    client_config: HttpClientConfig,
    /// One client per egress address, built on first use and shared by its accounts.
    clients: Mutex<HashMap<IpAddr, HttpClient>>,
    /// A client bound to nothing, for what sends no request (building login URLs).
    unbound: HttpClient,
    angelone_instruments: SharedInstruments,
    zerodha_instruments: SharedInstruments,
    /// Per account, so a rebuilt broker keeps the budget already spent.
    limiters: Mutex<HashMap<AccountId, Arc<RateLimiter>>>,
    live: Mutex<HashMap<AccountId, Slot>>,
    /// Address claims this process knows of (bind → scope key).
    address_claims: RwLock<BTreeMap<IpAddr, String>>,
    state_signer: StateSigner,
    /// This connector's name in store claims (login leases).
    holder: Arc<str>,
    clock: SharedClock,
}

/// Turns stored accounts into live brokers; see the crate docs. Cheap to clone; one per
/// process.
#[derive(Clone)]
pub struct Connector {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("addresses", &self.inner.pool.entries().len())
            .field("owned", &self.inner.owned.len())
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Connector {
    /// A connector over `store` with `settings`, signing Kite login states with
    /// `kite_state_key` (at least 32 random bytes, the same in every process of a
    /// deployment). Checks that this machine owns the bind addresses it will use: every
    /// address of the pool, or, when the pool spans machines, at least one.
    ///
    /// # Errors
    /// [`ConnectorError::AddressesNotOwned`] naming the addresses this machine lacks,
    /// [`ConnectorError::Settings`] for a bad pool, key or certificate,
    /// [`ConnectorError::Store`] when the address claims cannot be read.
    pub async fn new(
        store: Arc<dyn CredentialStore>,
        settings: ConnectorSettings,
        kite_state_key: SecretSlice<u8>,
    ) -> Result<Self, ConnectorError> {
        Self::with_clock(store, settings, kite_state_key, system_clock()).await
    }

    /// [`Connector::new`] on `clock` (session expiry, Kite state expiry, TOTP codes).
    ///
    /// # Errors
    /// As for [`Connector::new`].
    pub async fn with_clock(
        store: Arc<dyn CredentialStore>,
        settings: ConnectorSettings,
        kite_state_key: SecretSlice<u8>,
        clock: SharedClock,
    ) -> Result<Self, ConnectorError> {
        let pool = EgressPool::new(&settings.egress)?;
        let state_signer = StateSigner::new(&kite_state_key)?;
        let mut owned = HashSet::new();
        let mut missing = Vec::new();
        for entry in pool.entries() {
            match entry.binding().verify_local() {
                Ok(()) => {
                    owned.insert(entry.bind);
                }
                Err(_) => missing.push(entry.bind),
            }
        }
        let nothing_owned = owned.is_empty() && !pool.entries().is_empty();
        if !missing.is_empty() && (!settings.egress.spans_machines || nothing_owned) {
            return Err(ConnectorError::AddressesNotOwned { missing });
        }
        let client_config = client_config(&settings)?;
        let unbound = client_config.build().map_err(SettingsError::from)?;
        let now = clock.now();
        let address_claims = store
            .claims(ADDRESS_CLAIM_PREFIX, now)
            .await?
            .into_iter()
            .filter_map(|claim| {
                let bind = claim
                    .name
                    .strip_prefix(ADDRESS_CLAIM_PREFIX)?
                    .parse()
                    .ok()?;
                Some((bind, claim.holder))
            })
            .collect();
        tracing::info!(
            addresses = pool.entries().len(),
            owned = owned.len(),
            "connector ready"
        );
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                settings,
                pool,
                owned,
                client_config,
                clients: Mutex::new(HashMap::new()),
                unbound,
                angelone_instruments: SharedInstruments::default(),
                zerodha_instruments: SharedInstruments::default(),
                limiters: Mutex::new(HashMap::new()),
                live: Mutex::new(HashMap::new()),
                address_claims: RwLock::new(address_claims),
                state_signer,
                holder: Arc::from(uuid::Uuid::new_v4().to_string()),
                clock,
            }),
        })
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn CredentialStore> {
        &self.inner.store
    }

    /// The instrument index every session of `broker` checks orders against. Load the
    /// broker's master into it (`SharedInstruments::replace`) before trading: an empty index
    /// refuses every order.
    pub fn instruments(&self, broker: BrokerKind) -> SharedInstruments {
        match broker {
            BrokerKind::Zerodha => self.inner.zerodha_instruments.clone(),
            _ => self.inner.angelone_instruments.clone(),
        }
    }

    /// Whether this process owns the account's bind address (scale-out: serve only these).
    pub fn serves(&self, account: &BrokerAccount) -> bool {
        account
            .egress_ip
            .is_some_and(|ip| self.inner.owned.contains(&ip))
    }

    /// Drops the cached broker of `account` (its credentials, egress IP or status changed,
    /// or it was deleted); the next connect builds a new one from the store.
    pub fn invalidate(&self, account: AccountId) {
        lock(&self.inner.live).remove(&account);
    }

    /// A live broker that trades as the user from the account's egress IP, under its rate
    /// limits and pre-trade policy, resuming the session stored for it (shared by every
    /// process). Angel One logs in by itself when there is none (once across processes);
    /// a Zerodha account without a valid session becomes `needs_login`. Cached per account
    /// until the account changes.
    ///
    /// # Errors
    /// [`ConnectorError::AccountNotFound`], [`ConnectorError::AccountDisabled`],
    /// [`ConnectorError::NoEgressIp`], [`ConnectorError::AddressNotOwned`],
    /// [`ConnectorError::NeedsLogin`] (Zerodha), or a store or build error.
    pub async fn connect(
        &self,
        user: UserId,
        account: AccountId,
    ) -> Result<Arc<dyn Broker>, ConnectorError> {
        Ok(self.live(user, account).await?.broker())
    }

    /// Logs in if needed and opens the connection ahead of the slot: one authenticated call
    /// (the profile) over the account's client, whose connection stays open for the slot.
    ///
    /// # Errors
    /// As for [`Connector::connect`], and the broker's refusal of the call.
    pub async fn warm(&self, user: UserId, account: AccountId) -> Result<(), ConnectorError> {
        let broker = self.connect(user, account).await?;
        broker.profile().await?;
        Ok(())
    }

    /// Opens, for each egress address and broker of `accounts`, as many connections to the
    /// broker's API as there are accounts there (open ones count), so that they can all
    /// place at the slot at once without a TLS handshake; returns how many it opened. Warming
    /// each account cannot ensure it: a fast answer hands its connection to the next account.
    ///
    /// # Errors
    /// As for the account's client ([`ConnectorError::NoEgressIp`],
    /// [`ConnectorError::AddressNotOwned`], ...), [`ConnectorError::Broker`] when a connection
    /// cannot be opened.
    pub async fn keep_open(&self, accounts: &[BrokerAccount]) -> Result<usize, ConnectorError> {
        let mut wanted: HashMap<(IpAddr, BrokerKind), (usize, &BrokerAccount)> = HashMap::new();
        for account in accounts {
            let ip = account.egress_ip.ok_or(ConnectorError::NoEgressIp)?;
            wanted.entry((ip, account.broker)).or_insert((0, account)).0 += 1;
        }
        let mut opened = 0;
        for ((_, broker), (connections, account)) in wanted {
            let client = self.client_of(account)?;
            let api_url = self
                .endpoints(broker)
                .api_url
                .as_deref()
                .unwrap_or(match broker {
                    BrokerKind::Zerodha => broker_zerodha::KITE_API_URL,
                    _ => broker_angelone::SMARTAPI_URL,
                });
            let uri = client
                .check_base_url("API URL", api_url)
                .and_then(|url| ApiRequest::uri_of("API URL", &url))
                .map_err(ConnectError::from)?;
            opened += client.keep_open(&uri, connections).await?;
        }
        Ok(opened)
    }

    /// Logs in from the account's egress IP (Angel One: a new login, testing the stored
    /// credentials; Zerodha: the holder's stored session), probes the whitelist
    /// ([`broker_core::verify_whitelisted`], which places nothing) and sets the account's
    /// status from the outcome.
    ///
    /// # Errors
    /// Failures that are not the broker's verdict: [`ConnectorError::AccountNotFound`],
    /// [`ConnectorError::NoEgressIp`], [`ConnectorError::AddressNotOwned`], a store error.
    pub async fn verify(
        &self,
        user: UserId,
        account: AccountId,
    ) -> Result<Verification, ConnectorError> {
        // Verification follows changes (new credentials): build afresh, and let a login
        // that was refused be tried again.
        self.invalidate(account);
        self.account(user, account).await?;
        crate::gate::forget_refusal(self.inner.store.as_ref(), account).await?;
        let verification = match self.live(user, account).await {
            Ok(live) => match fresh_login(&live).await {
                Ok(()) => self.probe(user, account, &live).await?,
                Err(error) => self.refusal(user, account, &error).await?,
            },
            Err(ConnectorError::NeedsLogin { login_url }) => Verification::NeedsLogin { login_url },
            Err(ConnectorError::Broker(error)) => self.refusal(user, account, &error).await?,
            Err(other) => return Err(other),
        };
        self.record(user, account, &verification).await?;
        Ok(verification)
    }

    /// Sticky, deterministic egress assignment for an account, stored in the vault: the
    /// address it has when that is still allowed, else the address reserved for the user's
    /// scope (the user, or their family), else the first shared address in the scope's
    /// fixed order that no other scope holds (claimed in the store, so no two scopes ever
    /// share one, across processes).
    ///
    /// # Errors
    /// [`ConnectorError::PoolExhausted`] with the counts, [`ConnectorError::AccountNotFound`],
    /// or a store error.
    pub async fn assign_egress(
        &self,
        user: UserId,
        account: AccountId,
    ) -> Result<EgressAssignment, ConnectorError> {
        let stored = self.account(user, account).await?;
        let scope = self.inner.pool.scope_of(user);
        let kept = match stored.egress_ip {
            Some(ip) => self.kept(ip, &scope).await?,
            None => None,
        };
        let assignment = match kept {
            Some(kept) => kept,
            None => self.choose(&scope).await?,
        };
        if stored.egress_ip != Some(assignment.bind) {
            self.inner
                .store
                .assign_egress_ip(user, account, Some(assignment.bind))
                .await?;
            self.invalidate(account);
            tracing::info!(%account, bind = %assignment.bind, "egress address assigned");
        }
        Ok(assignment)
    }

    /// The public IP the user's next account must register, without writing anything: the
    /// address [`Connector::assign_egress`] gives unless another process claims it first.
    ///
    /// # Errors
    /// [`ConnectorError::PoolExhausted`] when no address is left for the user's scope.
    pub fn egress_ip_for(&self, user: UserId) -> Result<EgressAssignment, ConnectorError> {
        let pool = &self.inner.pool;
        let scope = pool.scope_of(user);
        if let Some(entry) = pool.reserved(&scope) {
            return Ok(assignment(entry, scope));
        }
        let claims = self
            .inner
            .address_claims
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let key = scope.key();
        let free = pool
            .shared_order(&scope)
            .find(|entry| claims.get(&entry.bind).is_none_or(|holder| *holder == key));
        match free {
            Some(entry) => Ok(assignment(entry, scope)),
            None => Err(ConnectorError::PoolExhausted {
                addresses: pool.shared_count(),
                in_use: pool.shared_count(),
            }),
        }
    }

    /// The Kite login page for the account, with a signed, expiring, single-use `state`.
    ///
    /// # Errors
    /// [`ConnectorError::AccountNotFound`] (also when the account is not with Zerodha), a
    /// store or build error.
    pub async fn kite_login_url(
        &self,
        user: UserId,
        account: AccountId,
    ) -> Result<String, ConnectorError> {
        let stored = self.account(user, account).await?;
        if stored.broker != BrokerKind::Zerodha {
            return Err(ConnectorError::AccountNotFound);
        }
        let BrokerCredentials::Zerodha(credentials) =
            self.inner.store.credentials(user, account).await?
        else {
            return Err(ConnectorError::AccountNotFound);
        };
        let options = self.options(BrokerKind::Zerodha, self.inner.unbound.clone(), account);
        let zerodha = Zerodha::connect(&credentials, None, &options)?;
        Ok(self.login_url_of(&zerodha, user, account))
    }

    /// Completes a Kite login from the redirect: the `state` checked (signature, expiry,
    /// single use), the `request_token` exchanged from the account's egress IP, the session
    /// stored, the account verified and its status set.
    ///
    /// # Errors
    /// [`ConnectorError::BadState`], [`ConnectorError::Broker`] when Kite refuses the token,
    /// [`ConnectorError::AddressNotOwned`] when another machine serves the account (checked
    /// before the state is used up, so the redirect can be forwarded there), or as for
    /// [`Connector::connect`].
    pub async fn complete_kite_login(
        &self,
        state: &str,
        request_token: &str,
    ) -> Result<KiteLoginCompleted, ConnectorError> {
        self.complete(state, None, request_token).await
    }

    /// [`Connector::complete_kite_login`] for a redirect that names the account it is for
    /// (a per-account redirect URL): a state issued for another account is refused.
    ///
    /// # Errors
    /// [`BadState::OtherAccount`], and as for [`Connector::complete_kite_login`].
    pub async fn complete_kite_login_for(
        &self,
        account: AccountId,
        state: &str,
        request_token: &str,
    ) -> Result<KiteLoginCompleted, ConnectorError> {
        self.complete(state, Some(account), request_token).await
    }
}

/// Logs in afresh where the toolkit may (Angel One), so that verification tests the stored
/// credentials and not only a session made earlier; the new session replaces the old one for
/// every process (through the login gate and the store). Kite logins are the holder's.
async fn fresh_login(live: &LiveBroker) -> Result<(), broker_core::BrokerError> {
    match live {
        LiveBroker::AngelOne(angel) => angel.login().await.map(drop),
        LiveBroker::Zerodha(_) => Ok(()),
    }
}

/// How the clients are built: TLS roots, timeouts, keep-alive, plain http for simulators.
fn client_config(settings: &ConnectorSettings) -> Result<HttpClientConfig, SettingsError> {
    let mut pem = Vec::new();
    for path in &settings.extra_root_certificates {
        let mut bytes = std::fs::read(path).map_err(|source| SettingsError::Certificate {
            path: path.clone(),
            source,
        })?;
        pem.append(&mut bytes);
        pem.push(b'\n');
    }
    let tls = if pem.is_empty() {
        TlsConfig::webpki()
    } else {
        TlsConfig::with_extra_roots(&pem)?
    };
    let http = settings.http;
    Ok(HttpClientConfig {
        connect_timeout: Duration::from_millis(http.connect_timeout_ms),
        request_timeout: Duration::from_millis(http.request_timeout_ms),
        idle_timeout: Duration::from_secs(http.idle_timeout_seconds),
        allow_plain_http: settings.allow_plain_http,
        tls,
        ..HttpClientConfig::default()
    })
}

fn assignment(
    entry: &crate::settings::EgressAddressSettings,
    scope: EgressScope,
) -> EgressAssignment {
    let binding = entry.binding();
    EgressAssignment {
        bind: binding.local,
        public: binding.public,
        scope,
    }
}

impl Connector {
    async fn account(
        &self,
        user: UserId,
        account: AccountId,
    ) -> Result<BrokerAccount, ConnectorError> {
        self.inner
            .store
            .account(user, account)
            .await?
            .ok_or(ConnectorError::AccountNotFound)
    }

    fn slot(&self, account: AccountId) -> Slot {
        Arc::clone(lock(&self.inner.live).entry(account).or_default())
    }

    /// The cached broker when the account has not changed since it was built and its
    /// session is usable, else a new one.
    async fn live(&self, user: UserId, id: AccountId) -> Result<LiveBroker, ConnectorError> {
        let account = self.account(user, id).await?;
        if account.status == AccountStatus::Disabled {
            return Err(ConnectorError::AccountDisabled);
        }
        let slot = self.slot(id);
        let mut cached = slot.lock().await;
        if let Some(live) = cached.as_ref()
            && live.updated_at == account.updated_at
            && self.still_usable(&live.broker).await
        {
            return Ok(live.broker.clone());
        }
        *cached = None;
        let broker = self.build(&account).await?;
        *cached = Some(Live {
            updated_at: account.updated_at,
            broker: broker.clone(),
        });
        Ok(broker)
    }

    /// Angel One renews its own session; a Zerodha session that has expired needs the
    /// holder's login, which a rebuild reports.
    async fn still_usable(&self, broker: &LiveBroker) -> bool {
        match broker {
            LiveBroker::AngelOne(_) => true,
            LiveBroker::Zerodha(zerodha) => zerodha
                .session_tokens()
                .await
                .is_some_and(|tokens| tokens.is_valid_at(self.inner.clock.now())),
        }
    }

    async fn build(&self, account: &BrokerAccount) -> Result<LiveBroker, ConnectorError> {
        let (user, id) = (account.user_id, account.id);
        let http = self.client_of(account)?;
        let credentials = self.inner.store.credentials(user, id).await?;
        let now = self.inner.clock.now();
        let tokens = self
            .inner
            .store
            .session(user, id)
            .await?
            .filter(|tokens| tokens.is_valid_at(now));
        let options = self.options(credentials.kind(), http, id);
        match credentials {
            BrokerCredentials::AngelOne(credentials) => {
                let gate = StoreLoginGate {
                    store: Arc::clone(&self.inner.store),
                    user,
                    account: id,
                    holder: Arc::clone(&self.inner.holder),
                    clock: self.inner.clock.clone(),
                };
                let options = options.with_login_gate(Arc::new(gate));
                let broker = AngelOne::connect(credentials, tokens, &options)?;
                Ok(LiveBroker::AngelOne(Arc::new(broker)))
            }
            BrokerCredentials::Zerodha(credentials) => {
                if let Some(tokens) = tokens {
                    let listener = self.kite_session_listener(user, id, tokens.clone());
                    let options = options.with_session_listener(listener);
                    let zerodha = Zerodha::connect(&credentials, Some(tokens), &options)?;
                    return Ok(LiveBroker::Zerodha(Arc::new(zerodha)));
                }
                let zerodha = Zerodha::connect(&credentials, None, &options)?;
                if account.status != AccountStatus::NeedsLogin {
                    self.inner
                        .store
                        .set_status(user, id, AccountStatus::NeedsLogin)
                        .await?;
                }
                Err(ConnectorError::NeedsLogin {
                    login_url: self.login_url_of(&zerodha, user, id),
                })
            }
            other => Err(ConnectorError::Store(
                vault::StoreError::UnsupportedBroker {
                    broker: other.kind(),
                },
            )),
        }
    }

    /// The client of the account's egress address, checked against the pool, the user's
    /// scope and this machine.
    fn client_of(&self, account: &BrokerAccount) -> Result<HttpClient, ConnectorError> {
        let ip = account.egress_ip.ok_or(ConnectorError::NoEgressIp)?;
        let entry = self
            .inner
            .pool
            .by_bind(ip)
            .ok_or(ConnectorError::EgressNotInPool { ip })?;
        let scope = self.inner.pool.scope_of(account.user_id);
        if !EgressPool::allows(entry, &scope) || self.held_by_other(ip, &scope) {
            return Err(ConnectorError::EgressNotAllowed { ip });
        }
        if !self.inner.owned.contains(&ip) {
            return Err(ConnectorError::AddressNotOwned { bind: ip });
        }
        let mut clients = lock(&self.inner.clients);
        if let Some(client) = clients.get(&ip) {
            return Ok(client.clone());
        }
        let client = HttpClientConfig {
            egress: Some(entry.binding()),
            ..self.inner.client_config.clone()
        }
        .build()
        .map_err(SettingsError::from)?;
        clients.insert(ip, client.clone());
        Ok(client)
    }

    fn held_by_other(&self, ip: IpAddr, scope: &EgressScope) -> bool {
        self.inner
            .address_claims
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&ip)
            .is_some_and(|holder| *holder != scope.key())
    }

    /// The configured URLs and policy of `broker`.
    fn endpoints(&self, broker: BrokerKind) -> &BrokerEndpointSettings {
        match broker {
            BrokerKind::Zerodha => &self.inner.settings.zerodha,
            _ => &self.inner.settings.angelone,
        }
    }

    /// The options of an account's session: the client, the broker's URLs and policy, the
    /// shared instruments, the account's own rate limiter, the clock.
    fn options(&self, broker: BrokerKind, http: HttpClient, account: AccountId) -> ConnectOptions {
        let endpoints = self.endpoints(broker);
        let mut options = ConnectOptions::new(http)
            .with_instruments(self.instruments(broker))
            .with_clock(self.inner.clock.clone());
        if let Some(url) = &endpoints.api_url {
            options = options.with_api_url(url.clone());
        }
        if let Some(url) = &endpoints.login_url {
            options = options.with_login_url(url.clone());
        }
        if let Some(policy) = &endpoints.policy {
            options = options.with_policy(policy.clone());
        }
        let limiter = {
            let mut limiters = lock(&self.inner.limiters);
            Arc::clone(limiters.entry(account).or_insert_with(|| {
                let defaults = match broker {
                    BrokerKind::Zerodha => broker_zerodha::default_quota_rules(),
                    _ => broker_angelone::default_quota_rules(),
                };
                options.rate_limiter_or(broker, defaults)
            }))
        };
        options.with_rate_limiter(limiter)
    }

    /// Hears of the end of the Kite session `resumed` (Kite refused it): forgets it and marks
    /// the account `needs_login`, unless the store holds another session by then (the
    /// holder logged in again). Angel One needs no listener: its sessions are stored by the
    /// login gate.
    fn kite_session_listener(
        &self,
        user: UserId,
        account: AccountId,
        resumed: SessionTokens,
    ) -> broker_core::SharedSessionListener {
        let store = Arc::clone(&self.inner.store);
        Arc::new(move |change: SessionChange| {
            if !matches!(change, SessionChange::Ended) {
                return;
            }
            let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                return;
            };
            let (store, resumed) = (Arc::clone(&store), resumed.clone());
            runtime.spawn(async move {
                let ended = async {
                    let stored = store.session(user, account).await?;
                    let same = stored.is_some_and(|stored| {
                        stored.access_token().expose_secret()
                            == resumed.access_token().expose_secret()
                    });
                    if same {
                        store.clear_session(user, account).await?;
                        store
                            .set_status(user, account, AccountStatus::NeedsLogin)
                            .await?;
                    }
                    Ok::<_, vault::StoreError>(())
                };
                if let Err(error) = ended.await {
                    tracing::warn!(%account, %error, "could not record the end of a Kite session");
                }
            });
        })
    }

    fn login_url_of(&self, zerodha: &Zerodha, user: UserId, account: AccountId) -> String {
        let ttl = chrono::Duration::seconds(
            i64::try_from(self.inner.settings.kite_state_ttl_seconds).unwrap_or(i64::MAX / 2),
        );
        let expires_at = self.inner.clock.now() + ttl;
        let state = self.inner.state_signer.sign(user, account, expires_at);
        zerodha.login_url(&[("state", &state)]).to_string()
    }

    /// Runs the whitelist probe on a live broker.
    async fn probe(
        &self,
        user: UserId,
        account: AccountId,
        live: &LiveBroker,
    ) -> Result<Verification, ConnectorError> {
        match broker_core::verify_whitelisted(&*live.broker()).await {
            Ok(()) => Ok(Verification::Connected),
            Err(error) => self.refusal(user, account, &error).await,
        }
    }

    /// The verification outcome of a broker's refusal.
    async fn refusal(
        &self,
        user: UserId,
        account: AccountId,
        error: &broker_core::BrokerError,
    ) -> Result<Verification, ConnectorError> {
        let stored = self.account(user, account).await?;
        let public = stored
            .egress_ip
            .and_then(|ip| self.inner.pool.by_bind(ip))
            .map(|entry| entry.binding().public)
            .ok_or(ConnectorError::NoEgressIp)?;
        let login_url = if stored.broker == BrokerKind::Zerodha && error.needs_login() {
            self.inner.store.clear_session(user, account).await?;
            Some(self.kite_login_url(user, account).await?)
        } else {
            None
        };
        Ok(Verification::from_refusal(
            error,
            stored.broker,
            public,
            || login_url.unwrap_or_default(),
        ))
    }

    /// Sets the account's status from a verification and drops the cached broker if it
    /// failed.
    async fn record(
        &self,
        user: UserId,
        account: AccountId,
        verification: &Verification,
    ) -> Result<(), ConnectorError> {
        self.inner
            .store
            .set_status(user, account, verification.status())
            .await?;
        tracing::info!(%account, status = %verification.status(), "account verified");
        if verification.status() != AccountStatus::Active {
            self.invalidate(account);
        }
        Ok(())
    }

    /// The account's current address, when its scope may still use it (a shared address
    /// only while the scope holds its claim, which is taken if free).
    async fn kept(
        &self,
        ip: IpAddr,
        scope: &EgressScope,
    ) -> Result<Option<EgressAssignment>, ConnectorError> {
        let Some(entry) = self.inner.pool.by_bind(ip) else {
            return Ok(None);
        };
        let usable = match &entry.reserved_for {
            Some(reserved) => reserved == scope,
            None => self.claim_address(entry.bind, scope).await?,
        };
        Ok(usable.then(|| assignment(entry, scope.clone())))
    }

    /// The reserved address of the scope, else the first shared one it can claim.
    async fn choose(&self, scope: &EgressScope) -> Result<EgressAssignment, ConnectorError> {
        let pool = &self.inner.pool;
        if let Some(entry) = pool.reserved(scope) {
            return Ok(assignment(entry, scope.clone()));
        }
        for entry in pool.shared_order(scope) {
            if self.claim_address(entry.bind, scope).await? {
                return Ok(assignment(entry, scope.clone()));
            }
        }
        Err(ConnectorError::PoolExhausted {
            addresses: pool.shared_count(),
            in_use: pool.shared_count(),
        })
    }

    /// Claims the shared address `bind` for `scope` in the store (granted when free or the
    /// scope's already) and remembers who holds it.
    async fn claim_address(
        &self,
        bind: IpAddr,
        scope: &EgressScope,
    ) -> Result<bool, ConnectorError> {
        let key = scope.key();
        let claimed = self
            .inner
            .store
            .claim(
                &address_claim(bind),
                &key,
                chrono::DateTime::<chrono::Utc>::MAX_UTC,
                self.inner.clock.now(),
            )
            .await?;
        let holder = match claimed {
            ClaimOutcome::Granted => key,
            ClaimOutcome::HeldBy(claim) => claim.holder,
        };
        let granted = holder == scope.key();
        self.inner
            .address_claims
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(bind, holder);
        Ok(granted)
    }

    async fn complete(
        &self,
        state: &str,
        expected: Option<AccountId>,
        request_token: &str,
    ) -> Result<KiteLoginCompleted, ConnectorError> {
        let now = self.inner.clock.now();
        let signed = self.inner.state_signer.verify(state, now)?;
        if expected.is_some_and(|account| account != signed.account) {
            return Err(BadState::OtherAccount.into());
        }
        let (user, account) = (signed.user, signed.account);
        // Everything that can be wrong with the account is found before the state is used
        // up, so a redirect sent to the wrong machine can be sent on to the right one.
        let stored = self.account(user, account).await?;
        if stored.broker != BrokerKind::Zerodha {
            return Err(ConnectorError::AccountNotFound);
        }
        let http = self.client_of(&stored)?;
        let BrokerCredentials::Zerodha(credentials) =
            self.inner.store.credentials(user, account).await?
        else {
            return Err(ConnectorError::AccountNotFound);
        };
        let consumed = self
            .inner
            .store
            .claim(
                &nonce_claim(&signed.nonce),
                &uuid::Uuid::new_v4().to_string(),
                signed.expires_at,
                now,
            )
            .await?;
        if !consumed.is_granted() {
            return Err(BadState::Replayed.into());
        }
        let options = self.options(BrokerKind::Zerodha, http, account);
        let zerodha = Zerodha::connect(&credentials, None, &options)?;
        let tokens = zerodha
            .complete_login(&SecretString::from(request_token.to_owned()))
            .await?;
        self.inner
            .store
            .save_session(user, account, &tokens)
            .await?;
        tracing::info!(%account, "Kite login completed");
        let verification = self.verify(user, account).await?;
        Ok(KiteLoginCompleted {
            user,
            account,
            verification,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connector_is_cheap_to_share() {
        fn assert_shareable<T: Clone + Send + Sync + 'static>() {}
        assert_shareable::<Connector>();
    }
}
