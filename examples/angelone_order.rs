//! An Angel One order from stored credentials.
//!
//! Onboarding stores the account's credentials encrypted in the vault and gives it its own
//! egress address; later (here: a new connector, as another process would open the store) the
//! connector decrypts them, logs in with MPIN + TOTP from that address and places the order.
//!
//! ```sh
//! cargo run -p broker-examples --example angelone_order
//! ```

use std::net::IpAddr;
use std::sync::Arc;

use broker_angelone::sim::{SimAccount, SimConfig, Simulator};
use broker_connect::{Connector, ConnectorSettings, EgressAddressSettings, Verification};
use broker_core::{
    AngelOneCredentials, BrokerCredentials, Exchange, InstrumentRef, OrderRequest, OrderType,
    Product, Side,
};
use broker_examples::{Outcome, ensure, kite_state_key, simulator_http, simulator_settings};
use rust_decimal::Decimal;
use secrecy::{SecretSlice, SecretString};
use vault::{CredentialStore, FileBackend, KeyId, KeyMaterial, Keyring, UserId, Vault};

/// The address this account's orders leave from. Any 127.0.0.x is local on Linux; in
/// production it is a static public IP of this machine (see docs/operations.md).
const EGRESS: &str = "127.0.0.2";

/// What the user gives at onboarding: their SmartAPI app's key, their client code, MPIN and
/// the TOTP secret shown when they enabled TOTP (the simulator knows the same).
const API_KEY: &str = "angelKEY7q3f";
const CLIENT_CODE: &str = "S7788";
const MPIN: &str = "4831";
const TOTP_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

#[tokio::main]
async fn main() -> Outcome {
    let egress: IpAddr = EGRESS.parse()?;

    // The broker: Angel One's simulator knows one client, whose SmartAPI app registered our
    // egress address as its static IP.
    let angel_one = Simulator::start(SimConfig::new([SimAccount::new(
        API_KEY,
        CLIENT_CODE,
        MPIN,
        TOTP_SECRET,
    )
    .with_registered_ip(egress)]))
    .await?;

    // The vault: a file store in a data directory and a key. In production the key comes
    // from `brokerctl keys generate` through `Keyring::from_file` or `Keyring::from_env`.
    let data = tempfile::tempdir()?;
    let keyring = Keyring::new(KeyId::new("k1")?, &KeyMaterial::generate());
    let store: Arc<dyn CredentialStore> = Arc::new(
        Vault::open(
            FileBackend::open(data.path().join("vault"))?,
            keyring.clone(),
        )
        .await?,
    );

    // The connector: the egress pool of this machine, and where the broker is.
    let mut settings = simulator_settings(Some(&angel_one), None);
    settings
        .egress
        .addresses
        .push(EgressAddressSettings::new(egress));
    let state_key = kite_state_key();
    let connector = Connector::new(store, settings.clone(), state_key.clone()).await?;

    // Onboarding: store the user's credentials, give the account its address, verify.
    let user = UserId::new_random();
    let credentials = AngelOneCredentials::new(
        SecretString::from(API_KEY),
        CLIENT_CODE,
        SecretString::from(MPIN),
        SecretString::from(TOTP_SECRET),
    )?;
    let account = connector
        .store()
        .create_account(user, &BrokerCredentials::AngelOne(credentials))
        .await?;
    let egress_assigned = connector.assign_egress(user, account.id).await?;
    println!(
        "account {} stored; it trades from {}",
        account.id, egress_assigned.public
    );
    // Logs in from the egress address and probes the whitelist without placing anything.
    let verification = connector.verify(user, account.id).await?;
    println!("verification: {verification:?}");
    ensure(
        verification == Verification::Connected,
        "the account verified as connected",
    )?;

    // Later, at the slot, in another process: the same store and key, a new connector.
    let order_id = place_from_store(
        Arc::new(Vault::open(FileBackend::open(data.path().join("vault"))?, keyring).await?),
        settings,
        state_key,
        &angel_one,
        user,
        account.id,
    )
    .await?;
    println!("order placed: {order_id}");

    // The broker holds the order, sent from the account's own address.
    let accepted = angel_one.accepted_orders();
    ensure(
        accepted
            .iter()
            .any(|order| order.order_id == order_id && order.peer == egress),
        "the simulator accepted the order from the account's egress address",
    )
}

/// Connects the stored account (credentials decrypted, MPIN + TOTP login from its egress
/// address) and places a limit buy of one SBIN share.
async fn place_from_store(
    store: Arc<dyn CredentialStore>,
    settings: ConnectorSettings,
    state_key: SecretSlice<u8>,
    angel_one: &Simulator,
    user: UserId,
    account: vault::AccountId,
) -> Outcome<String> {
    let connector = Connector::new(store, settings, state_key).await?;
    // Orders are checked against the instrument master: load it first (once a day).
    let instruments = broker_examples::load_angelone_master(
        &connector,
        &simulator_http()?,
        &angel_one.scrip_master_url(),
    )
    .await?;
    println!("scrip master loaded: {instruments} instruments");

    let broker = connector.connect(user, account).await?;
    // Angel One accepts limit orders only from API clients since April 2026: the pre-trade
    // policy refuses a market order before anything is sent.
    let order = OrderRequest::builder()
        .instrument(InstrumentRef::new(Exchange::Nse, "SBIN-EQ"))
        .side(Side::Buy)
        .order_type(OrderType::Limit)
        .product(Product::Delivery)
        .quantity(1)
        .price(Decimal::new(790, 0))
        .build()?;
    let placement = broker.place_order(&order).await?;
    Ok(placement.order_id.to_string())
}
