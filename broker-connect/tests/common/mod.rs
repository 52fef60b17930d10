//! Shared fixtures: stores (file or a fresh Postgres schema), the two simulators over HTTP or
//! HTTPS, connectors on them.
#![allow(dead_code)] // each test binary uses its own subset
#![allow(clippy::unwrap_used, clippy::expect_used)] // fixtures: fail loudly

use std::net::IpAddr;
use std::sync::Arc;

use broker_connect::{Connector, ConnectorSettings, EgressAddressSettings};
use broker_core::sim::SimListen;
use broker_core::{
    AngelOneCredentials, BrokerCredentials, BrokerKind, Exchange, HttpClientConfig, Instrument,
    InstrumentIndex, InstrumentKind, InstrumentRef, OrderRequest, OrderType, Product, Side,
    TlsConfig, ZerodhaCredentials,
};
use rust_decimal::Decimal;
use secrecy::{SecretSlice, SecretString};
use sqlx::Executor;
use tempfile::TempDir;
use vault::{
    AccountId, CredentialStore, FileBackend, KeyId, KeyMaterial, Keyring, PostgresBackend, UserId,
    Vault,
};

pub const ANGEL_API_KEY: &str = "angelKEYq7f3a9zz";
pub const ANGEL_CLIENT: &str = "S7788";
/// Eight digits, so it cannot turn up by chance in ids and timestamps of a log line.
pub const ANGEL_MPIN: &str = "48317265";
pub const ANGEL_TOTP: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
/// Another valid TOTP secret, which the simulator does not expect.
pub const WRONG_TOTP: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
pub const KITE_API_KEY: &str = "kiteKEYx81mq";
pub const KITE_API_SECRET: &str = "kiteSECRETp39vk2";
pub const KITE_USER: &str = "ZX4242";

/// Where the store lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backing {
    File,
    Postgres,
}

/// One store, opened as often as a test wants (each opening is what another process on the
/// same store would have).
pub struct StoreFixture {
    keyring: Keyring,
    place: Place,
}

enum Place {
    File(TempDir),
    Postgres { url: String, schema: String },
}

/// `DATABASE_URL`, or `None` with the reason printed; with `CI=true` a missing URL fails.
pub fn database_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
            panic!("DATABASE_URL must be set when CI=true: the Postgres cases may not be skipped")
        }
        Err(_) => {
            eprintln!("skipping a Postgres case: DATABASE_URL is not set");
            None
        }
    }
}

impl StoreFixture {
    pub async fn new(backing: Backing) -> Option<Self> {
        let keyring = Keyring::new(KeyId::new("kid0").unwrap(), &KeyMaterial::generate());
        let place = match backing {
            Backing::File => Place::File(tempfile::tempdir().unwrap()),
            Backing::Postgres => Place::Postgres {
                url: database_url()?,
                schema: format!("connect_test_{}", uuid::Uuid::new_v4().simple()),
            },
        };
        Some(Self { keyring, place })
    }

    /// A new view of the store, as another process would open it.
    pub async fn open(&self) -> Arc<dyn CredentialStore> {
        match &self.place {
            Place::File(dir) => Arc::new(Vault::new(
                FileBackend::open(dir.path().join("vault")).unwrap(),
                self.keyring.clone(),
            )),
            Place::Postgres { url, schema } => Arc::new(Vault::new(
                PostgresBackend::connect_in_schema(url, schema)
                    .await
                    .unwrap(),
                self.keyring.clone(),
            )),
        }
    }

    /// Drops the Postgres schema.
    pub async fn finish(self) {
        if let Place::Postgres { url, schema } = &self.place {
            let admin = sqlx::PgPool::connect(url).await.unwrap();
            admin
                .execute(format!("DROP SCHEMA {schema} CASCADE").as_str())
                .await
                .unwrap();
        }
    }
}

pub fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

pub fn listen(tls: bool) -> SimListen {
    if tls {
        SimListen::loopback().https()
    } else {
        SimListen::loopback()
    }
}

pub fn angel_credentials(mpin: &str, totp: &str) -> BrokerCredentials {
    BrokerCredentials::AngelOne(
        AngelOneCredentials::new(
            SecretString::from(ANGEL_API_KEY),
            ANGEL_CLIENT,
            SecretString::from(mpin.to_owned()),
            SecretString::from(totp.to_owned()),
        )
        .unwrap(),
    )
}

pub fn kite_credentials() -> BrokerCredentials {
    BrokerCredentials::Zerodha(
        ZerodhaCredentials::new(
            SecretString::from(KITE_API_KEY),
            SecretString::from(KITE_API_SECRET),
        )
        .unwrap(),
    )
}

/// An Angel One simulator whose one account registered `registered`, without quotas (tests
/// log several connectors in within a second).
pub async fn angel_sim(tls: bool, registered: &str) -> broker_angelone::sim::Simulator {
    use broker_angelone::sim::{SimAccount, SimConfig, Simulator};
    let account = SimAccount::new(ANGEL_API_KEY, ANGEL_CLIENT, ANGEL_MPIN, ANGEL_TOTP)
        .with_registered_ip(ip(registered));
    Simulator::start(
        SimConfig::new([account])
            .without_quotas()
            .with_listen(listen(tls)),
    )
    .await
    .unwrap()
}

/// A Kite simulator whose one app allows orders from `allowed`.
pub async fn kite_sim(tls: bool, allowed: &str) -> broker_zerodha::sim::Simulator {
    use broker_zerodha::sim::{SimAccount, SimConfig, Simulator};
    let account =
        SimAccount::new(KITE_API_KEY, KITE_API_SECRET, KITE_USER).with_allowed_ips([ip(allowed)]);
    Simulator::start(
        SimConfig {
            accounts: vec![account],
            listen: listen(tls),
            ..SimConfig::default()
        }
        .without_quotas(),
    )
    .await
    .unwrap()
}

/// What the connectors of a test are configured with.
pub struct Setup {
    pub settings: ConnectorSettings,
    /// Holds the certificate files.
    _certificates: TempDir,
}

impl Setup {
    /// Settings reaching whichever simulators are given, over the addresses `addresses`.
    pub fn new(
        angel: Option<&broker_angelone::sim::Simulator>,
        kite: Option<&broker_zerodha::sim::Simulator>,
        addresses: &[&str],
    ) -> Self {
        let certificates = tempfile::tempdir().unwrap();
        let mut settings = ConnectorSettings::default();
        settings.allow_plain_http = true;
        settings.egress.addresses = addresses
            .iter()
            .map(|address| EgressAddressSettings::new(ip(address)))
            .collect();
        let mut pems = Vec::new();
        if let Some(angel) = angel {
            settings.angelone.api_url = Some(angel.url());
            pems.extend(angel.certificate_pem().map(str::to_owned));
        }
        if let Some(kite) = kite {
            settings.zerodha.api_url = Some(kite.url());
            settings.zerodha.login_url = Some(kite.login_page());
            pems.extend(kite.certificate_pem().map(str::to_owned));
        }
        for (index, pem) in pems.iter().enumerate() {
            let path = certificates.path().join(format!("sim{index}.pem"));
            std::fs::write(&path, pem).unwrap();
            settings.extra_root_certificates.push(path);
        }
        Self {
            settings,
            _certificates: certificates,
        }
    }
}

pub fn state_key() -> SecretSlice<u8> {
    SecretSlice::from(vec![42u8; 32])
}

/// A connector on `store` with the settings, its instrument indexes loaded.
pub async fn connector(store: Arc<dyn CredentialStore>, settings: &ConnectorSettings) -> Connector {
    let connector = Connector::new(store, settings.clone(), state_key())
        .await
        .unwrap();
    load_instruments(&connector);
    connector
}

pub fn load_instruments(connector: &Connector) {
    let master = include_str!("../../../broker-angelone/src/sim/scrip_master.json");
    connector.instruments(BrokerKind::AngelOne).replace(
        broker_angelone::parse_instruments(master.as_bytes())
            .unwrap()
            .index,
    );
    let sbin = Instrument {
        exchange: Exchange::Nse,
        trading_symbol: "SBIN".into(),
        broker_token: "779521".into(),
        exchange_token: "779521".into(),
        name: "SBIN".into(),
        kind: InstrumentKind::Equity,
        lot_size: 1,
        tick_size: Decimal::new(5, 2),
        expiry: None,
        strike: None,
    };
    let index: InstrumentIndex = [sbin].into_iter().collect();
    connector.instruments(BrokerKind::Zerodha).replace(index);
}

/// An account of a new user, assigned its egress address.
pub async fn angel_account(
    connector: &Connector,
    credentials: &BrokerCredentials,
) -> (UserId, AccountId) {
    let user = UserId::new_random();
    (user, account_of(connector, user, credentials).await)
}

/// A new account of `user`, assigned its egress address.
pub async fn account_of(
    connector: &Connector,
    user: UserId,
    credentials: &BrokerCredentials,
) -> AccountId {
    let account = connector
        .store()
        .create_account(user, credentials)
        .await
        .unwrap();
    connector.assign_egress(user, account.id).await.unwrap();
    account.id
}

/// A limit buy that rests: Angel One's SBIN-EQ at 790 (last 801.05), or Kite's SBIN at 800.
pub fn limit_buy(broker: BrokerKind) -> OrderRequest {
    let (symbol, price) = match broker {
        BrokerKind::Zerodha => ("SBIN", Decimal::new(800, 0)),
        _ => ("SBIN-EQ", Decimal::new(790, 0)),
    };
    OrderRequest::builder()
        .instrument(InstrumentRef::new(Exchange::Nse, symbol))
        .side(Side::Buy)
        .order_type(OrderType::Limit)
        .product(Product::Delivery)
        .quantity(1)
        .price(price)
        .build()
        .unwrap()
}

/// What the account holder's browser does: opens the login page, returns the redirect's
/// state and request token.
pub async fn browser_login(
    kite: &broker_zerodha::sim::Simulator,
    login_url: &str,
) -> (String, String) {
    let mut config = HttpClientConfig::default().allow_plain_http();
    if let Some(pem) = kite.certificate_pem() {
        config.tls = TlsConfig::with_extra_roots(pem.as_bytes()).unwrap();
    }
    let http = config.build().unwrap();
    let redirect =
        broker_zerodha::sim::browser_login(http.client(), url::Url::parse(login_url).unwrap())
            .await
            .unwrap();
    let state = redirect.param("state").unwrap().to_owned();
    let token = secrecy::ExposeSecret::expose_secret(redirect.request_token()).to_owned();
    (state, token)
}

/// The `state` inside a Kite login URL (in its `redirect_params`).
pub fn url_state(login_url: &str) -> String {
    let url = url::Url::parse(login_url).unwrap();
    let params = url
        .query_pairs()
        .find(|(key, _)| key == "redirect_params")
        .unwrap()
        .1
        .into_owned();
    url::form_urlencoded::parse(params.as_bytes())
        .find(|(key, _)| key == "state")
        .unwrap()
        .1
        .into_owned()
}

/// One async test per backing and transport: `file_http`, `file_https`, `postgres_http`,
/// `postgres_https`, each calling `case(Backing, tls)`.
#[macro_export]
macro_rules! matrix {
    ($($case:ident),* $(,)?) => {
        $crate::matrix!(@one file_http, $crate::common::Backing::File, false; $($case),*);
        $crate::matrix!(@one file_https, $crate::common::Backing::File, true; $($case),*);
        $crate::matrix!(@one postgres_http, $crate::common::Backing::Postgres, false; $($case),*);
        $crate::matrix!(@one postgres_https, $crate::common::Backing::Postgres, true; $($case),*);
    };
    (@one $module:ident, $backing:expr, $tls:expr; $($case:ident),*) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($backing, $tls).await;
                }
            )*
        }
    };
}
