//! The simulators, a vault and a connector on them, as the worker uses them in production.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;
use std::sync::Arc;

use broker_connect::{Connector, ConnectorSettings, EgressAddressSettings, EgressScope};
use broker_core::sim::SimListen;
use broker_core::{
    AngelOneCredentials, BrokerCredentials, BrokerKind, Exchange, HttpClientConfig, Instrument,
    InstrumentIndex, InstrumentKind, SessionTokens, TlsConfig, ZerodhaCredentials,
};
use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use serde_json::json;
use tempfile::TempDir;
use vault::{AccountId, CredentialStore, FileBackend, KeyId, KeyMaterial, Keyring, UserId, Vault};

pub const ANGEL_MPIN: &str = "48317265";
pub const ANGEL_TOTP: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

pub fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn listen(tls: bool) -> SimListen {
    if tls {
        SimListen::loopback().https()
    } else {
        SimListen::loopback()
    }
}

/// Each Angel One client has an app of its own.
pub fn angel_api_key(client: &str) -> String {
    format!("angelKEY{client}")
}

/// One Angel One client per (client code, registered address).
pub async fn angel_sim(tls: bool, clients: &[(&str, &str)]) -> broker_angelone::sim::Simulator {
    use broker_angelone::sim::{SimAccount, SimConfig, Simulator};
    let accounts = clients.iter().map(|(client, registered)| {
        SimAccount::new(angel_api_key(client), *client, ANGEL_MPIN, ANGEL_TOTP)
            .with_registered_ip(ip(registered))
    });
    Simulator::start(
        SimConfig::new(accounts)
            .without_quotas()
            .with_listen(listen(tls)),
    )
    .await
    .unwrap()
}

/// One Kite app per (api key, user, allowed address).
pub async fn kite_sim(tls: bool, apps: &[(&str, &str, &str)]) -> broker_zerodha::sim::Simulator {
    use broker_zerodha::sim::{SimAccount, SimConfig, Simulator};
    let accounts = apps
        .iter()
        .map(|(key, user, allowed)| {
            SimAccount::new(*key, format!("{key}secret"), *user).with_allowed_ips([ip(allowed)])
        })
        .collect();
    Simulator::start(
        SimConfig {
            accounts,
            listen: listen(tls),
            ..SimConfig::default()
        }
        .without_quotas(),
    )
    .await
    .unwrap()
}

pub fn angel_credentials(client: &str) -> BrokerCredentials {
    BrokerCredentials::AngelOne(
        AngelOneCredentials::new(
            SecretString::from(angel_api_key(client)),
            client,
            SecretString::from(ANGEL_MPIN),
            SecretString::from(ANGEL_TOTP),
        )
        .unwrap(),
    )
}

pub fn kite_credentials(key: &str) -> BrokerCredentials {
    BrokerCredentials::Zerodha(
        ZerodhaCredentials::new(
            SecretString::from(key.to_owned()),
            SecretString::from(format!("{key}secret")),
        )
        .unwrap(),
    )
}

/// A file vault, and connector settings reaching the simulators from `addresses`.
pub struct World {
    pub store: Arc<dyn CredentialStore>,
    pub settings: ConnectorSettings,
    _dir: TempDir,
}

impl World {
    pub fn new(
        angel: &broker_angelone::sim::Simulator,
        kite: &broker_zerodha::sim::Simulator,
        addresses: &[(&str, UserId)],
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let keyring = Keyring::new(KeyId::new("kid0").unwrap(), &KeyMaterial::generate());
        let store: Arc<dyn CredentialStore> = Arc::new(Vault::new(
            FileBackend::open(dir.path().join("vault")).unwrap(),
            keyring,
        ));
        let mut settings = ConnectorSettings::default();
        settings.allow_plain_http = true;
        settings.egress.addresses = addresses
            .iter()
            .map(|(address, user)| {
                let mut entry = EgressAddressSettings::new(ip(address));
                entry.reserved_for = Some(EgressScope::User(*user));
                entry
            })
            .collect();
        settings.angelone.api_url = Some(angel.url());
        settings.zerodha.api_url = Some(kite.url());
        settings.zerodha.login_url = Some(kite.login_page());
        let pems = [angel.certificate_pem(), kite.certificate_pem()];
        for (index, pem) in pems.into_iter().flatten().enumerate() {
            let path = dir.path().join(format!("sim{index}.pem"));
            std::fs::write(&path, pem).unwrap();
            settings.extra_root_certificates.push(path);
        }
        Self {
            store,
            settings,
            _dir: dir,
        }
    }

    pub async fn connector(&self) -> Connector {
        let connector = Connector::new(
            self.store.clone(),
            self.settings.clone(),
            SecretSlice::from(vec![42u8; 32]),
        )
        .await
        .unwrap();
        load_instruments(&connector);
        connector
    }
}

fn load_instruments(connector: &Connector) {
    let master = include_str!("../../../../broker-angelone/src/sim/scrip_master.json");
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

/// The user's new account, with auto-execute on and its egress address assigned.
pub async fn tenant(
    connector: &Connector,
    user: UserId,
    credentials: &BrokerCredentials,
) -> AccountId {
    let store = connector.store();
    let account = store.create_account(user, credentials).await.unwrap();
    connector.assign_egress(user, account.id).await.unwrap();
    store
        .set_auto_execute(user, account.id, true)
        .await
        .unwrap();
    account.id
}

/// The account holder's Kite login, completed through the connector.
pub async fn kite_login(
    connector: &Connector,
    kite: &broker_zerodha::sim::Simulator,
    user: UserId,
    account: AccountId,
) {
    let login_url = connector.kite_login_url(user, account).await.unwrap();
    let mut config = HttpClientConfig::default().allow_plain_http();
    if let Some(pem) = kite.certificate_pem() {
        config.tls = TlsConfig::with_extra_roots(pem.as_bytes()).unwrap();
    }
    let http = config.build().unwrap();
    let redirect =
        broker_zerodha::sim::browser_login(http.client(), url::Url::parse(&login_url).unwrap())
            .await
            .unwrap();
    let state = redirect.param("state").unwrap().to_owned();
    connector
        .complete_kite_login(&state, redirect.request_token().expose_secret())
        .await
        .unwrap();
}

/// Replaces the stored Kite session by the same token expired a minute ago.
pub async fn expire_stored_session(connector: &Connector, user: UserId, account: AccountId) {
    let stored = connector
        .store()
        .session(user, account)
        .await
        .unwrap()
        .unwrap();
    let past = chrono::Utc::now() - chrono::Duration::minutes(1);
    let expired = SessionTokens::new(stored.access_token().clone(), past).unwrap();
    connector
        .store()
        .save_session(user, account, &expired)
        .await
        .unwrap();
    connector.invalidate(account);
}

/// A limit buy that rests: Angel One's SBIN-EQ at 790, Kite's SBIN at 800.
pub fn resting_buy(broker: BrokerKind) -> serde_json::Value {
    let (symbol, price) = match broker {
        BrokerKind::Zerodha => ("SBIN", "800"),
        _ => ("SBIN-EQ", "790"),
    };
    json!({
        "instrument": {"exchange": "NSE", "trading_symbol": symbol},
        "side": "buy", "order_type": "limit", "product": "delivery",
        "quantity": 1, "price": price
    })
}
