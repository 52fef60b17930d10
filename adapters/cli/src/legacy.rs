//! `brokerctl import-legacy`: the platform's Web Crypto ciphertexts re-sealed into the vault.

use vault::{LegacyDecryptor, LegacyFormat, RecordBackend, ReencryptReport, Vault};

use crate::context::{Globals, Store};
use crate::failure::{EXIT_INCOMPLETE, EXIT_KEY, Failure, Outcome};
use crate::output::{Progress, print_json};
use crate::secrets::SecretSource;

/// How the legacy platform laid out its ciphertexts.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Layout {
    /// Either layout, chosen per value.
    Detect,
    /// `base64(IV ‖ ciphertext ‖ tag)`.
    ConcatenatedBase64,
    /// `IV:ciphertext‖tag`, hex or base64.
    IvColonCiphertext,
}

/// Options of `import-legacy`.
#[derive(Debug, clap::Args)]
pub struct ImportLegacy {
    /// Only count: the rows and ciphertexts that would move, and those that do not open.
    #[arg(long)]
    pub dry_run: bool,
    /// Rows per batch.
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// The layout of the legacy ciphertexts.
    #[arg(long, value_enum, default_value_t = Layout::Detect)]
    pub layout: Layout,
    /// Where the secret `legacy_key` comes from: the platform's raw AES key, hex or base64.
    #[command(flatten)]
    pub secrets: SecretSource,
}

/// Runs `import-legacy`: always a dry run first; then, unless `--dry-run`, the real run.
/// Nothing is moved when any legacy row does not open with the key (a wrong key). Rows whose
/// legacy values are not in their adopted place are refused by the vault (counted as
/// misplaced; exit 6); only values recorded when the platform's table was adopted move.
pub async fn run(globals: &Globals, options: ImportLegacy) -> Outcome {
    let mut secrets = options.secrets.read(&["legacy_key"])?;
    let layout = match options.layout {
        Layout::Detect => LegacyFormat::Detect,
        Layout::ConcatenatedBase64 => LegacyFormat::ConcatenatedBase64,
        Layout::IvColonCiphertext => LegacyFormat::IvColonCiphertext,
    };
    let legacy = LegacyDecryptor::from_base64_key(&secrets.take("legacy_key"), layout)?;
    let store = globals
        .open_store_with(globals.keyring()?, Some(legacy))
        .await?;
    match &store {
        Store::File(vault) => import(globals, vault, &options).await,
        Store::Postgres(vault, _) => import(globals, vault, &options).await,
    }
}

async fn import<B: RecordBackend>(
    globals: &Globals,
    vault: &Vault<B>,
    options: &ImportLegacy,
) -> Outcome {
    let counted = vault.migrate_legacy_dry_run(options.batch).await?;
    report(globals, "dry run", &counted)?;
    if counted.unreadable > 0 {
        return Err(Failure::new(
            EXIT_KEY,
            format!(
                "{} legacy row(s) do not open with this key: nothing was moved (is it the platform's key?)",
                counted.unreadable
            ),
        ));
    }
    if options.dry_run {
        return misplaced(&counted);
    }
    let mut progress = Progress::new("moved rows", counted.rows + counted.unreadable);
    let moved = vault
        .migrate_legacy_with_progress(options.batch, |so_far| {
            progress.set(so_far.rows + so_far.unreadable);
        })
        .await?;
    progress.finish(moved.rows + moved.unreadable);
    report(globals, "moved", &moved)?;
    misplaced(&moved)
}

/// Rows refused because a legacy value in them is not where the platform's table held it
/// when it was adopted (copied from another row or column): left as they were, exit 6.
fn misplaced(report: &ReencryptReport) -> Outcome {
    if report.misplaced == 0 {
        return Ok(());
    }
    Err(Failure::new(
        EXIT_INCOMPLETE,
        format!(
            "{} row(s) hold a legacy value that is not where the adopted table held it: refused and left as they were",
            report.misplaced
        ),
    ))
}

fn report(globals: &Globals, what: &str, report: &ReencryptReport) -> Outcome {
    if globals.json {
        return print_json(&serde_json::json!({
            "step": what,
            "rows": report.rows,
            "ciphertexts": report.fields,
            "unreadable": report.unreadable,
            "misplaced": report.misplaced,
        }));
    }
    println!(
        "{what}: {} row(s), {} ciphertext(s); {} row(s) do not open, {} misplaced",
        report.rows, report.fields, report.unreadable, report.misplaced
    );
    Ok(())
}
