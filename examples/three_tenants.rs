//! A slot for three tenants with the worker library.
//!
//! Asha trades at Angel One, Bala and Chitra at Zerodha; Bala logged in to Kite this morning,
//! Chitra did not. The worker's pre-flight finds Chitra's missing login before the slot and
//! notifies her; the run places Asha's and Bala's orders, each from the tenant's own egress
//! address, journals every outcome (file journal), and a second run of the same slot places
//! nothing twice.
//!
//! ```sh
//! cargo run -p broker-examples --example three_tenants
//! ```

use std::net::IpAddr;
use std::sync::Arc;

use broker_angelone::sim as angel_one_sim;
use broker_connect::{Connector, EgressAddressSettings, EgressScope};
use broker_core::{AngelOneCredentials, BrokerCredentials, ZerodhaCredentials};
use broker_examples::{
    Outcome, browser_login, ensure, kite_state_key, load_angelone_master, load_kite_master,
    simulator_http, simulator_settings,
};
use broker_worker::{
    ConnectorAccounts, ExecutionState, FileJournal, FnIntents, Notification, Notifier, OrderIntent,
    ProblemReason, Runner, Scheduler, Slot, SlotSettings, TradingCalendar,
};
use broker_zerodha::sim as kite_sim;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use vault::{AccountId, CredentialStore, FileBackend, KeyId, KeyMaterial, Keyring, UserId, Vault};

const TOTP_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

/// Your notification channel (e-mail, push, a webhook: `broker_worker::WebhookNotifier`).
/// `notify` must return at once; here it prints.
struct PrintNotifier;

impl Notifier for PrintNotifier {
    fn notify(&self, notification: &Notification) {
        match serde_json::to_string(notification) {
            Ok(json) => println!("notification: {json}"),
            Err(error) => eprintln!("notification not printable: {error}"),
        }
    }
}

#[tokio::main]
async fn main() -> Outcome {
    let (asha, bala, chitra) = (
        UserId::new_random(),
        UserId::new_random(),
        UserId::new_random(),
    );
    // Each tenant's own static IP (SEBI: shared only within a family), reserved for them in
    // the pool because it is what they registered at their broker.
    let addresses: [(IpAddr, UserId); 3] = [
        ("127.0.0.4".parse()?, asha),
        ("127.0.0.5".parse()?, bala),
        ("127.0.0.6".parse()?, chitra),
    ];
    let [(asha_ip, _), (bala_ip, _), (chitra_ip, _)] = addresses;

    // The brokers: Asha's SmartAPI app registered her address; Bala's and Chitra's Kite apps
    // whitelist theirs.
    let angel_one = angel_one_sim::Simulator::start(angel_one_sim::SimConfig::new([
        angel_one_sim::SimAccount::new("angelKEYasha", "A1001", "4831", TOTP_SECRET)
            .with_registered_ip(asha_ip),
    ]))
    .await?;
    let kite = kite_sim::Simulator::start(kite_sim::SimConfig {
        accounts: vec![
            kite_sim::SimAccount::new("kiteKEYbala", "kiteSECRETbala", "ZB1001")
                .with_allowed_ips([bala_ip]),
            kite_sim::SimAccount::new("kiteKEYchitra", "kiteSECRETchitra", "ZC1001")
                .with_allowed_ips([chitra_ip]),
        ],
        ..kite_sim::SimConfig::default()
    })
    .await?;

    // The vault and the connector with the pool.
    let data = tempfile::tempdir()?;
    let keyring = Keyring::new(KeyId::new("k1")?, &KeyMaterial::generate());
    let store: Arc<dyn CredentialStore> =
        Arc::new(Vault::open(FileBackend::open(data.path().join("vault"))?, keyring).await?);
    let mut settings = simulator_settings(Some(&angel_one), Some(&kite));
    settings.egress.addresses = addresses
        .iter()
        .map(|(ip, user)| EgressAddressSettings::new(*ip).reserved_for(EgressScope::User(*user)))
        .collect();
    let connector = Connector::new(store, settings, kite_state_key()).await?;

    // The tenants onboard (see angelone_order.rs and zerodha_login.rs) and turn auto-execute on.
    let asha_account = onboard(
        &connector,
        asha,
        BrokerCredentials::AngelOne(AngelOneCredentials::new(
            SecretString::from("angelKEYasha"),
            "A1001",
            SecretString::from("4831"),
            SecretString::from(TOTP_SECRET),
        )?),
    )
    .await?;
    let bala_account = onboard(&connector, bala, kite_credentials("bala")?).await?;
    let chitra_account = onboard(&connector, chitra, kite_credentials("chitra")?).await?;

    // This morning Bala logged in to Kite; Chitra did not.
    let http = simulator_http()?;
    let login_url = connector.kite_login_url(bala, bala_account).await?;
    let (state, request_token) = browser_login(&http, &login_url).await?;
    connector
        .complete_kite_login(&state, request_token.expose_secret())
        .await?;

    // Today's instrument masters (Kite's through a logged-in session).
    load_angelone_master(&connector, &http, &angel_one.scrip_master_url()).await?;
    load_kite_master(&connector, &http, &kite.url(), bala, bala_account).await?;

    // What each tenant trades at the slot: one limit buy of SBIN each. Intents come from any
    // source: a closure here, a TOML/JSON file (`FileIntents`) or Postgres (`PostgresIntents`).
    let intents = vec![
        intent("asha-sbin", asha, asha_account, "SBIN-EQ", "790"),
        intent("bala-sbin", bala, bala_account, "SBIN", "800"),
        intent("chitra-sbin", chitra, chitra_account, "SBIN", "800"),
    ];
    let runner = Runner::new(
        Arc::new(FileJournal::open(data.path().join("journal.jsonl"))?),
        Arc::new(ConnectorAccounts::new(connector.clone())),
        Arc::new(FnIntents::new(move |_slot| Ok(intents.clone()))),
        Arc::new(PrintNotifier),
    );
    let scheduler = Scheduler::new(runner, TradingCalendar::nse_2026(), SlotSettings::default());

    // In production `scheduler.run_until(shutdown)` runs pre-flight and each slot on every
    // trading day by itself; here both steps run now, for a trading day of the 2026 calendar.
    let trading_day = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).ok_or("bad date")?;
    let preflight = scheduler.preflight(trading_day, Slot::DEFAULT).await?;
    println!("pre-flight: {} accounts ready", preflight.ready.len());
    for (account, problem) in &preflight.problems {
        println!("pre-flight: account {account} cannot trade: {problem}");
    }
    ensure(
        preflight.problems.iter().any(|(account, problem)| {
            *account == chitra_account && problem.reason == ProblemReason::NeedsLogin
        }),
        "pre-flight found Chitra's missing Kite login",
    )?;

    let report = scheduler
        .run_on(trading_day, Slot::DEFAULT)
        .await?
        .ok_or("the exchange is closed that day")?;
    for execution in &report.executions {
        println!(
            "{}: {} (order {}, reason {})",
            execution.intent_id,
            execution.state.as_str(),
            execution
                .order_id
                .as_ref()
                .map_or("-".into(), ToString::to_string),
            execution.reason.as_deref().unwrap_or("-"),
        );
    }
    let state = |intent: &str| report.execution(intent).map(|execution| execution.state);
    ensure(
        state("asha-sbin") == Some(ExecutionState::Placed),
        "Asha's order placed",
    )?;
    ensure(
        state("bala-sbin") == Some(ExecutionState::Placed),
        "Bala's order placed",
    )?;
    ensure(
        report
            .users
            .get(&chitra)
            .is_some_and(|summary| summary.needs_login == 1),
        "Chitra's intent waits for her login",
    )?;

    // The same slot again (a restart, a second worker): the journal and the tags at the
    // brokers make sure nothing is placed twice.
    let placed_before = angel_one.accepted_orders().len() + kite.accepted_orders().len();
    scheduler.run_on(trading_day, Slot::DEFAULT).await?;
    let placed_after = angel_one.accepted_orders().len() + kite.accepted_orders().len();
    println!(
        "second run of the slot: {} new orders",
        placed_after - placed_before
    );
    ensure(
        placed_after == placed_before,
        "the second run placed nothing",
    )
}

/// Stores the tenant's account, assigns its egress address and turns auto-execute on.
async fn onboard(
    connector: &Connector,
    user: UserId,
    credentials: BrokerCredentials,
) -> Outcome<AccountId> {
    let account = connector.store().create_account(user, &credentials).await?;
    connector.assign_egress(user, account.id).await?;
    connector
        .store()
        .set_auto_execute(user, account.id, true)
        .await?;
    Ok(account.id)
}

fn kite_credentials(name: &str) -> Outcome<BrokerCredentials> {
    Ok(BrokerCredentials::Zerodha(ZerodhaCredentials::new(
        SecretString::from(format!("kiteKEY{name}")),
        SecretString::from(format!("kiteSECRET{name}")),
    )?))
}

/// A limit buy of one share, in `OrderRequest`'s serde form.
fn intent(id: &str, user: UserId, account: AccountId, symbol: &str, price: &str) -> OrderIntent {
    OrderIntent {
        id: id.into(),
        user_id: user,
        account_id: account,
        slot: Slot::DEFAULT,
        order: json!({
            "instrument": {"exchange": "NSE", "trading_symbol": symbol},
            "side": "buy", "order_type": "limit", "product": "delivery",
            "quantity": 1, "price": price
        })
        .into(),
        enabled: true,
    }
}
