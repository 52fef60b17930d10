//! The Zerodha login flow.
//!
//! Kite Connect has no unattended login: every day the account holder logs in at Kite's login
//! page, which redirects their browser to your app with a `request_token`. The connector signs
//! a `state` into the login URL (user, account, expiry, single-use nonce), and your callback
//! hands the redirect's `state` and `request_token` back to it: it checks the state, exchanges
//! the token from the account's egress address, stores the session and verifies the account.
//!
//! ```sh
//! cargo run -p broker-examples --example zerodha_login
//! ```

use std::net::IpAddr;
use std::sync::Arc;

use broker_connect::{Connector, ConnectorError, EgressAddressSettings, Verification};
use broker_core::{
    BrokerCredentials, Exchange, InstrumentRef, OrderRequest, OrderType, Product, Side,
    ZerodhaCredentials,
};
use broker_examples::{
    Outcome, browser_login, ensure, kite_state_key, load_kite_master, simulator_http,
    simulator_settings,
};
use broker_zerodha::sim::{SimAccount, SimConfig, Simulator};
use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretString};
use vault::{
    AccountStatus, CredentialStore, FileBackend, KeyId, KeyMaterial, Keyring, UserId, Vault,
};

/// The address this account's orders leave from (see angelone_order.rs).
const EGRESS: &str = "127.0.0.3";

/// What the user gives at onboarding: their Kite Connect app's API key and secret (the
/// simulator knows the same).
const API_KEY: &str = "kiteKEYx81mq";
const API_SECRET: &str = "kiteSECRETp39vk2";

#[tokio::main]
async fn main() -> Outcome {
    let egress: IpAddr = EGRESS.parse()?;

    // The broker: a Kite Connect app (API key and secret) of user ZX4242, whose IP whitelist
    // holds our egress address.
    let kite = Simulator::start(SimConfig {
        accounts: vec![SimAccount::new(API_KEY, API_SECRET, "ZX4242").with_allowed_ips([egress])],
        ..SimConfig::default()
    })
    .await?;

    // The vault and the connector, as in angelone_order.rs.
    let data = tempfile::tempdir()?;
    let keyring = Keyring::new(KeyId::new("k1")?, &KeyMaterial::generate());
    let store: Arc<dyn CredentialStore> =
        Arc::new(Vault::open(FileBackend::open(data.path().join("vault"))?, keyring).await?);
    let mut settings = simulator_settings(None, Some(&kite));
    settings
        .egress
        .addresses
        .push(EgressAddressSettings::new(egress));
    let connector = Connector::new(store, settings, kite_state_key()).await?;

    // Onboarding: the user gives their app's API key and secret.
    let user = UserId::new_random();
    let credentials =
        ZerodhaCredentials::new(SecretString::from(API_KEY), SecretString::from(API_SECRET))?;
    let account = connector
        .store()
        .create_account(user, &BrokerCredentials::Zerodha(credentials))
        .await?;
    connector.assign_egress(user, account.id).await?;

    // Until the holder logs in today, the account cannot trade: connecting says where to log in.
    match connector.connect(user, account.id).await {
        Err(ConnectorError::NeedsLogin { .. }) => {
            println!("no session yet: the holder must log in")
        }
        other => return Err(format!("expected NeedsLogin, got {:?}", other.map(|_| ())).into()),
    }

    // 1. Send the holder to the login URL (Kite's page, with the signed state in
    //    `redirect_params`). `verify` answers the same URL as `Verification::NeedsLogin`.
    let login_url = connector.kite_login_url(user, account.id).await?;
    println!("login URL: {login_url}");

    // 2. The holder logs in; Kite redirects their browser to your app's redirect URL with
    //    `?request_token=...&action=login&status=success&state=...`.
    let http = simulator_http()?;
    let (state, request_token) = browser_login(&http, &login_url).await?;
    println!("callback received with state {state}");

    // 3. Your callback completes the login through the connector.
    let completed = connector
        .complete_kite_login(&state, request_token.expose_secret())
        .await?;
    println!("login completed: {:?}", completed.verification);
    ensure(
        completed.verification == Verification::Connected,
        "the login verified the account",
    )?;
    let stored = connector
        .store()
        .account(user, account.id)
        .await?
        .ok_or("the account is gone")?;
    println!("account {} is {}", stored.id, stored.status);
    ensure(
        stored.status == AccountStatus::Active,
        "the account is active",
    )?;

    // A state is single use: the same redirect replayed is refused.
    let replayed = connector
        .complete_kite_login(&state, request_token.expose_secret())
        .await;
    ensure(
        matches!(replayed, Err(ConnectorError::BadState(_))),
        "a replayed state is refused",
    )?;
    println!("the same state replayed: refused");

    // The session is stored in the vault, so every process trades with it until it expires
    // (about 6 AM IST the next day). Load today's instrument master, then place an order.
    let instruments = load_kite_master(&connector, &http, &kite.url(), user, account.id).await?;
    println!("instrument master loaded: {instruments} instruments");
    let broker = connector.connect(user, account.id).await?;
    let order = OrderRequest::builder()
        .instrument(InstrumentRef::new(Exchange::Nse, "SBIN"))
        .side(Side::Buy)
        .order_type(OrderType::Limit)
        .product(Product::Delivery)
        .quantity(1)
        .price(Decimal::new(800, 0))
        .build()?;
    let placement = broker.place_order(&order).await?;
    println!("order placed: {}", placement.order_id);

    let order_id = placement.order_id.to_string();
    ensure(
        kite.accepted_orders()
            .iter()
            .any(|order| order.order_id == order_id && order.peer == egress),
        "the simulator accepted the order from the account's egress address",
    )
}
