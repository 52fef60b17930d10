//! Key rotation and legacy migration: re-sealing stored ciphertexts under the primary key in
//! batches, while reads keep working (every key of the ring still opens its envelopes).

use std::collections::BTreeMap;

use crate::account::{AccountId, UserId};
use crate::backend::RecordBackend;
use crate::envelope::{Field, Place};
use crate::error::StoreError;
use crate::keyring::{KeyId, KeyMaterial, Keyring};
use crate::legacy::{ciphertext_digest, placement_digest};
use crate::record::{SealedFields, SealedRow, Staleness, Table};
use crate::vault::Vault;

/// A pass stops repeating after this many rounds of lost compare-and-swap races.
const MAX_PASSES: u32 = 8;

/// What a re-encryption pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReencryptReport {
    /// Rows rewritten.
    pub rows: u64,
    /// Ciphertexts re-sealed.
    pub fields: u64,
    /// Rows skipped because a concurrent write changed them first. Such a write seals under
    /// the primary key; rows still stale are retried in a further round (at most 8 rounds).
    pub conflicts: u64,
    /// Rows left as they were because a ciphertext in them does not open (tampered, moved, or
    /// sealed under a lost key); each is logged with its account id. They keep their key in
    /// use, so [`Vault::remove_key`] still refuses until they are repaired or deleted.
    pub unreadable: u64,
    /// Rows left as they were because a legacy ciphertext in them is not where the legacy
    /// table held it when it was adopted (copied from another row or column): refused, never
    /// re-sealed as this row's. Each is logged with its account id.
    pub misplaced: u64,
    /// Rounds over the tables.
    pub passes: u32,
}

/// What [`Vault::record_legacy_placements`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LegacyPlacements {
    /// Legacy ciphertexts whose place was recorded now (already recorded ones are not
    /// counted).
    pub recorded: u64,
    /// Legacy ciphertexts not recorded because they sit in more than one place (a copy cannot
    /// be told from its original, so neither will open or migrate), or because an earlier call
    /// recorded them in another place.
    pub duplicated: u64,
}

/// How much re-encryption work the store holds: rows, in both tables, that
/// [`Vault::rotate`] and [`Vault::migrate_legacy`] would visit. A progress display uses them as
/// its totals, against [`ReencryptReport::rows`] plus [`ReencryptReport::unreadable`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PendingReencryption {
    /// Rows with a ciphertext [`Vault::rotate`] re-seals: an envelope under a key other than
    /// the primary one.
    pub older_keys: u64,
    /// Rows with a legacy Web Crypto ciphertext, for [`Vault::migrate_legacy`].
    pub legacy: u64,
}

/// Whether a pass writes what it re-seals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Write,
    DryRun,
}

/// Which ciphertexts a pass rewrites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    OlderKeys,
    Legacy,
}

impl<B: RecordBackend> Vault<B> {
    /// Makes `id` the primary key for new encryptions; older keys keep opening their envelopes.
    /// Follow with [`Vault::rotate`].
    ///
    /// # Errors
    /// [`StoreError::Keyring`] when the id is already in the ring.
    pub fn add_primary_key(&self, id: KeyId, key: &KeyMaterial) -> Result<(), StoreError> {
        self.change_keyring(|keyring| keyring.with_new_primary(id, key))?;
        Ok(())
    }

    /// Removes an older key, refusing while any stored ciphertext is still sealed under it.
    ///
    /// # Errors
    /// [`StoreError::KeyInUse`] with the number of ciphertexts that still need it;
    /// [`StoreError::Keyring`] for the primary key or an id not in the ring.
    pub async fn remove_key(&self, id: &KeyId) -> Result<(), StoreError> {
        self.keyring().without(id)?;
        let references = self
            .backend
            .ciphertexts_per_key()
            .await?
            .get(id.as_str())
            .copied()
            .unwrap_or(0);
        if references > 0 {
            return Err(StoreError::KeyInUse {
                key: id.clone(),
                references,
            });
        }
        self.change_keyring(|keyring| keyring.without(id))?;
        Ok(())
    }

    /// Re-seals every envelope that is not a v2 envelope under the primary key (older keys,
    /// and v1 envelopes, which do not bind the owner), `batch_size` rows at a time.
    /// Resumable: an interrupted pass leaves finished rows under the primary key, and the next
    /// call only reads rows still stale. Each row is replaced by compare-and-swap, so a
    /// concurrent update is never overwritten.
    ///
    /// A row whose ciphertext does not open (tampered, or its key was lost) is skipped, logged
    /// and counted in [`ReencryptReport::unreadable`]; the others are still rotated.
    ///
    /// # Errors
    /// A storage error. Rows finished before the error stay finished.
    #[tracing::instrument(skip(self))]
    pub async fn rotate(&self, batch_size: usize) -> Result<ReencryptReport, StoreError> {
        self.rotate_with_progress(batch_size, |_| {}).await
    }

    /// [`Vault::rotate`], calling `on_batch` after each batch with the report so far
    /// (cumulative over the whole call), e.g. to move a progress bar whose total is
    /// [`PendingReencryption::older_keys`] from [`Vault::pending_reencryption`].
    ///
    /// # Errors
    /// As [`Vault::rotate`].
    #[tracing::instrument(skip(self, on_batch))]
    pub async fn rotate_with_progress(
        &self,
        batch_size: usize,
        on_batch: impl FnMut(&ReencryptReport) + Send,
    ) -> Result<ReencryptReport, StoreError> {
        self.reencrypt(Target::OlderKeys, batch_size, Mode::Write, on_batch)
            .await
    }

    /// Re-seals every legacy Web Crypto ciphertext as a v2 envelope under the primary key,
    /// with the same batching, resumability and compare-and-swap as [`Vault::rotate`].
    ///
    /// Rows that do not open are skipped and counted as for [`Vault::rotate`].
    ///
    /// # Errors
    /// [`StoreError::Decrypt`] when no legacy decryptor is configured, or a storage error.
    #[tracing::instrument(skip(self))]
    pub async fn migrate_legacy(&self, batch_size: usize) -> Result<ReencryptReport, StoreError> {
        self.migrate_legacy_with_progress(batch_size, |_| {}).await
    }

    /// [`Vault::migrate_legacy`], calling `on_batch` after each batch with the report so far
    /// (cumulative), for a progress bar whose total is [`PendingReencryption::legacy`].
    ///
    /// # Errors
    /// As [`Vault::migrate_legacy`].
    #[tracing::instrument(skip(self, on_batch))]
    pub async fn migrate_legacy_with_progress(
        &self,
        batch_size: usize,
        on_batch: impl FnMut(&ReencryptReport) + Send,
    ) -> Result<ReencryptReport, StoreError> {
        self.reencrypt(Target::Legacy, batch_size, Mode::Write, on_batch)
            .await
    }

    /// How many rows [`Vault::rotate`] and [`Vault::migrate_legacy`] would visit now (the
    /// totals for their progress callbacks). Reads every stale row once, writes nothing.
    ///
    /// # Errors
    /// A storage error.
    pub async fn pending_reencryption(&self) -> Result<PendingReencryption, StoreError> {
        let primary = self.keyring().primary_id().clone();
        Ok(PendingReencryption {
            older_keys: self
                .count_stale_rows(&Staleness::SealedUnderOtherKey(primary))
                .await?,
            legacy: self.count_stale_rows(&Staleness::Legacy).await?,
        })
    }

    async fn count_stale_rows(&self, stale: &Staleness) -> Result<u64, StoreError> {
        Ok(all_stale_rows(&self.backend, stale).await?.len() as u64)
    }

    /// Records where every legacy ciphertext sits now (account, owner, field), so that only a
    /// value still in its place opens or migrates; a legacy value later copied into another
    /// row or column is refused ([`StoreError::LegacyNotInPlace`], and counted in
    /// [`ReencryptReport::misplaced`]). A ciphertext found in more than one place is recorded
    /// nowhere. Run it once, when the legacy table is adopted and before anyone else may write
    /// it; [`crate::PostgresBackend`] runs it itself when it adopts the platform's table.
    /// Places recorded before are kept.
    ///
    /// # Errors
    /// A storage error.
    pub async fn record_legacy_placements(&self) -> Result<LegacyPlacements, StoreError> {
        record_legacy_placements(&self.backend).await
    }

    /// The first legacy field of `fields` (of `account`, owned by `user`) that is not where
    /// the legacy table held it when adopted.
    pub(crate) async fn misplaced_legacy_field(
        &self,
        (account, user): (AccountId, UserId),
        fields: &SealedFields,
    ) -> Result<Option<Field>, StoreError> {
        let legacy: Vec<(Field, String)> = fields
            .iter()
            .filter(|(_, text)| Staleness::Legacy.matches(text))
            .map(|(field, text)| (field, placement_digest(account, user, field, text)))
            .collect();
        if legacy.is_empty() {
            return Ok(None);
        }
        let digests: Vec<String> = legacy.iter().map(|(_, digest)| digest.clone()).collect();
        let recorded = self.backend.recorded_legacy_placements(&digests).await?;
        Ok(legacy
            .into_iter()
            .find(|(_, digest)| !recorded.contains(digest))
            .map(|(field, _)| field))
    }

    /// What [`Vault::migrate_legacy`] would do, without writing: the rows and ciphertexts it
    /// would re-seal (each one opened to prove it can be) and the rows it would skip as
    /// unreadable. Run it first and compare the counts with the table.
    ///
    /// # Errors
    /// As [`Vault::migrate_legacy`].
    #[tracing::instrument(skip(self))]
    pub async fn migrate_legacy_dry_run(
        &self,
        batch_size: usize,
    ) -> Result<ReencryptReport, StoreError> {
        self.reencrypt(Target::Legacy, batch_size, Mode::DryRun, |_| {})
            .await
    }

    async fn reencrypt(
        &self,
        target: Target,
        batch_size: usize,
        mode: Mode,
        mut on_batch: impl FnMut(&ReencryptReport) + Send,
    ) -> Result<ReencryptReport, StoreError> {
        let limit = batch_size.max(1);
        let mut report = ReencryptReport::default();
        while report.passes < MAX_PASSES {
            report.passes += 1;
            let keyring = self.keyring();
            let stale = match target {
                Target::OlderKeys => Staleness::SealedUnderOtherKey(keyring.primary_id().clone()),
                Target::Legacy => Staleness::Legacy,
            };
            let mut lost_races = 0;
            let mut unreadable = 0;
            let mut misplaced = 0;
            for table in [Table::Accounts, Table::Sessions] {
                let mut after = None;
                loop {
                    let rows = self.backend.stale_rows(table, &stale, after, limit).await?;
                    let Some(last) = rows.last() else { break };
                    after = Some(last.account_id);
                    for row in &rows {
                        if target == Target::Legacy {
                            let owner = (row.account_id, row.user_id);
                            if let Some(field) =
                                self.misplaced_legacy_field(owner, &row.fields).await?
                            {
                                let account = row.account_id;
                                tracing::warn!(%account, %field, "legacy migration refused a ciphertext that is not in its adopted place");
                                misplaced += 1;
                                continue;
                            }
                        }
                        let (fields, resealed) = match self.reseal(&keyring, row, &stale) {
                            Ok(resealed) => resealed,
                            // One bad row must not stop everyone's rotation. (Without a legacy
                            // decryptor nothing legacy opens: that is a configuration error.)
                            Err(error @ StoreError::Decrypt { .. })
                                if target == Target::OlderKeys || self.legacy.is_some() =>
                            {
                                tracing::warn!(%error, "re-encryption skipped an unreadable row");
                                unreadable += 1;
                                continue;
                            }
                            Err(error) => return Err(error),
                        };
                        if mode == Mode::DryRun || self.backend.replace_fields(row, &fields).await?
                        {
                            report.rows += 1;
                            report.fields += resealed;
                        } else {
                            lost_races += 1;
                        }
                    }
                    // A later pass meets the rows an earlier one found unreadable again.
                    report.unreadable = report.unreadable.max(unreadable);
                    report.misplaced = report.misplaced.max(misplaced);
                    on_batch(&ReencryptReport {
                        conflicts: report.conflicts + lost_races,
                        ..report
                    });
                }
            }
            report.conflicts += lost_races;
            // Every pass meets the same unreadable rows again: count them once.
            report.unreadable = unreadable;
            report.misplaced = misplaced;
            if lost_races == 0 {
                break;
            }
        }
        tracing::info!(
            rows = report.rows,
            fields = report.fields,
            conflicts = report.conflicts,
            unreadable = report.unreadable,
            misplaced = report.misplaced,
            "re-encryption pass done"
        );
        Ok(report)
    }

    /// The row's ciphertexts with every stale one re-sealed under the primary key, and how many
    /// were.
    fn reseal(
        &self,
        keyring: &Keyring,
        row: &SealedRow,
        stale: &Staleness,
    ) -> Result<(SealedFields, u64), StoreError> {
        let mut fields = SealedFields::new();
        let mut resealed = 0;
        for (field, ciphertext) in row.fields.iter() {
            if !stale.matches(ciphertext) {
                fields.insert(field, ciphertext.to_owned());
                continue;
            }
            let place = Place {
                account: row.account_id,
                user: row.user_id,
                broker: row.broker,
                field,
            };
            let secret = self.open_field(keyring, &place, ciphertext)?;
            let sealed = keyring
                .seal(&place, &secret)
                .map_err(|source| StoreError::Encrypt { field, source })?;
            fields.insert(field, sealed);
            resealed += 1;
        }
        Ok((fields, resealed))
    }
}

/// Every row of both tables with a ciphertext matching `stale`.
async fn all_stale_rows<B: RecordBackend + ?Sized>(
    backend: &B,
    stale: &Staleness,
) -> Result<Vec<SealedRow>, StoreError> {
    const PAGE: usize = 1_000;
    let mut all = Vec::new();
    for table in [Table::Accounts, Table::Sessions] {
        let mut after = None;
        loop {
            let rows = backend.stale_rows(table, stale, after, PAGE).await?;
            let Some(last) = rows.last() else { break };
            after = Some(last.account_id);
            all.extend(rows);
        }
    }
    Ok(all)
}

/// See [`Vault::record_legacy_placements`]. Besides each value's place, the digest of its
/// text is recorded, so that a later call never records a known ciphertext in a new place
/// (say a copy left behind after its original was migrated).
pub(crate) async fn record_legacy_placements<B: RecordBackend + ?Sized>(
    backend: &B,
) -> Result<LegacyPlacements, StoreError> {
    let rows = all_stale_rows(backend, &Staleness::Legacy).await?;
    let values: Vec<(&str, String, String)> = rows
        .iter()
        .flat_map(|row| {
            row.fields
                .iter()
                .filter(|(_, text)| Staleness::Legacy.matches(text))
                .map(|(field, text)| {
                    let place = placement_digest(row.account_id, row.user_id, field, text);
                    (text, place, ciphertext_digest(text))
                })
        })
        .collect();
    let mut places_per_text: BTreeMap<&str, u64> = BTreeMap::new();
    for (text, _, _) in &values {
        *places_per_text.entry(text).or_default() += 1;
    }
    let known: Vec<String> = values
        .iter()
        .flat_map(|(_, place, text)| [place.clone(), text.clone()])
        .collect();
    let known = backend.recorded_legacy_placements(&known).await?;
    let (recordable, refused): (Vec<_>, Vec<_>) =
        values.into_iter().partition(|(text, place, text_digest)| {
            places_per_text.get(text) == Some(&1)
                && (known.contains(place) || !known.contains(text_digest))
        });
    let digests: Vec<String> = recordable
        .into_iter()
        .flat_map(|(_, place, text)| [place, text])
        .collect();
    // Two digests per value.
    let recorded = backend.record_legacy_placements(&digests).await? / 2;
    let placements = LegacyPlacements {
        recorded,
        duplicated: refused.len() as u64,
    };
    if placements.duplicated > 0 {
        tracing::warn!(
            duplicated = placements.duplicated,
            "legacy ciphertexts found in more than one place: none of their places recorded"
        );
    }
    tracing::info!(recorded = placements.recorded, "legacy placements recorded");
    Ok(placements)
}
