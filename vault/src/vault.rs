//! [`Vault`]: a [`CredentialStore`] that seals with a [`Keyring`] and keeps sealed records in
//! any [`RecordBackend`].

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, PoisonError, RwLock};

use async_trait::async_trait;
use broker_core::{
    AngelOneCredentials, BrokerCredentials, BrokerKind, SessionTokens, ZerodhaCredentials,
};
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use crate::account::{AccountId, AccountStatus, BrokerAccount, UserId};
use crate::backend::RecordBackend;
use crate::claim::{Claim, ClaimOutcome};
use crate::envelope::{DecryptError, Field, Place, is_envelope};
use crate::error::StoreError;
use crate::keyring::{KeyId, Keyring, KeyringError};
use crate::legacy::LegacyDecryptor;
use crate::record::{AccountChange, AccountRecord, SealedFields};
use crate::store::CredentialStore;

/// How [`Vault::ciphertexts_under_missing_keys`] names key ids that are not valid key ids.
pub const MALFORMED_KEY_ID: &str = "<malformed key id>";

/// Encrypted credential storage over a backend.
pub struct Vault<B> {
    pub(crate) backend: B,
    keyring: RwLock<Arc<Keyring>>,
    pub(crate) legacy: Option<LegacyDecryptor>,
}

impl<B: RecordBackend> Vault<B> {
    /// A vault sealing with `keyring` into `backend`, without checking the stored rows (see
    /// [`Vault::open`]).
    pub fn new(backend: B, keyring: Keyring) -> Self {
        Self {
            backend,
            keyring: RwLock::new(Arc::new(keyring)),
            legacy: None,
        }
    }

    /// A vault sealing with `keyring` into `backend`, after checking that the keyring holds
    /// every key the stored ciphertexts were sealed under. Ciphertexts under a key it lacks
    /// (a key dropped from the configuration while rows still need it, or an envelope planted
    /// with a made-up key id) do not stop it: each missing key id is logged as a warning with
    /// its count, and those rows fail to open one by one. Ask
    /// [`Vault::ciphertexts_under_missing_keys`] for the counts.
    ///
    /// A keyring that holds none of the keys in use (the wrong key file) is refused: nothing
    /// stored could be read with it.
    ///
    /// # Errors
    /// [`StoreError::KeysMissing`] when ciphertexts are stored and the keyring holds none of
    /// their keys; a storage error.
    pub async fn open(backend: B, keyring: Keyring) -> Result<Self, StoreError> {
        let vault = Self::new(backend, keyring);
        let per_key = vault.backend.ciphertexts_per_key().await?;
        let stored: u64 = per_key.values().sum();
        let missing = missing_keys(&vault.keyring(), per_key);
        if stored > 0 && missing.values().sum::<u64>() == stored {
            return Err(StoreError::KeysMissing {
                missing: missing.into_keys().collect(),
            });
        }
        for (key_id, ciphertexts) in missing {
            tracing::warn!(
                key_id,
                ciphertexts,
                "stored ciphertexts are sealed under a key missing from the keyring; they will \
                 not open (add the key back if it was dropped by mistake)"
            );
        }
        Ok(vault)
    }

    /// How many stored ciphertexts each key id missing from the keyring has sealed (empty when
    /// every ciphertext can open). Key ids that are not valid key ids (say planted ones with
    /// odd characters) are counted together under [`MALFORMED_KEY_ID`], never echoed.
    ///
    /// # Errors
    /// A storage error.
    pub async fn ciphertexts_under_missing_keys(
        &self,
    ) -> Result<BTreeMap<String, u64>, StoreError> {
        let per_key = self.backend.ciphertexts_per_key().await?;
        Ok(missing_keys(&self.keyring(), per_key))
    }

    /// Also opens legacy Web Crypto ciphertexts (until [`Vault::migrate_legacy`] has run).
    #[must_use]
    pub fn with_legacy(mut self, legacy: LegacyDecryptor) -> Self {
        self.legacy = Some(legacy);
        self
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The keyring in use now.
    pub fn keyring(&self) -> Arc<Keyring> {
        Arc::clone(&self.keyring.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Replaces the keyring by `change` of the current one, under the write lock so that
    /// concurrent changes cannot undo each other.
    pub(crate) fn change_keyring(
        &self,
        change: impl FnOnce(&Keyring) -> Result<Keyring, KeyringError>,
    ) -> Result<(), KeyringError> {
        let mut current = self.keyring.write().unwrap_or_else(PoisonError::into_inner);
        *current = Arc::new(change(&current)?);
        Ok(())
    }

    /// Opens one stored ciphertext: an envelope with the keyring, anything else with the
    /// legacy decryptor when one is configured.
    pub(crate) fn open_field(
        &self,
        keyring: &Keyring,
        place: &Place,
        ciphertext: &str,
    ) -> Result<SecretString, StoreError> {
        let opened = if is_envelope(ciphertext) {
            keyring.open(place, ciphertext)
        } else {
            self.legacy
                .as_ref()
                .ok_or(DecryptError)
                .and_then(|legacy| legacy.open(ciphertext))
        };
        opened.map_err(|source| StoreError::Decrypt {
            account: place.account,
            field: place.field,
            source,
        })
    }

    /// Opens `field` of `fields` when it is stored.
    fn open_stored(
        &self,
        keyring: &Keyring,
        (account, user): (AccountId, UserId),
        broker: BrokerKind,
        fields: &SealedFields,
        field: Field,
    ) -> Result<Option<SecretString>, StoreError> {
        fields
            .get(field)
            .map(|ciphertext| {
                self.open_field(
                    keyring,
                    &Place {
                        account,
                        user,
                        broker,
                        field,
                    },
                    ciphertext,
                )
            })
            .transpose()
    }

    async fn update(
        &self,
        user: UserId,
        id: AccountId,
        change: AccountChange,
    ) -> Result<BrokerAccount, StoreError> {
        self.backend
            .update_account(user, id, &change)
            .await?
            .ok_or(StoreError::AccountNotFound { account: id })
    }

    /// Refuses, before anything is opened, a legacy ciphertext that is not where the legacy
    /// table held it when adopted (only checked while a legacy decryptor is configured: without
    /// one no legacy ciphertext opens at all).
    async fn refuse_misplaced_legacy(
        &self,
        owner: (AccountId, UserId),
        fields: &SealedFields,
    ) -> Result<(), StoreError> {
        if self.legacy.is_none() {
            return Ok(());
        }
        match self.misplaced_legacy_field(owner, fields).await? {
            Some(field) => Err(StoreError::LegacyNotInPlace {
                account: owner.0,
                field,
            }),
            None => Ok(()),
        }
    }

    async fn existing(&self, user: UserId, id: AccountId) -> Result<AccountRecord, StoreError> {
        self.backend
            .account(user, id)
            .await?
            .ok_or(StoreError::AccountNotFound { account: id })
    }
}

/// Seals each present secret for its place under the primary key.
fn seal_fields<'a>(
    keyring: &Keyring,
    (account, user): (AccountId, UserId),
    broker: BrokerKind,
    secrets: impl IntoIterator<Item = (Field, Option<&'a SecretString>)>,
) -> Result<SealedFields, StoreError> {
    let mut sealed = SealedFields::new();
    for (field, secret) in secrets {
        let Some(secret) = secret else { continue };
        let place = Place {
            account,
            user,
            broker,
            field,
        };
        let ciphertext = keyring
            .seal(&place, secret)
            .map_err(|source| StoreError::Encrypt { field, source })?;
        sealed.insert(field, ciphertext);
    }
    Ok(sealed)
}

fn seal_credentials(
    keyring: &Keyring,
    account: (AccountId, UserId),
    credentials: &BrokerCredentials,
) -> Result<SealedFields, StoreError> {
    let broker = credentials.kind();
    match credentials {
        BrokerCredentials::AngelOne(angel) => {
            let client_code = SecretString::from(angel.client_code());
            let secrets = [
                (Field::ApiKey, Some(angel.api_key())),
                (Field::ApiSecret, angel.api_secret()),
                (Field::ClientId, Some(&client_code)),
                (Field::Mpin, Some(angel.mpin())),
                (Field::TotpSecret, Some(angel.totp_secret())),
            ];
            seal_fields(keyring, account, broker, secrets)
        }
        BrokerCredentials::Zerodha(zerodha) => {
            let secrets = [
                (Field::ApiKey, Some(zerodha.api_key())),
                (Field::ApiSecret, Some(zerodha.api_secret())),
            ];
            seal_fields(keyring, account, broker, secrets)
        }
        _ => Err(StoreError::UnsupportedBroker { broker }),
    }
}

impl<B: RecordBackend> Vault<B> {
    fn open_credentials(&self, record: &AccountRecord) -> Result<BrokerCredentials, StoreError> {
        let keyring = self.keyring();
        let account = record.account.id;
        let owner = (account, record.account.user_id);
        let broker = record.account.broker;
        let open = |field: Field| self.open_stored(&keyring, owner, broker, &record.secrets, field);
        let require = |field: Field| -> Result<SecretString, StoreError> {
            open(field)?.ok_or(StoreError::MissingField { account, field })
        };
        let invalid = |source| StoreError::InvalidStoredCredentials { account, source };
        match broker {
            BrokerKind::AngelOne => {
                let client_code = require(Field::ClientId)?;
                let mut angel = AngelOneCredentials::new(
                    require(Field::ApiKey)?,
                    client_code.expose_secret(),
                    require(Field::Mpin)?,
                    require(Field::TotpSecret)?,
                )
                .map_err(invalid)?;
                if let Some(api_secret) = open(Field::ApiSecret)? {
                    angel = angel.with_api_secret(api_secret).map_err(invalid)?;
                }
                Ok(BrokerCredentials::AngelOne(angel))
            }
            BrokerKind::Zerodha => {
                ZerodhaCredentials::new(require(Field::ApiKey)?, require(Field::ApiSecret)?)
                    .map(BrokerCredentials::Zerodha)
                    .map_err(invalid)
            }
            _ => Err(StoreError::UnsupportedBroker { broker }),
        }
    }
}

#[async_trait]
impl<B: RecordBackend> CredentialStore for Vault<B> {
    #[tracing::instrument(skip_all, fields(%user))]
    async fn create_account(
        &self,
        user: UserId,
        credentials: &BrokerCredentials,
    ) -> Result<BrokerAccount, StoreError> {
        let account = BrokerAccount::new(user, credentials.kind());
        let secrets = seal_credentials(&self.keyring(), (account.id, user), credentials)?;
        let record = AccountRecord { account, secrets };
        self.backend
            .insert_accounts(std::slice::from_ref(&record))
            .await?;
        tracing::debug!(account = %record.account.id, broker = %record.account.broker, "account stored");
        Ok(record.account)
    }

    #[tracing::instrument(skip_all, fields(%user, %id))]
    async fn update_credentials(
        &self,
        user: UserId,
        id: AccountId,
        credentials: &BrokerCredentials,
    ) -> Result<BrokerAccount, StoreError> {
        let stored = self.existing(user, id).await?.account.broker;
        let given = credentials.kind();
        if stored != given {
            return Err(StoreError::BrokerMismatch {
                account: id,
                stored,
                given,
            });
        }
        let secrets = seal_credentials(&self.keyring(), (id, user), credentials)?;
        self.update(user, id, AccountChange::Secrets(secrets)).await
    }

    async fn account(
        &self,
        user: UserId,
        id: AccountId,
    ) -> Result<Option<BrokerAccount>, StoreError> {
        Ok(self
            .backend
            .account(user, id)
            .await?
            .map(|record| record.account))
    }

    async fn accounts(&self, user: UserId) -> Result<Vec<BrokerAccount>, StoreError> {
        self.backend.accounts(user).await
    }

    #[tracing::instrument(skip_all, fields(%user, %id))]
    async fn credentials(
        &self,
        user: UserId,
        id: AccountId,
    ) -> Result<BrokerCredentials, StoreError> {
        let record = self.existing(user, id).await?;
        self.refuse_misplaced_legacy((id, record.account.user_id), &record.secrets)
            .await?;
        self.open_credentials(&record)
    }

    async fn delete_account(&self, user: UserId, id: AccountId) -> Result<(), StoreError> {
        if self.backend.delete_account(user, id).await? {
            Ok(())
        } else {
            Err(StoreError::AccountNotFound { account: id })
        }
    }

    async fn set_status(
        &self,
        user: UserId,
        id: AccountId,
        status: AccountStatus,
    ) -> Result<BrokerAccount, StoreError> {
        self.update(user, id, AccountChange::Status(status)).await
    }

    async fn set_auto_execute(
        &self,
        user: UserId,
        id: AccountId,
        auto_execute: bool,
    ) -> Result<BrokerAccount, StoreError> {
        self.update(user, id, AccountChange::AutoExecute(auto_execute))
            .await
    }

    async fn assign_egress_ip(
        &self,
        user: UserId,
        id: AccountId,
        egress_ip: Option<IpAddr>,
    ) -> Result<BrokerAccount, StoreError> {
        self.update(user, id, AccountChange::EgressIp(egress_ip))
            .await
    }

    #[tracing::instrument(skip_all, fields(%user, %id))]
    async fn save_session(
        &self,
        user: UserId,
        id: AccountId,
        tokens: &SessionTokens,
    ) -> Result<(), StoreError> {
        let broker = self.existing(user, id).await?.account.broker;
        let secrets = [
            (Field::AccessToken, Some(tokens.access_token())),
            (Field::RefreshToken, tokens.refresh_token()),
            (Field::FeedToken, tokens.feed_token()),
        ];
        let sealed = seal_fields(&self.keyring(), (id, user), broker, secrets)?;
        if self
            .backend
            .save_session(user, id, &sealed, tokens.expires_at())
            .await?
        {
            Ok(())
        } else {
            Err(StoreError::AccountNotFound { account: id })
        }
    }

    #[tracing::instrument(skip_all, fields(%user, %id))]
    async fn session(
        &self,
        user: UserId,
        id: AccountId,
    ) -> Result<Option<SessionTokens>, StoreError> {
        let Some(record) = self.backend.session(user, id).await? else {
            return Ok(None);
        };
        self.refuse_misplaced_legacy((id, user), &record.tokens)
            .await?;
        let keyring = self.keyring();
        let open = |field: Field| {
            self.open_stored(&keyring, (id, user), record.broker, &record.tokens, field)
        };
        let access = open(Field::AccessToken)?.ok_or(StoreError::MissingField {
            account: id,
            field: Field::AccessToken,
        })?;
        let mut tokens = SessionTokens::new(access, record.expires_at).map_err(|source| {
            StoreError::InvalidStoredCredentials {
                account: id,
                source,
            }
        })?;
        if let Some(refresh) = open(Field::RefreshToken)? {
            tokens = tokens.with_refresh_token(refresh);
        }
        if let Some(feed) = open(Field::FeedToken)? {
            tokens = tokens.with_feed_token(feed);
        }
        Ok(Some(tokens))
    }

    async fn clear_session(&self, user: UserId, id: AccountId) -> Result<(), StoreError> {
        if self.backend.clear_session(user, id).await? {
            Ok(())
        } else {
            Err(StoreError::AccountNotFound { account: id })
        }
    }

    async fn accounts_due_for_run(&self) -> Result<Vec<BrokerAccount>, StoreError> {
        self.backend.accounts_due_for_run().await
    }

    async fn claim(
        &self,
        name: &str,
        holder: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<ClaimOutcome, StoreError> {
        self.backend.claim(name, holder, until, now).await
    }

    async fn release_claim(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        self.backend.release_claim(name, holder).await
    }

    async fn claims(&self, prefix: &str, now: DateTime<Utc>) -> Result<Vec<Claim>, StoreError> {
        self.backend.claims(prefix, now).await
    }
}

impl<B> fmt::Debug for Vault<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field(
                "keyring",
                &*self.keyring.read().unwrap_or_else(PoisonError::into_inner),
            )
            .field("legacy", &self.legacy)
            .finish_non_exhaustive()
    }
}

/// Of the ciphertext counts per key id, those of the keys `keyring` lacks; invalid key ids are
/// counted together under [`MALFORMED_KEY_ID`], never echoed.
fn missing_keys(keyring: &Keyring, per_key: BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    let mut missing = BTreeMap::new();
    for (key_id, ciphertexts) in per_key {
        if keyring.key(&key_id).is_some() {
            continue;
        }
        let named = match KeyId::new(key_id) {
            Ok(id) => id.to_string(),
            Err(_) => MALFORMED_KEY_ID.to_owned(),
        };
        *missing.entry(named).or_insert(0) += ciphertexts;
    }
    missing
}
