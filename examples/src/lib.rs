#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

use std::error::Error;
use std::sync::Arc;

use broker_angelone::sim::Simulator as AngelOneSimulator;
use broker_connect::{Connector, ConnectorSettings};
use broker_core::{BrokerCredentials, BrokerKind, HttpClient, HttpClientConfig, RateLimiter};
use broker_zerodha::sim::Simulator as KiteSimulator;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use vault::{AccountId, UserId};

/// What every example returns: any error ends it with a non-zero exit status.
pub type Outcome<T = ()> = Result<T, Box<dyn Error + Send + Sync>>;

/// Fails the example with `what` unless `happened`: an example exits non-zero when what it
/// demonstrates did not happen.
///
/// # Errors
/// `what`, when `happened` is false.
pub fn ensure(happened: bool, what: &str) -> Outcome {
    if happened {
        Ok(())
    } else {
        Err(format!("did not happen: {what}").into())
    }
}

/// Connector settings that reach the simulators instead of the brokers (production leaves
/// the URLs unset and plain HTTP off). The egress pool is the caller's.
pub fn simulator_settings(
    angel_one: Option<&AngelOneSimulator>,
    kite: Option<&KiteSimulator>,
) -> ConnectorSettings {
    let mut settings = ConnectorSettings::default();
    // The simulators listen on plain HTTP on loopback.
    settings.allow_plain_http = true;
    if let Some(angel_one) = angel_one {
        settings.angelone.api_url = Some(angel_one.url());
    }
    if let Some(kite) = kite {
        settings.zerodha.api_url = Some(kite.url());
        settings.zerodha.login_url = Some(kite.login_page());
    }
    settings
}

/// An HTTP client that reaches the simulators (plain HTTP allowed; it never follows
/// redirects, so a login redirect can be read).
///
/// # Errors
/// When the client cannot be built.
pub fn simulator_http() -> Outcome<HttpClient> {
    Ok(HttpClientConfig::default().allow_plain_http().build()?)
}

/// The secret that signs Kite login `state`s: 32 random bytes, the same in every process of
/// a deployment (keep it with the vault keys; here a fresh one per run).
pub fn kite_state_key() -> SecretSlice<u8> {
    SecretSlice::from(rand::random::<[u8; 32]>().to_vec())
}

/// Downloads Angel One's scrip master from `url` (production:
/// [`broker_angelone::SCRIP_MASTER_URL`], once a day) and makes it the index every Angel One
/// session of `connector` checks orders against: with an empty index every order is refused.
/// Returns how many instruments it holds.
///
/// # Errors
/// A failed download or a malformed master; the index in use is kept then.
pub async fn load_angelone_master(
    connector: &Connector,
    http: &HttpClient,
    url: &str,
) -> Outcome<usize> {
    let json = broker_angelone::download_instruments(
        http,
        url,
        broker_angelone::INSTRUMENTS_DOWNLOAD_TIMEOUT,
    )
    .await?;
    let master = broker_angelone::parse_instruments(&json)?;
    let count = master.index.len();
    connector
        .instruments(BrokerKind::AngelOne)
        .replace(master.index);
    Ok(count)
}

/// Downloads Kite's instrument master from `api_url` (production:
/// [`broker_zerodha::KITE_API_URL`], once a day before the market opens) with the stored
/// session of a logged-in account (Kite serves it only to a session), and makes it the index
/// every Zerodha session of `connector` checks orders against. Returns how many instruments
/// it holds.
///
/// # Errors
/// The account has no session or is not with Zerodha, the download fails or the master is
/// malformed; the index in use is kept then.
pub async fn load_kite_master(
    connector: &Connector,
    http: &HttpClient,
    api_url: &str,
    user: UserId,
    account: AccountId,
) -> Outcome<usize> {
    let store = connector.store();
    let BrokerCredentials::Zerodha(credentials) = store.credentials(user, account).await? else {
        return Err("the account is not with Zerodha".into());
    };
    let session = store
        .session(user, account)
        .await?
        .ok_or("the account has no Kite session: its holder has not logged in")?;
    let client = broker_zerodha::ZerodhaHttpClient::new(
        http,
        url::Url::parse(api_url)?,
        credentials.api_key().clone(),
        Arc::new(RateLimiter::new(broker_zerodha::default_quota_rules())),
    );
    let csv = client
        .instruments(&client.authorization(session.access_token())?)
        .await?;
    let master = broker_zerodha::parse_instruments(csv.as_slice())?;
    let count = master.index.len();
    connector
        .instruments(BrokerKind::Zerodha)
        .replace(master.index);
    Ok(count)
}

/// What the account holder's browser does with a Kite login URL: opens the login page (the
/// simulator logs its one user in at once; Kite asks for the password and TOTP) and reads the
/// redirect back to the app's registered redirect URL. Returns the redirect's `state` and
/// `request_token`, which your callback endpoint receives as query parameters.
///
/// # Errors
/// The login page fails or does not redirect with a request token.
pub async fn browser_login(http: &HttpClient, login_url: &str) -> Outcome<(String, SecretString)> {
    let redirect =
        broker_zerodha::sim::browser_login(http.client(), url::Url::parse(login_url)?).await?;
    let state = redirect
        .param("state")
        .ok_or("the redirect carries no state")?
        .to_owned();
    let request_token = SecretString::from(redirect.request_token().expose_secret().to_owned());
    Ok((state, request_token))
}
