//! The behaviours every backend must have, written once. `store_behaviours!` turns each into a
//! test for one backend's fixture.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use broker_core::BrokerKind;
use chrono::{DateTime, Utc};
use vault::{
    AccountChange, AccountId, AccountRecord, AccountStatus, BrokerAccount, CredentialStore, Field,
    KeyId, KeyMaterial, Keyring, LegacyDecryptor, LegacyFormat, RecordBackend, SealedFields,
    SealedRow, SessionRecord, Staleness, StoreError, Table, UserId, Vault,
};

use crate::fixtures::{
    MPIN, MoveRow, TOTP_SECRET, angel_one, exposed, exposed_session, key_id, session, zerodha,
};

/// Expands to one `#[tokio::test]` per behaviour, each on a fresh store from `$fixture`.
#[macro_export]
macro_rules! store_behaviours {
    ($fixture:path) => {
        $crate::store_behaviours!(@each $fixture;
            created_accounts_round_trip_their_credentials,
            a_user_may_hold_several_accounts_listed_oldest_first,
            other_users_can_neither_see_nor_change_an_account,
            updating_credentials_replaces_them_and_refuses_another_broker,
            status_auto_execute_and_egress_ip_are_stored,
            due_for_run_lists_auto_execute_accounts_across_users_except_disabled,
            sessions_round_trip_with_their_expiry_and_can_be_cleared,
            deleting_an_account_removes_its_session,
            stored_rows_hold_only_v2_envelopes,
            ciphertexts_swapped_between_accounts_or_fields_are_rejected,
            a_wrong_key_is_rejected,
            opening_with_a_keyring_that_lacks_a_used_key_reports_it,
            rotation_with_concurrent_readers_and_writers_loses_nothing,
            an_interrupted_rotation_resumes_where_it_stopped,
            an_update_between_rotations_read_and_swap_is_kept,
            one_tampered_row_does_not_stop_rotation,
            legacy_ciphertexts_are_readable_then_migrated_to_v2,
            rotation_and_migration_report_progress_per_batch,
            a_legacy_value_copied_into_another_users_row_is_refused_not_laundered,
            a_row_moved_to_another_user_does_not_open_for_them,
            rotation_reseals_v1_envelopes_as_v2_under_the_same_key,
            debug_output_never_shows_secrets,
            logs_never_contain_secrets,
            every_status_is_stored,
            claims_are_exclusive_until_released_or_lapsed,
        );
    };
    (@each $fixture:path; $($behaviour:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $behaviour() {
                let Some(fixture) = $fixture().await else { return };
                $crate::suite::$behaviour(&fixture.vault).await;
                fixture.finish().await;
            }
        )*
    };
}

fn user() -> UserId {
    UserId::new_random()
}

pub async fn created_accounts_round_trip_their_credentials<B: RecordBackend>(vault: &Vault<B>) {
    let store: &dyn CredentialStore = vault;
    let owner = user();
    for credentials in [angel_one("1"), zerodha("2")] {
        let account = store.create_account(owner, &credentials).await.unwrap();
        assert_eq!(account.user_id, owner);
        assert_eq!(account.broker, credentials.kind());
        assert_eq!(account.status, AccountStatus::Pending);
        assert!(!account.auto_execute && account.egress_ip.is_none());
        assert_eq!(
            store.account(owner, account.id).await.unwrap(),
            Some(account.clone())
        );
        let opened = store.credentials(owner, account.id).await.unwrap();
        assert_eq!(exposed(&opened), exposed(&credentials));
    }
}

pub async fn a_user_may_hold_several_accounts_listed_oldest_first<B: RecordBackend>(
    vault: &Vault<B>,
) {
    let owner = user();
    let mut created = Vec::new();
    for credentials in [angel_one("a"), angel_one("b"), zerodha("c")] {
        created.push(vault.create_account(owner, &credentials).await.unwrap());
    }
    vault
        .create_account(user(), &zerodha("other"))
        .await
        .unwrap();
    assert_eq!(vault.accounts(owner).await.unwrap(), created);
    assert!(vault.accounts(user()).await.unwrap().is_empty());
}

pub async fn other_users_can_neither_see_nor_change_an_account<B: RecordBackend>(vault: &Vault<B>) {
    let owner = user();
    let stranger = user();
    let id = vault
        .create_account(owner, &angel_one("x"))
        .await
        .unwrap()
        .id;
    vault.save_session(owner, id, &session("x")).await.unwrap();
    let not_found = |error: StoreError| {
        assert!(
            matches!(error, StoreError::AccountNotFound { account } if account == id),
            "{error}"
        );
    };

    assert_eq!(vault.account(stranger, id).await.unwrap(), None);
    assert!(vault.accounts(stranger).await.unwrap().is_empty());
    assert!(vault.session(stranger, id).await.unwrap().is_none());
    not_found(vault.credentials(stranger, id).await.unwrap_err());
    not_found(
        vault
            .update_credentials(stranger, id, &angel_one("y"))
            .await
            .unwrap_err(),
    );
    not_found(
        vault
            .set_status(stranger, id, AccountStatus::Disabled)
            .await
            .unwrap_err(),
    );
    not_found(
        vault
            .set_auto_execute(stranger, id, true)
            .await
            .unwrap_err(),
    );
    not_found(
        vault
            .assign_egress_ip(stranger, id, None)
            .await
            .unwrap_err(),
    );
    not_found(
        vault
            .save_session(stranger, id, &session("y"))
            .await
            .unwrap_err(),
    );
    not_found(vault.clear_session(stranger, id).await.unwrap_err());
    not_found(vault.delete_account(stranger, id).await.unwrap_err());

    // Nothing changed for the owner.
    let account = vault.account(owner, id).await.unwrap().unwrap();
    assert_eq!(account.status, AccountStatus::Pending);
    let credentials = vault.credentials(owner, id).await.unwrap();
    assert_eq!(exposed(&credentials), exposed(&angel_one("x")));
    let tokens = vault.session(owner, id).await.unwrap().unwrap();
    assert_eq!(exposed_session(&tokens), exposed_session(&session("x")));
}

pub async fn updating_credentials_replaces_them_and_refuses_another_broker<B: RecordBackend>(
    vault: &Vault<B>,
) {
    let owner = user();
    let id = vault
        .create_account(owner, &angel_one("old"))
        .await
        .unwrap()
        .id;
    let updated = vault
        .update_credentials(owner, id, &angel_one("new"))
        .await
        .unwrap();
    assert!(updated.updated_at >= updated.created_at);
    let opened = vault.credentials(owner, id).await.unwrap();
    assert_eq!(exposed(&opened), exposed(&angel_one("new")));

    let error = vault
        .update_credentials(owner, id, &zerodha("k"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::BrokerMismatch {
                stored: BrokerKind::AngelOne,
                given: BrokerKind::Zerodha,
                ..
            }
        ),
        "{error}"
    );
    let missing = AccountId::new_random();
    assert!(matches!(
        vault
            .update_credentials(owner, missing, &angel_one("z"))
            .await
            .unwrap_err(),
        StoreError::AccountNotFound { .. }
    ));
}

pub async fn status_auto_execute_and_egress_ip_are_stored<B: RecordBackend>(vault: &Vault<B>) {
    let owner = user();
    let id = vault.create_account(owner, &zerodha("s")).await.unwrap().id;
    let account = vault
        .set_status(owner, id, AccountStatus::NeedsLogin)
        .await
        .unwrap();
    assert_eq!(account.status, AccountStatus::NeedsLogin);
    let account = vault.set_auto_execute(owner, id, true).await.unwrap();
    assert!(account.auto_execute && account.status == AccountStatus::NeedsLogin);
    for ip in ["127.0.0.2", "2001:db8::7"] {
        let ip: IpAddr = ip.parse().unwrap();
        let account = vault.assign_egress_ip(owner, id, Some(ip)).await.unwrap();
        assert_eq!(account.egress_ip, Some(ip));
        assert_eq!(vault.account(owner, id).await.unwrap().unwrap(), account);
    }
    let account = vault.assign_egress_ip(owner, id, None).await.unwrap();
    assert_eq!(account.egress_ip, None);
    assert_eq!(vault.account(owner, id).await.unwrap().unwrap(), account);
}

pub async fn due_for_run_lists_auto_execute_accounts_across_users_except_disabled<
    B: RecordBackend,
>(
    vault: &Vault<B>,
) {
    let (first, second) = (user(), user());
    let due_one = vault
        .create_account(first, &angel_one("1"))
        .await
        .unwrap()
        .id;
    let due_two = vault
        .create_account(second, &zerodha("2"))
        .await
        .unwrap()
        .id;
    let off = vault.create_account(first, &zerodha("3")).await.unwrap().id;
    let disabled = vault
        .create_account(second, &angel_one("4"))
        .await
        .unwrap()
        .id;
    for (owner, id) in [(first, due_one), (second, due_two), (second, disabled)] {
        vault.set_auto_execute(owner, id, true).await.unwrap();
    }
    vault
        .set_status(second, disabled, AccountStatus::Disabled)
        .await
        .unwrap();

    let due = vault.accounts_due_for_run().await.unwrap();
    let mut ids: Vec<_> = due
        .iter()
        .map(|account| (account.user_id, account.id))
        .collect();
    ids.sort();
    let mut expected = vec![(first, due_one), (second, due_two)];
    expected.sort();
    assert_eq!(ids, expected);
    assert!(!due.iter().any(|account| account.id == off));
}

pub async fn sessions_round_trip_with_their_expiry_and_can_be_cleared<B: RecordBackend>(
    vault: &Vault<B>,
) {
    let owner = user();
    let id = vault.create_account(owner, &zerodha("t")).await.unwrap().id;
    assert!(vault.session(owner, id).await.unwrap().is_none());

    let first = session("1");
    vault.save_session(owner, id, &first).await.unwrap();
    let loaded = vault.session(owner, id).await.unwrap().unwrap();
    assert_eq!(exposed_session(&loaded), exposed_session(&first));
    assert_eq!(loaded.expires_at(), first.expires_at());

    // A new login replaces the session; a token-only session has no refresh or feed token.
    let expires: DateTime<Utc> = "2026-12-03T00:30:00Z".parse().unwrap();
    let second = broker_core::SessionTokens::new("accessOnly".into(), expires).unwrap();
    vault.save_session(owner, id, &second).await.unwrap();
    let loaded = vault.session(owner, id).await.unwrap().unwrap();
    assert_eq!(
        exposed_session(&loaded),
        ("accessOnly".to_owned(), None, None)
    );
    assert_eq!(loaded.expires_at(), expires);

    vault.clear_session(owner, id).await.unwrap();
    assert!(vault.session(owner, id).await.unwrap().is_none());
    // Clearing again is fine: the account exists.
    vault.clear_session(owner, id).await.unwrap();
}

pub async fn deleting_an_account_removes_its_session<B: RecordBackend>(vault: &Vault<B>) {
    let owner = user();
    let kept = vault
        .create_account(owner, &zerodha("keep"))
        .await
        .unwrap()
        .id;
    let gone = vault
        .create_account(owner, &zerodha("gone"))
        .await
        .unwrap()
        .id;
    vault
        .save_session(owner, gone, &session("g"))
        .await
        .unwrap();
    vault.delete_account(owner, gone).await.unwrap();
    assert_eq!(vault.account(owner, gone).await.unwrap(), None);
    assert!(vault.session(owner, gone).await.unwrap().is_none());
    assert!(matches!(
        vault.delete_account(owner, gone).await.unwrap_err(),
        StoreError::AccountNotFound { .. }
    ));
    let remaining: Vec<_> = vault
        .accounts(owner)
        .await
        .unwrap()
        .iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(remaining, [kept]);
    let rows = vault
        .backend()
        .stale_rows(Table::Sessions, &Staleness::Legacy, None, 10)
        .await;
    assert!(rows.unwrap().is_empty());
}

pub async fn stored_rows_hold_only_v2_envelopes<B: RecordBackend>(vault: &Vault<B>) {
    let owner = user();
    let credentials = angel_one("PLAIN");
    let id = vault.create_account(owner, &credentials).await.unwrap().id;
    vault
        .save_session(owner, id, &session("PLAIN"))
        .await
        .unwrap();
    let record = vault.backend().account(owner, id).await.unwrap().unwrap();
    let stored: Vec<(Field, &str)> = record.secrets.iter().collect();
    assert_eq!(stored.len(), 5, "{:?}", record.secrets);
    let tokens = vault.backend().session(owner, id).await.unwrap().unwrap();
    assert_eq!(tokens.tokens.iter().count(), 3);
    for (field, ciphertext) in stored.into_iter().chain(tokens.tokens.iter()) {
        assert!(ciphertext.starts_with("v2.kid0."), "{field}: {ciphertext}");
        assert!(!ciphertext.contains("PLAIN") && !ciphertext.contains(TOTP_SECRET));
    }
}

pub async fn ciphertexts_swapped_between_accounts_or_fields_are_rejected<B: RecordBackend>(
    vault: &Vault<B>,
) {
    let owner = user();
    let victim = vault
        .create_account(owner, &zerodha("victim"))
        .await
        .unwrap()
        .id;
    let attacker = vault
        .create_account(owner, &zerodha("attacker"))
        .await
        .unwrap()
        .id;
    let backend = vault.backend();
    let attacker_secrets = backend
        .account(owner, attacker)
        .await
        .unwrap()
        .unwrap()
        .secrets;
    let victim_secrets = backend
        .account(owner, victim)
        .await
        .unwrap()
        .unwrap()
        .secrets;

    // The attacker's ciphertexts copied into the victim's row.
    backend
        .update_account(owner, victim, &AccountChange::Secrets(attacker_secrets))
        .await
        .unwrap();
    let error = vault.credentials(owner, victim).await.unwrap_err();
    assert!(
        matches!(error, StoreError::Decrypt { account, .. } if account == victim),
        "{error}"
    );

    // The victim's own key and secret swapped between fields.
    let mut swapped = SealedFields::new();
    swapped.insert(
        Field::ApiKey,
        victim_secrets.get(Field::ApiSecret).unwrap().to_owned(),
    );
    swapped.insert(
        Field::ApiSecret,
        victim_secrets.get(Field::ApiKey).unwrap().to_owned(),
    );
    backend
        .update_account(owner, victim, &AccountChange::Secrets(swapped))
        .await
        .unwrap();
    assert!(matches!(
        vault.credentials(owner, victim).await.unwrap_err(),
        StoreError::Decrypt { .. }
    ));

    // Put back, it opens again.
    backend
        .update_account(owner, victim, &AccountChange::Secrets(victim_secrets))
        .await
        .unwrap();
    let opened = vault.credentials(owner, victim).await.unwrap();
    assert_eq!(exposed(&opened), exposed(&zerodha("victim")));
}

pub async fn a_wrong_key_is_rejected<B: RecordBackend + Clone>(vault: &Vault<B>) {
    let owner = user();
    let id = vault
        .create_account(owner, &angel_one("w"))
        .await
        .unwrap()
        .id;
    let impostor = Vault::new(
        vault.backend().clone(),
        Keyring::new(key_id("kid0"), &KeyMaterial::generate()),
    );
    let error = impostor.credentials(owner, id).await.unwrap_err();
    assert!(matches!(error, StoreError::Decrypt { .. }), "{error}");
    // The message names the place, never a reason.
    let message = error.to_string();
    assert!(message.contains(&id.to_string()) && message.ends_with("could not be decrypted"));
}

async fn sealed_under<B: RecordBackend>(vault: &Vault<B>, key: &KeyId) -> u64 {
    let counts = vault.backend().ciphertexts_per_key().await.unwrap();
    counts.get(key.as_str()).copied().unwrap_or(0)
}

/// Opening with a keyring that lacks a key the rows use, or over a row planted with a made-up
/// key id, does not stop the vault: it opens, reports the counts, and only those rows fail.
pub async fn opening_with_a_keyring_that_lacks_a_used_key_reports_it<B: RecordBackend + Clone>(
    vault: &Vault<B>,
) {
    let owner = user();
    let old = vault
        .create_account(owner, &zerodha("old"))
        .await
        .unwrap()
        .id;
    let kid1 = KeyMaterial::generate();
    vault.add_primary_key(key_id("kid1"), &kid1).unwrap();
    let new = vault
        .create_account(owner, &zerodha("new"))
        .await
        .unwrap()
        .id;

    let only_new = Keyring::new(key_id("kid1"), &kid1);
    let opened = Vault::open(vault.backend().clone(), only_new.clone())
        .await
        .unwrap();
    let missing = opened.ciphertexts_under_missing_keys().await.unwrap();
    assert_eq!(missing, BTreeMap::from([("kid0".to_owned(), 2)]));
    assert!(matches!(
        opened.credentials(owner, old).await.unwrap_err(),
        StoreError::Decrypt { .. }
    ));
    opened.credentials(owner, new).await.unwrap();

    // A planted envelope with an unknown (even malformed) key id: counted, never echoed.
    let planted = vault.create_account(user(), &zerodha("p")).await.unwrap();
    let mut forged = SealedFields::new();
    forged.insert(
        Field::ApiKey,
        "v2.planted.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
    );
    forged.insert(Field::ApiSecret, "v2.bad\nid!.AAAA".into());
    vault
        .backend()
        .update_account(planted.user_id, planted.id, &AccountChange::Secrets(forged))
        .await
        .unwrap();
    vault.rotate(100).await.unwrap();
    let reopened = Vault::open(vault.backend().clone(), only_new)
        .await
        .unwrap();
    let missing = reopened.ciphertexts_under_missing_keys().await.unwrap();
    assert_eq!(
        missing,
        BTreeMap::from([
            ("planted".to_owned(), 1),
            (vault::MALFORMED_KEY_ID.to_owned(), 1)
        ])
    );
    assert_eq!(reopened.accounts(owner).await.unwrap().len(), 2);
    reopened.credentials(owner, old).await.unwrap();

    // A keyring holding none of the keys in use (the wrong key file) opens nothing: refused.
    let unrelated = Keyring::new(key_id("kid9"), &KeyMaterial::generate());
    match Vault::open(vault.backend().clone(), unrelated).await {
        Err(StoreError::KeysMissing { missing }) => {
            assert!(missing.contains(&"kid1".to_owned()), "{missing:?}");
        }
        other => panic!("expected KeysMissing, got {:?}", other.err()),
    }
}

/// Creates `count` accounts (half Angel One, half Zerodha, every third with a session) and
/// returns them with what they hold.
async fn populate<B: RecordBackend>(
    vault: &Vault<B>,
    count: usize,
) -> Vec<(UserId, AccountId, Vec<String>, bool)> {
    let mut accounts = Vec::new();
    for index in 0..count {
        let owner = user();
        let tag = index.to_string();
        let credentials = if index.is_multiple_of(2) {
            angel_one(&tag)
        } else {
            zerodha(&tag)
        };
        let id = vault.create_account(owner, &credentials).await.unwrap().id;
        let has_session = index.is_multiple_of(3);
        if has_session {
            vault.save_session(owner, id, &session(&tag)).await.unwrap();
        }
        accounts.push((owner, id, exposed(&credentials), has_session));
    }
    accounts
}

async fn assert_all_intact<B: RecordBackend>(
    vault: &Vault<B>,
    accounts: &[(UserId, AccountId, Vec<String>, bool)],
) {
    for (index, (owner, id, values, has_session)) in accounts.iter().enumerate() {
        let opened = vault.credentials(*owner, *id).await.unwrap();
        assert_eq!(&exposed(&opened), values);
        let tokens = vault.session(*owner, *id).await.unwrap();
        assert_eq!(tokens.is_some(), *has_session);
        if let Some(tokens) = tokens {
            assert_eq!(
                exposed_session(&tokens),
                exposed_session(&session(&index.to_string()))
            );
        }
    }
}

pub async fn rotation_with_concurrent_readers_and_writers_loses_nothing<B: RecordBackend>(
    vault: &Vault<B>,
) {
    let mut accounts = populate(vault, 40).await;
    let old = key_id("kid0");
    let new = key_id("kid1");
    vault
        .add_primary_key(new.clone(), &KeyMaterial::generate())
        .unwrap();
    let sealed_under_old = sealed_under(vault, &old).await;
    assert_eq!(sealed_under_old, 20 * 5 + 20 * 2 + 14 * 3);
    let refused = vault.remove_key(&old).await.unwrap_err();
    assert!(
        matches!(refused, StoreError::KeyInUse { references, .. } if references == sealed_under_old),
        "{refused}"
    );

    // Writers replace the credentials of the first 8 accounts while readers check the rest.
    const UPDATED: usize = 8;
    let replacement = |index: usize| {
        let tag = format!("rewritten{index}");
        if index.is_multiple_of(2) {
            angel_one(&tag)
        } else {
            zerodha(&tag)
        }
    };
    let rotating = AtomicBool::new(true);
    let reads_during_rotation = AtomicU64::new(0);
    let reader = || async {
        while rotating.load(Ordering::SeqCst) {
            for (owner, id, values, _) in &accounts[UPDATED..] {
                let opened = vault.credentials(*owner, *id).await.unwrap();
                assert_eq!(&exposed(&opened), values);
                reads_during_rotation.fetch_add(1, Ordering::SeqCst);
            }
        }
    };
    let writer = async {
        for (index, (owner, id, _, _)) in accounts[..UPDATED].iter().enumerate() {
            tokio::task::yield_now().await;
            vault
                .update_credentials(*owner, *id, &replacement(index))
                .await
                .unwrap();
        }
    };
    let rotation = async {
        // Let the readers start first.
        tokio::task::yield_now().await;
        let report = vault.rotate(7).await.unwrap();
        rotating.store(false, Ordering::SeqCst);
        report
    };
    let (report, (), (), ()) = tokio::join!(rotation, reader(), reader(), writer);

    // Rows the writer reached first were already under the new key, or lost their
    // compare-and-swap and were retried: either way, none is left behind.
    let all_rows = 40 + 14;
    assert!(
        report.rows <= all_rows && report.rows + UPDATED as u64 >= all_rows,
        "{report:?}"
    );
    assert!(reads_during_rotation.load(Ordering::SeqCst) > 0);
    assert_eq!(sealed_under(vault, &old).await, 0);
    assert_eq!(sealed_under(vault, &new).await, sealed_under_old);
    vault.remove_key(&old).await.unwrap();
    assert_eq!(vault.keyring().key_ids().collect::<Vec<_>>(), [&new]);
    for (index, account) in accounts[..UPDATED].iter_mut().enumerate() {
        account.2 = exposed(&replacement(index));
    }
    assert_all_intact(vault, &accounts).await;
    // Nothing left to do.
    assert_eq!(vault.rotate(7).await.unwrap().rows, 0);
}

/// A backend wrapper that controls the compare-and-swaps: it fails every one after the first
/// `allowed`, as a crash would, and can hold the first one until a test has written between
/// the read and the swap.
struct SwapControl<'a, B> {
    inner: &'a B,
    allowed: AtomicU64,
    pause_before_first_swap: std::sync::Mutex<Option<PauseBeforeSwap>>,
}

/// Tells the test that a swap is about to happen, then waits for its go-ahead.
struct PauseBeforeSwap {
    reached: tokio::sync::oneshot::Sender<()>,
    resume: tokio::sync::oneshot::Receiver<()>,
}

impl<'a, B> SwapControl<'a, B> {
    fn failing_after(inner: &'a B, allowed: u64) -> Self {
        Self {
            inner,
            allowed: AtomicU64::new(allowed),
            pause_before_first_swap: std::sync::Mutex::new(None),
        }
    }

    fn pausing_before_first_swap(inner: &'a B, pause: PauseBeforeSwap) -> Self {
        Self {
            pause_before_first_swap: std::sync::Mutex::new(Some(pause)),
            ..Self::failing_after(inner, u64::MAX)
        }
    }
}

#[async_trait]
impl<B: RecordBackend> RecordBackend for SwapControl<'_, B> {
    async fn insert_accounts(&self, records: &[AccountRecord]) -> Result<(), StoreError> {
        self.inner.insert_accounts(records).await
    }
    async fn account(
        &self,
        user: UserId,
        id: AccountId,
    ) -> Result<Option<AccountRecord>, StoreError> {
        self.inner.account(user, id).await
    }
    async fn accounts(&self, user: UserId) -> Result<Vec<BrokerAccount>, StoreError> {
        self.inner.accounts(user).await
    }
    async fn update_account(
        &self,
        user: UserId,
        id: AccountId,
        change: &AccountChange,
    ) -> Result<Option<BrokerAccount>, StoreError> {
        self.inner.update_account(user, id, change).await
    }
    async fn delete_account(&self, user: UserId, id: AccountId) -> Result<bool, StoreError> {
        self.inner.delete_account(user, id).await
    }
    async fn accounts_due_for_run(&self) -> Result<Vec<BrokerAccount>, StoreError> {
        self.inner.accounts_due_for_run().await
    }
    async fn save_session(
        &self,
        user: UserId,
        id: AccountId,
        tokens: &SealedFields,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.inner.save_session(user, id, tokens, expires_at).await
    }
    async fn session(
        &self,
        user: UserId,
        id: AccountId,
    ) -> Result<Option<SessionRecord>, StoreError> {
        self.inner.session(user, id).await
    }
    async fn clear_session(&self, user: UserId, id: AccountId) -> Result<bool, StoreError> {
        self.inner.clear_session(user, id).await
    }
    async fn stale_rows(
        &self,
        table: Table,
        stale: &Staleness,
        after: Option<AccountId>,
        limit: usize,
    ) -> Result<Vec<SealedRow>, StoreError> {
        self.inner.stale_rows(table, stale, after, limit).await
    }
    async fn replace_fields(
        &self,
        row: &SealedRow,
        fields: &SealedFields,
    ) -> Result<bool, StoreError> {
        let allowed = self.allowed.load(Ordering::SeqCst);
        if allowed == 0 {
            return Err(StoreError::InvalidRecord {
                detail: "simulated crash".into(),
            });
        }
        self.allowed.store(allowed - 1, Ordering::SeqCst);
        let pause = self.pause_before_first_swap.lock().unwrap().take();
        if let Some(pause) = pause {
            pause.reached.send(()).unwrap();
            pause.resume.await.unwrap();
        }
        self.inner.replace_fields(row, fields).await
    }
    async fn ciphertexts_per_key(&self) -> Result<BTreeMap<String, u64>, StoreError> {
        self.inner.ciphertexts_per_key().await
    }
    async fn claim(
        &self,
        name: &str,
        holder: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<vault::ClaimOutcome, StoreError> {
        self.inner.claim(name, holder, until, now).await
    }
    async fn release_claim(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        self.inner.release_claim(name, holder).await
    }
    async fn record_legacy_placements(&self, digests: &[String]) -> Result<u64, StoreError> {
        self.inner.record_legacy_placements(digests).await
    }
    async fn recorded_legacy_placements(
        &self,
        digests: &[String],
    ) -> Result<std::collections::BTreeSet<String>, StoreError> {
        self.inner.recorded_legacy_placements(digests).await
    }
    async fn claims(
        &self,
        prefix: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<vault::Claim>, StoreError> {
        self.inner.claims(prefix, now).await
    }
}

pub async fn an_interrupted_rotation_resumes_where_it_stopped<B: RecordBackend>(vault: &Vault<B>) {
    let accounts = populate(vault, 12).await;
    vault
        .add_primary_key(key_id("kid1"), &KeyMaterial::generate())
        .unwrap();
    let crashing = Vault::new(
        SwapControl::failing_after(vault.backend(), 5),
        (*vault.keyring()).clone(),
    );
    let error = crashing.rotate(3).await.unwrap_err();
    assert!(error.to_string().contains("simulated crash"));
    let old = key_id("kid0");
    let left = sealed_under(vault, &old).await;
    assert!(left > 0, "the crash should leave work to do");

    let report = vault.rotate(3).await.unwrap();
    assert_eq!(report.rows, 12 + 4 - 5, "{report:?}");
    assert_eq!(report.fields, left);
    assert_eq!(sealed_under(vault, &old).await, 0);
    assert_all_intact(vault, &accounts).await;
}

/// A credential update landing between rotation's read of a row and its swap must survive: the
/// swap sees the row changed and leaves it (deterministically, by pausing before the swap).
pub async fn an_update_between_rotations_read_and_swap_is_kept<B: RecordBackend>(vault: &Vault<B>) {
    let owner = user();
    let id = vault
        .create_account(owner, &angel_one("BEFORE"))
        .await
        .unwrap()
        .id;
    vault
        .add_primary_key(key_id("kid1"), &KeyMaterial::generate())
        .unwrap();
    let (reached, swap_reached) = tokio::sync::oneshot::channel();
    let (let_swap_go, resume) = tokio::sync::oneshot::channel();
    let rotating = Vault::new(
        SwapControl::pausing_before_first_swap(
            vault.backend(),
            PauseBeforeSwap { reached, resume },
        ),
        (*vault.keyring()).clone(),
    );
    let update_during_swap = async {
        swap_reached.await.unwrap();
        vault
            .update_credentials(owner, id, &angel_one("DURING"))
            .await
            .unwrap();
        let_swap_go.send(()).unwrap();
    };
    let (rotation, ()) = tokio::join!(rotating.rotate(10), update_during_swap);
    rotation.unwrap();
    let stored = vault.credentials(owner, id).await.unwrap();
    assert_eq!(exposed(&stored), exposed(&angel_one("DURING")));
    assert_eq!(sealed_under(vault, &key_id("kid0")).await, 0);
}

/// A row whose ciphertexts were moved from another account (so they no longer open) is skipped
/// and counted; every other row is rotated, and the old key stays in use until it is repaired.
pub async fn one_tampered_row_does_not_stop_rotation<B: RecordBackend>(vault: &Vault<B>) {
    let owner = user();
    let mut ids = Vec::new();
    for tag in ["a", "b", "c"] {
        ids.push(vault.create_account(owner, &zerodha(tag)).await.unwrap().id);
    }
    let backend = vault.backend();
    let moved = backend
        .account(owner, ids[0])
        .await
        .unwrap()
        .unwrap()
        .secrets;
    backend
        .update_account(owner, ids[1], &AccountChange::Secrets(moved))
        .await
        .unwrap();
    vault
        .add_primary_key(key_id("kid1"), &KeyMaterial::generate())
        .unwrap();
    let report = vault.rotate(2).await.unwrap();
    assert_eq!((report.rows, report.unreadable), (2, 1), "{report:?}");
    for id in [ids[0], ids[2]] {
        vault.credentials(owner, id).await.unwrap();
    }
    assert!(matches!(
        vault.remove_key(&key_id("kid0")).await,
        Err(StoreError::KeyInUse { .. })
    ));
}

/// What the legacy Edge Function stored: base64(IV ‖ ciphertext ‖ tag), no associated data.
fn web_crypto_seal(key: &[u8; 32], plaintext: &str) -> String {
    let cipher = Aes256Gcm::new_from_slice(key).unwrap();
    let iv = Aes256Gcm::generate_nonce(&mut OsRng);
    let sealed = cipher.encrypt(&iv, plaintext.as_bytes()).unwrap();
    STANDARD.encode([iv.as_slice(), &sealed].concat())
}

/// Stores one Zerodha account per tag for `owner`, its key and secret sealed by the legacy
/// platform under `legacy_key`, as the platform's table holds them, and adopts them (records
/// their places).
async fn insert_legacy_accounts<'a, B: RecordBackend>(
    vault: &Vault<B>,
    legacy_key: &[u8; 32],
    owner: UserId,
    tags: &[&'a str],
) -> Vec<(AccountId, &'a str)> {
    let mut ids = Vec::new();
    for tag in tags {
        let mut secrets = SealedFields::new();
        secrets.insert(
            Field::ApiKey,
            web_crypto_seal(legacy_key, &format!("kiteKEY{tag}")),
        );
        secrets.insert(
            Field::ApiSecret,
            web_crypto_seal(legacy_key, &format!("kiteSECRET{tag}")),
        );
        let account = BrokerAccount::new(owner, BrokerKind::Zerodha);
        ids.push((account.id, *tag));
        vault
            .backend()
            .insert_accounts(&[AccountRecord { account, secrets }])
            .await
            .unwrap();
    }
    // The legacy table is adopted as it stands now.
    let placements = vault.record_legacy_placements().await.unwrap();
    assert_eq!(placements.duplicated, 0);
    ids
}

fn legacy_decryptor(legacy_key: &[u8; 32]) -> LegacyDecryptor {
    LegacyDecryptor::from_base64_key(
        &STANDARD.encode(legacy_key).into(),
        LegacyFormat::ConcatenatedBase64,
    )
    .unwrap()
}

/// Giving a row to another user in the storage (SQL `UPDATE ... SET user_id`, or an edit of the
/// store file) does not give them its credentials or session: v2 envelopes bind the owner.
pub async fn a_row_moved_to_another_user_does_not_open_for_them<B: RecordBackend + MoveRow>(
    vault: &Vault<B>,
) {
    let (owner, thief) = (user(), user());
    let id = vault
        .create_account(owner, &angel_one("MOVED"))
        .await
        .unwrap()
        .id;
    vault
        .save_session(owner, id, &session("MOVED"))
        .await
        .unwrap();
    vault.backend().move_to_user(id, thief).await;
    assert!(vault.account(thief, id).await.unwrap().is_some());
    let error = vault.credentials(thief, id).await.unwrap_err();
    assert!(
        matches!(error, StoreError::Decrypt { account, .. } if account == id),
        "{error}"
    );
    assert!(matches!(
        vault.session(thief, id).await.unwrap_err(),
        StoreError::Decrypt { .. }
    ));
    // Given back, it opens again.
    vault.backend().move_to_user(id, owner).await;
    let opened = vault.credentials(owner, id).await.unwrap();
    assert_eq!(exposed(&opened), exposed(&angel_one("MOVED")));
}

/// A version 1 envelope, built by hand from its documented layout: it binds the account,
/// broker, field and key id, not the owner.
fn v1_envelope(
    key: &[u8; 32],
    key_id: &str,
    account: AccountId,
    field: Field,
    text: &str,
) -> String {
    let mut aad = b"broker-vault/v1".to_vec();
    let account = account.as_uuid();
    for part in [
        &account.as_bytes()[..],
        BrokerKind::Zerodha.as_str().as_bytes(),
        field.as_str().as_bytes(),
        key_id.as_bytes(),
    ] {
        aad.push(u8::try_from(part.len()).unwrap());
        aad.extend_from_slice(part);
    }
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let sealed = Aes256Gcm::new_from_slice(key)
        .unwrap()
        .encrypt(
            &nonce,
            aes_gcm::aead::Payload {
                msg: text.as_bytes(),
                aad: &aad,
            },
        )
        .unwrap();
    let payload = [nonce.as_slice(), &sealed].concat();
    format!(
        "v1.{key_id}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload)
    )
}

/// Rows written before owners were bound (v1 envelopes) still open; `rotate` re-seals them as
/// v2 even though they are already under the primary key, and from then on moving the row to
/// another user makes it unreadable.
pub async fn rotation_reseals_v1_envelopes_as_v2_under_the_same_key<B: RecordBackend + MoveRow>(
    vault: &Vault<B>,
) {
    let key = [0x3c; 32];
    let material = KeyMaterial::from_base64("kidv1", &STANDARD.encode(key).into()).unwrap();
    vault.add_primary_key(key_id("kidv1"), &material).unwrap();
    let (owner, thief) = (user(), user());
    let account = BrokerAccount::new(owner, BrokerKind::Zerodha);
    let id = account.id;
    let mut secrets = SealedFields::new();
    for (field, text) in [
        (Field::ApiKey, "kiteKEYold"),
        (Field::ApiSecret, "kiteSECRETold"),
    ] {
        secrets.insert(field, v1_envelope(&key, "kidv1", id, field, text));
    }
    vault
        .backend()
        .insert_accounts(&[AccountRecord { account, secrets }])
        .await
        .unwrap();
    assert_eq!(
        exposed(&vault.credentials(owner, id).await.unwrap()),
        exposed(&zerodha("old"))
    );
    assert_eq!(vault.pending_reencryption().await.unwrap().older_keys, 1);

    let report = vault.rotate(10).await.unwrap();
    assert_eq!((report.rows, report.fields), (1, 2), "{report:?}");
    let record = vault.backend().account(owner, id).await.unwrap().unwrap();
    assert!(
        record
            .secrets
            .iter()
            .all(|(_, text)| text.starts_with("v2.kidv1.")),
        "{:?}",
        record.secrets
    );
    assert_eq!(
        exposed(&vault.credentials(owner, id).await.unwrap()),
        exposed(&zerodha("old"))
    );
    assert_eq!(vault.rotate(10).await.unwrap().rows, 0);

    vault.backend().move_to_user(id, thief).await;
    assert!(matches!(
        vault.credentials(thief, id).await.unwrap_err(),
        StoreError::Decrypt { .. }
    ));
}

/// With the legacy key loaded, a legacy ciphertext copied (after adoption) into another user's
/// row neither opens there nor is re-sealed as theirs: it is refused and counted, while the
/// original migrates. A value that sat in two places at adoption is recorded in neither.
pub async fn a_legacy_value_copied_into_another_users_row_is_refused_not_laundered<
    B: RecordBackend + Clone,
>(
    vault: &Vault<B>,
) {
    let legacy_key = [0x7e; 32];
    let (victim, thief) = (user(), user());
    let victim_ids = insert_legacy_accounts(vault, &legacy_key, victim, &["VICTIM"]).await;
    let thief_ids = insert_legacy_accounts(vault, &legacy_key, thief, &["THIEF"]).await;
    let (victim_id, thief_id) = (victim_ids[0].0, thief_ids[0].0);
    let backend = vault.backend();
    let stolen = backend
        .account(victim, victim_id)
        .await
        .unwrap()
        .unwrap()
        .secrets;
    backend
        .update_account(thief, thief_id, &AccountChange::Secrets(stolen.clone()))
        .await
        .unwrap();

    let migrating = Vault::new(backend.clone(), (*vault.keyring()).clone())
        .with_legacy(legacy_decryptor(&legacy_key));
    let error = migrating.credentials(thief, thief_id).await.unwrap_err();
    assert!(
        matches!(error, StoreError::LegacyNotInPlace { account, .. } if account == thief_id),
        "{error}"
    );
    assert!(
        !error
            .to_string()
            .contains(stolen.get(Field::ApiKey).unwrap())
    );
    let dry_run = migrating.migrate_legacy_dry_run(10).await.unwrap();
    assert_eq!((dry_run.rows, dry_run.misplaced), (1, 1), "{dry_run:?}");
    let report = migrating.migrate_legacy(10).await.unwrap();
    assert_eq!((report.rows, report.misplaced), (1, 1), "{report:?}");

    // The victim's own row migrated; the copy was not re-sealed as the thief's.
    let opened = vault.credentials(victim, victim_id).await.unwrap();
    assert_eq!(exposed(&opened), exposed(&zerodha("VICTIM")));
    let thiefs = backend.account(thief, thief_id).await.unwrap().unwrap();
    assert_eq!(thiefs.secrets, stolen);
    assert!(migrating.credentials(thief, thief_id).await.is_err());
    assert_eq!(vault.pending_reencryption().await.unwrap().legacy, 1);

    // Adopting again records neither the copy (its original was recorded elsewhere) nor a
    // ciphertext that sits in two places now: in both rows.
    let mut twice = SealedFields::new();
    twice.insert(Field::ApiKey, web_crypto_seal(&legacy_key, "kiteKEYtwice"));
    twice.insert(
        Field::ApiSecret,
        web_crypto_seal(&legacy_key, "kiteSECRETtwice"),
    );
    let mut copies = Vec::new();
    for _ in 0..2 {
        let account = BrokerAccount::new(user(), BrokerKind::Zerodha);
        copies.push((account.user_id, account.id));
        backend
            .insert_accounts(&[AccountRecord {
                account,
                secrets: twice.clone(),
            }])
            .await
            .unwrap();
    }
    let placements = vault.record_legacy_placements().await.unwrap();
    assert_eq!(
        (placements.recorded, placements.duplicated),
        (0, 2 + 4),
        "{placements:?}"
    );
    for (owner, id) in copies {
        assert!(matches!(
            migrating.credentials(owner, id).await.unwrap_err(),
            StoreError::LegacyNotInPlace { .. }
        ));
    }
}

/// The progress callbacks see the cumulative report after every batch, and the pending counts
/// are the totals they reach.
pub async fn rotation_and_migration_report_progress_per_batch<B: RecordBackend + Clone>(
    vault: &Vault<B>,
) {
    // 5 account rows and 2 session rows (accounts 0 and 3).
    populate(vault, 5).await;
    let legacy_key = [0x6b; 32];
    insert_legacy_accounts(vault, &legacy_key, user(), &["P1", "P2", "P3"]).await;
    let pending = vault.pending_reencryption().await.unwrap();
    assert_eq!((pending.older_keys, pending.legacy), (0, 3), "{pending:?}");

    vault
        .add_primary_key(key_id("kid1"), &KeyMaterial::generate())
        .unwrap();
    let pending = vault.pending_reencryption().await.unwrap();
    assert_eq!((pending.older_keys, pending.legacy), (7, 3), "{pending:?}");

    let mut seen = Vec::new();
    let report = vault
        .rotate_with_progress(2, |so_far| seen.push((so_far.rows, so_far.fields)))
        .await
        .unwrap();
    // Accounts in batches of 2, 2 and 1, then both sessions in one batch; account order is by
    // (random) id, so only the totals of fields are known: 3 Angel One x 5, 2 Zerodha x 2,
    // 2 sessions x 3.
    let rows: Vec<u64> = seen.iter().map(|(rows, _)| *rows).collect();
    assert_eq!(rows, [2, 4, 5, 7], "{seen:?}");
    assert!(
        seen.windows(2).all(|pair| pair[0].1 < pair[1].1),
        "{seen:?}"
    );
    assert_eq!(report.fields, 3 * 5 + 2 * 2 + 2 * 3);
    assert_eq!(seen.last().copied(), Some((report.rows, report.fields)));
    assert_eq!(report.rows, pending.older_keys);
    assert_eq!(vault.pending_reencryption().await.unwrap().older_keys, 0);

    let migrating = Vault::new(vault.backend().clone(), (*vault.keyring()).clone())
        .with_legacy(legacy_decryptor(&legacy_key));
    let mut rows_seen = Vec::new();
    let report = migrating
        .migrate_legacy_with_progress(2, |so_far| rows_seen.push(so_far.rows))
        .await
        .unwrap();
    assert_eq!(rows_seen, [2, 3]);
    assert_eq!((report.rows, report.fields), (3, 6));
    assert_eq!(vault.pending_reencryption().await.unwrap().legacy, 0);
}

pub async fn legacy_ciphertexts_are_readable_then_migrated_to_v2<B: RecordBackend + Clone>(
    vault: &Vault<B>,
) {
    let legacy_key = [0x5a; 32];
    let owner = user();
    let ids = insert_legacy_accounts(vault, &legacy_key, owner, &["L1", "L2", "L3"]).await;
    let v1_account = vault
        .create_account(owner, &zerodha("V1"))
        .await
        .unwrap()
        .id;

    // Without the legacy key configured, legacy rows do not open.
    assert!(matches!(
        vault.credentials(owner, ids[0].0).await.unwrap_err(),
        StoreError::Decrypt { .. }
    ));

    let migrating = Vault::new(vault.backend().clone(), (*vault.keyring()).clone())
        .with_legacy(legacy_decryptor(&legacy_key));
    for (id, tag) in &ids {
        let opened = migrating.credentials(owner, *id).await.unwrap();
        assert_eq!(exposed(&opened), exposed(&zerodha(tag)));
    }
    // A failed dry run says whether the layout or the key is wrong.
    for (decryptor, expected_malformed) in [
        (
            LegacyDecryptor::from_base64_key(
                &STANDARD.encode(legacy_key).into(),
                LegacyFormat::IvColonCiphertext,
            )
            .unwrap(),
            3,
        ),
        (legacy_decryptor(&[0x01; 32]), 0),
    ] {
        let misconfigured =
            Vault::new(vault.backend().clone(), (*vault.keyring()).clone()).with_legacy(decryptor);
        let report = misconfigured.migrate_legacy_dry_run(2).await.unwrap();
        assert_eq!(
            (report.rows, report.unreadable, report.malformed),
            (0, 3, expected_malformed),
            "{report:?}"
        );
    }
    let stored_before = vault.backend().ciphertexts_per_key().await.unwrap();
    let dry_run = migrating.migrate_legacy_dry_run(2).await.unwrap();
    assert_eq!(
        (dry_run.rows, dry_run.fields, dry_run.unreadable),
        (3, 6, 0),
        "{dry_run:?}"
    );
    assert_eq!(
        vault.backend().ciphertexts_per_key().await.unwrap(),
        stored_before,
        "the dry run wrote"
    );
    let report = migrating.migrate_legacy(2).await.unwrap();
    assert_eq!((report.rows, report.fields), (3, 6), "{report:?}");

    // Now everything opens without the legacy key, and every field is a v1 envelope.
    for (id, tag) in &ids {
        let opened = vault.credentials(owner, *id).await.unwrap();
        assert_eq!(exposed(&opened), exposed(&zerodha(tag)));
        let record = vault.backend().account(owner, *id).await.unwrap().unwrap();
        assert!(
            record
                .secrets
                .iter()
                .all(|(_, text)| text.starts_with("v2.kid0."))
        );
    }
    let untouched = vault.credentials(owner, v1_account).await.unwrap();
    assert_eq!(exposed(&untouched), exposed(&zerodha("V1")));
    assert_eq!(migrating.migrate_legacy(2).await.unwrap().rows, 0);
}

pub async fn debug_output_never_shows_secrets<B: RecordBackend>(vault: &Vault<B>) {
    let owner = user();
    let id = vault
        .create_account(owner, &angel_one("LEAK"))
        .await
        .unwrap()
        .id;
    vault
        .save_session(owner, id, &session("LEAK"))
        .await
        .unwrap();
    let credentials = vault.credentials(owner, id).await.unwrap();
    let tokens = vault.session(owner, id).await.unwrap().unwrap();
    let record = vault.backend().account(owner, id).await.unwrap().unwrap();
    let session_record = vault.backend().session(owner, id).await.unwrap().unwrap();
    let printed = format!(
        "{credentials:?} {tokens:?} {record:?} {record:#?} {session_record:?} {vault:?} {:?}",
        vault.keyring()
    );
    for secret in [
        "angelKEYLEAK",
        "angelSECRETLEAK",
        MPIN,
        TOTP_SECRET,
        "eyJaccessLEAK",
        "refreshLEAK",
        "feedLEAK",
    ] {
        assert!(!printed.contains(secret), "{secret} leaked in {printed}");
    }
    // Ciphertexts are not printed either, only the key that sealed them.
    let envelope = record.secrets.get(Field::Mpin).unwrap();
    assert!(!printed.contains(envelope));
    assert!(printed.contains("kid0"));
}

/// Everything the global subscriber wrote, from every thread (`spawn_blocking` workers and
/// other tests included: a secret logged anywhere in the process is a leak).
static ALL_LOGS: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

struct GlobalLogs;

impl std::io::Write for GlobalLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        ALL_LOGS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs a global TRACE subscriber once (a scoped one per test would race with other tests
/// over tracing's per-callsite interest cache and sometimes miss events, and would not see
/// other threads) and returns where the logs written from now on start.
fn start_capturing_logs() -> usize {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(|| GlobalLogs)
            .init();
    });
    ALL_LOGS.lock().unwrap().len()
}

fn logs_since(start: usize) -> String {
    String::from_utf8_lossy(&ALL_LOGS.lock().unwrap()[start..]).into_owned()
}

pub async fn logs_never_contain_secrets<B: RecordBackend>(vault: &Vault<B>) {
    let start = start_capturing_logs();
    let owner = user();
    let id = vault
        .create_account(owner, &angel_one("LOGGED"))
        .await
        .unwrap()
        .id;
    vault
        .update_credentials(owner, id, &angel_one("LOGGED2"))
        .await
        .unwrap();
    vault
        .save_session(owner, id, &session("LOGGED"))
        .await
        .unwrap();
    vault.credentials(owner, id).await.unwrap();
    vault.session(owner, id).await.unwrap();
    vault
        .add_primary_key(key_id("kid1"), &KeyMaterial::generate())
        .unwrap();
    vault.rotate(10).await.unwrap();

    let printed = logs_since(start);
    assert!(
        printed.contains("account stored"),
        "nothing was logged: {printed}"
    );
    for secret in [
        "angelKEYLOGGED",
        "angelSECRETLOGGED",
        MPIN,
        TOTP_SECRET,
        "eyJaccessLOGGED",
        "refreshLOGGED",
        "feedLOGGED",
        "v1.kid",
        "v2.kid",
    ] {
        assert!(!printed.contains(secret), "{secret} leaked in {printed}");
    }
}

pub async fn every_status_is_stored<B: RecordBackend>(vault: &Vault<B>) {
    let owner = user();
    let account = vault.create_account(owner, &angel_one("s")).await.unwrap();
    for status in [
        AccountStatus::IpNotWhitelisted,
        AccountStatus::InvalidCredentials,
        AccountStatus::InvalidTotp,
        AccountStatus::BrokerUnreachable,
        AccountStatus::Active,
    ] {
        vault.set_status(owner, account.id, status).await.unwrap();
        let stored = vault.account(owner, account.id).await.unwrap().unwrap();
        assert_eq!(stored.status, status);
    }
}

pub async fn claims_are_exclusive_until_released_or_lapsed<B: RecordBackend>(vault: &Vault<B>) {
    use chrono::SubsecRound;
    use vault::ClaimOutcome;
    let store: &dyn CredentialStore = vault;
    // Microseconds: what Postgres keeps.
    let now = Utc::now().trunc_subsecs(6);
    let later = now + chrono::Duration::seconds(30);
    let name = format!("test:{}", uuid::Uuid::new_v4());
    assert_eq!(
        store.claim(&name, "a", later, now).await.unwrap(),
        ClaimOutcome::Granted
    );
    let ClaimOutcome::HeldBy(held) = store.claim(&name, "b", later, now).await.unwrap() else {
        panic!("a live claim of another holder must not be granted");
    };
    assert_eq!((held.holder.as_str(), held.until), ("a", later));
    // The holder renews its own claim.
    let renewed = later + chrono::Duration::seconds(30);
    assert!(
        store
            .claim(&name, "a", renewed, now)
            .await
            .unwrap()
            .is_granted()
    );
    assert!(!store.release_claim(&name, "b").await.unwrap());
    let listed = store.claims(&name, now).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].holder.as_str(), listed[0].until), ("a", renewed));
    // A lapsed claim is anyone's.
    let after_lapse = renewed + chrono::Duration::seconds(1);
    assert!(store.claims(&name, after_lapse).await.unwrap().is_empty());
    assert!(
        store
            .claim(
                &name,
                "b",
                after_lapse + chrono::Duration::seconds(5),
                after_lapse
            )
            .await
            .unwrap()
            .is_granted()
    );
    assert!(store.release_claim(&name, "b").await.unwrap());
    assert!(
        store
            .claim(&name, "c", later, now)
            .await
            .unwrap()
            .is_granted()
    );
}
