//! `brokerctl accounts` and `brokerctl zerodha`.

use broker_connect::{Connector, Verification, registration_instructions};
use broker_core::{AngelOneCredentials, BrokerCredentials, BrokerKind, ZerodhaCredentials};
use secrecy::ExposeSecret;
use vault::{AccountId, BrokerAccount, UserId};

use crate::context::{Globals, owned_account};
use crate::failure::{EXIT_REFUSED, Failure, Outcome};
use crate::output::{print_json, print_table};
use crate::secrets::SecretSource;

/// The brokers an account can be added for.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Broker {
    /// Angel One SmartAPI: secrets api_key, client_code, mpin, totp_secret.
    Angelone,
    /// Zerodha Kite Connect: secrets api_key, api_secret.
    Zerodha,
}

/// On or off.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Switch {
    /// On.
    On,
    /// Off.
    Off,
}

/// `brokerctl accounts …`
#[derive(Debug, clap::Subcommand)]
pub enum AccountsCommand {
    /// Store a new account; its secrets come from a prompt, --secrets-stdin or --secrets-file.
    Add {
        /// The owning user.
        #[arg(long)]
        user: UserId,
        /// The broker.
        #[arg(long, value_enum)]
        broker: Broker,
        #[command(flatten)]
        secrets: SecretSource,
    },
    /// The user's accounts (never their secrets).
    List {
        /// The owning user.
        #[arg(long)]
        user: UserId,
    },
    /// One account (never its secrets).
    Show {
        /// The owning user.
        #[arg(long)]
        user: UserId,
        /// The account.
        account: AccountId,
    },
    /// Log in from the account's egress IP, probe the whitelist (nothing is placed) and set
    /// the account's status from the outcome.
    Verify {
        /// The owning user.
        #[arg(long)]
        user: UserId,
        /// The account.
        account: AccountId,
    },
    /// Delete an account and its session.
    Remove {
        /// The owning user.
        #[arg(long)]
        user: UserId,
        /// The account.
        account: AccountId,
    },
    /// Turn the scheduler's trading of the account on or off.
    AutoExecute {
        /// The owning user.
        #[arg(long)]
        user: UserId,
        /// The account.
        account: AccountId,
        /// on or off.
        #[arg(value_enum)]
        switch: Switch,
    },
    /// The account's egress IP.
    #[command(subcommand)]
    Egress(EgressCommand),
}

/// `brokerctl accounts egress …`
#[derive(Debug, clap::Subcommand)]
pub enum EgressCommand {
    /// Give the account its egress address from the pool (sticky) and say what to register at
    /// the broker.
    Assign {
        /// The owning user.
        #[arg(long)]
        user: UserId,
        /// The account.
        account: AccountId,
    },
}

/// `brokerctl zerodha …`
#[derive(Debug, clap::Subcommand)]
pub enum ZerodhaCommand {
    /// The Kite login page for the account holder (signed, expiring, single-use state).
    LoginUrl {
        /// The owning user.
        #[arg(long)]
        user: UserId,
        /// The account.
        account: AccountId,
    },
    /// Complete a Kite login from the URL the browser was redirected to, given as the secret
    /// `redirect_url` (it holds the request token): prompt, --secrets-stdin or --secrets-file.
    Complete {
        /// Refuse a state issued for another account.
        #[arg(long)]
        account: Option<AccountId>,
        #[command(flatten)]
        secrets: SecretSource,
    },
}

/// Runs an `accounts` command.
pub async fn run(globals: &Globals, command: AccountsCommand) -> Outcome {
    let store = globals.store().await?;
    let credentials = store.credentials();
    match command {
        AccountsCommand::Add {
            user,
            broker,
            secrets,
        } => {
            let credentials_in = read_credentials(broker, &secrets)?;
            let account = credentials.create_account(user, &credentials_in).await?;
            print_account(globals, &account)
        }
        AccountsCommand::List { user } => {
            let accounts = credentials.accounts(user).await?;
            if globals.json {
                return print_json(&accounts);
            }
            let rows: Vec<Vec<String>> = accounts.iter().map(account_row).collect();
            print_table(ACCOUNT_HEADER, &rows);
            Ok(())
        }
        AccountsCommand::Show { user, account } => {
            let account = owned_account(credentials.as_ref(), user, account).await?;
            print_account(globals, &account)
        }
        AccountsCommand::Verify { user, account } => {
            owned_account(credentials.as_ref(), user, account).await?;
            let connector = globals.connector(&store, false).await?;
            let verification = connector.verify(user, account).await?;
            report_verification(globals, &verification)
        }
        AccountsCommand::Remove { user, account } => {
            owned_account(credentials.as_ref(), user, account).await?;
            credentials.delete_account(user, account).await?;
            if globals.json {
                return print_json(&serde_json::json!({ "removed": account }));
            }
            println!("removed account {account}");
            Ok(())
        }
        AccountsCommand::AutoExecute {
            user,
            account,
            switch,
        } => {
            owned_account(credentials.as_ref(), user, account).await?;
            let on = matches!(switch, Switch::On);
            let account = credentials.set_auto_execute(user, account, on).await?;
            print_account(globals, &account)
        }
        AccountsCommand::Egress(EgressCommand::Assign { user, account }) => {
            let stored = owned_account(credentials.as_ref(), user, account).await?;
            let connector = globals.connector(&store, false).await?;
            let assignment = connector.assign_egress(user, account).await?;
            if globals.json {
                return print_json(&assignment);
            }
            println!(
                "egress {} (the broker sees {})",
                assignment.bind, assignment.public
            );
            println!(
                "{}",
                registration_instructions(stored.broker, assignment.public)
            );
            Ok(())
        }
    }
}

/// Runs a `zerodha` command.
pub async fn run_zerodha(globals: &Globals, command: ZerodhaCommand) -> Outcome {
    let store = globals.store().await?;
    let connector: Connector = globals.connector(&store, true).await?;
    match command {
        ZerodhaCommand::LoginUrl { user, account } => {
            let stored = owned_account(store.credentials().as_ref(), user, account).await?;
            if stored.broker != BrokerKind::Zerodha {
                return Err(Failure::usage(format!(
                    "account {account} is with {}, not Zerodha",
                    stored.broker
                )));
            }
            let login_url = connector.kite_login_url(user, account).await?;
            if globals.json {
                return print_json(&serde_json::json!({ "login_url": login_url }));
            }
            println!("{login_url}");
            Ok(())
        }
        ZerodhaCommand::Complete { account, secrets } => {
            let mut secrets = secrets.read(&["redirect_url"])?;
            let redirect = secrets.take("redirect_url");
            let (state, request_token) = redirect_parameters(redirect.expose_secret())?;
            let completed = match account {
                Some(account) => {
                    connector
                        .complete_kite_login_for(account, &state, request_token.expose_secret())
                        .await?
                }
                None => {
                    connector
                        .complete_kite_login(&state, request_token.expose_secret())
                        .await?
                }
            };
            if !globals.json {
                println!(
                    "Kite login stored for account {} of user {}",
                    completed.account, completed.user
                );
            }
            report_verification(globals, &completed.verification)
        }
    }
}

/// `state` and `request_token` of a Kite redirect URL (or of its query alone).
fn redirect_parameters(text: &str) -> Outcome<(String, secrecy::SecretString)> {
    let text = text.trim();
    let query = match url::Url::parse(text) {
        Ok(url) => url.query().unwrap_or_default().to_owned(),
        Err(_) => text.trim_start_matches('?').to_owned(),
    };
    let mut state = None;
    let mut token = None;
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match name.as_ref() {
            "state" => state = Some(value.into_owned()),
            "request_token" => token = Some(secrecy::SecretString::from(value.into_owned())),
            _ => {}
        }
    }
    match (state, token) {
        (Some(state), Some(token)) => Ok((state, token)),
        _ => Err(Failure::usage(
            "the redirect URL has no state and request_token parameters",
        )),
    }
}

fn read_credentials(broker: Broker, source: &SecretSource) -> Outcome<BrokerCredentials> {
    let invalid = |error: broker_core::CredentialError| {
        Failure::usage(format!("credentials refused: {error}"))
    };
    Ok(match broker {
        Broker::Angelone => {
            let mut secrets = source.read(&["api_key", "client_code", "mpin", "totp_secret"])?;
            let client_code = secrets.take("client_code");
            BrokerCredentials::AngelOne(
                AngelOneCredentials::new(
                    secrets.take("api_key"),
                    client_code.expose_secret(),
                    secrets.take("mpin"),
                    secrets.take("totp_secret"),
                )
                .map_err(invalid)?,
            )
        }
        Broker::Zerodha => {
            let mut secrets = source.read(&["api_key", "api_secret"])?;
            BrokerCredentials::Zerodha(
                ZerodhaCredentials::new(secrets.take("api_key"), secrets.take("api_secret"))
                    .map_err(invalid)?,
            )
        }
    })
}

const ACCOUNT_HEADER: &[&str] = &[
    "ACCOUNT",
    "BROKER",
    "STATUS",
    "AUTO-EXECUTE",
    "EGRESS IP",
    "CREATED",
];

fn account_row(account: &BrokerAccount) -> Vec<String> {
    vec![
        account.id.to_string(),
        account.broker.to_string(),
        account.status.to_string(),
        if account.auto_execute { "on" } else { "off" }.into(),
        account
            .egress_ip
            .map_or_else(|| "-".into(), |ip| ip.to_string()),
        account.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
    ]
}

fn print_account(globals: &Globals, account: &BrokerAccount) -> Outcome {
    if globals.json {
        return print_json(account);
    }
    for (name, value) in ACCOUNT_HEADER.iter().zip(account_row(account)) {
        println!("{:<13} {value}", name.to_lowercase());
    }
    Ok(())
}

/// Prints a verification; any outcome but `connected` is a refusal (exit 5).
fn report_verification(globals: &Globals, verification: &Verification) -> Outcome {
    if globals.json {
        print_json(verification)?;
    } else {
        let text = serde_json::to_value(verification)
            .ok()
            .and_then(|value| {
                value
                    .get("outcome")
                    .and_then(|o| o.as_str().map(str::to_owned))
            })
            .unwrap_or_default();
        println!("verification: {text} (status {})", verification.status());
        if let Verification::NeedsLogin { login_url } = verification {
            println!("log in at {login_url}");
        }
    }
    match verification {
        Verification::Connected => Ok(()),
        _ => Err(Failure::new(
            EXIT_REFUSED,
            format!("the account cannot trade: {}", verification.status()),
        )),
    }
}
